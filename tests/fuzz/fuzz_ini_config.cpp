// libFuzzer target: the INI text of --config, read with the real options of `alinify run`
// (app::store_config over Boost.Program_options' parse_config_file). A problem must be bad input
// naming the file; whatever is accepted must be readable as the option's type.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "app/options.hpp"
#include "fuzz_common.hpp"

using namespace alinify;
namespace po = boost::program_options;

namespace {

po::options_description run_options() {
  po::options_description d("run options");
  app::add_pair(d);
  d.add_options()("out", po::value<std::string>()->required(), "")("transform-out", po::value<std::string>(), "");
  d.add(app::register_options());
  d.add(app::warp_options());
  d.add(app::qa_options());
  d.add(app::common_options());
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const po::options_description desc = run_options();
  const std::string source = "fuzz.ini";
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  po::variables_map vm;
  // What the command line set wins over the file.
  static const std::vector<std::string> kArgs{"--interp", "bicubic"};
  po::store(po::command_line_parser(kArgs).options(desc).run(), vm);
  try {
    app::store_config(in, source, desc, vm);
  } catch (const Error& e) {
    fuzz::expect_bad_input(e, source);
    return 0;
  }
  fuzz::expect(vm["interp"].as<std::string>() == "bicubic", "the INI file overrode the command line");
  for (const auto& [key, value] : vm) fuzz::expect(!value.empty(), "option '" + key + "' stored without a value");
  return 0;
}
