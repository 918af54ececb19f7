// libFuzzer target: transform.json (from_json_text), the file rank 0 broadcasts and users edit.
// Invariants: an accepted file serialises to a text that parses to the same text again (fixed
// point), and the transform evaluates at the design's corners without UB.
#include <cstddef>
#include <cstdint>
#include <string>

#include "alinify/transform/transform_json.hpp"
#include "fuzz_common.hpp"

using namespace alinify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source = "fuzz.transform.json";
  const std::string text(reinterpret_cast<const char*>(data), size);
  transform::TransformFile f;
  try {
    f = transform::from_json_text(text, source);
  } catch (const Error& e) {
    fuzz::expect_bad_input(e, source);
    return 0;
  }
  const std::string once = transform::to_json_text(f);
  try {
    const std::string twice = transform::to_json_text(transform::from_json_text(once, source));
    fuzz::expect(once == twice, "to_json_text/from_json_text is not a fixed point");
  } catch (const Error& e) {
    fuzz::finding(std::string("to_json_text wrote a file from_json_text refuses: ") + e.what());
  }
  const double w = f.design.width > 0 ? static_cast<double>(f.design.width - 1) : 0.0;
  const double h = f.design.height > 0 ? static_cast<double>(f.design.height - 1) : 0.0;
  for (double x : {0.0, w * 0.5, w})
    for (double y : {0.0, h * 0.5, h}) (void)f.transform.apply({x, y});
  return 0;
}
