#pragma once
// The option groups of the subcommands and the INI (--config) reader: the part of the app layer that
// needs nothing but Boost.Program_options and core, built as the library alinify_app_options so the
// fuzz target tests/fuzz/fuzz_ini_config.cpp reaches the real INI parsing with the real options.
#include <boost/program_options.hpp>
#include <istream>
#include <string>
#include <vector>

namespace alinify::app {

namespace po = boost::program_options;

po::options_description common_options();
po::options_description register_options();
po::options_description warp_options();
po::options_description qa_options();
po::options_description defect_options();
// The defect stage's tuning options (all of defect_options but --defects); `stem` names the
// outputs in --defect-map's help (<out stem>, PREFIX).
void add_defect_tuning(po::options_description& d, const std::string& stem);
void add_pair(po::options_description& d);

// Position of the first "%name%" sequence in s (npos if none). Boost.Program_options loops forever
// formatting an error about a token that holds one, so such text is refused before Boost sees it.
size_t find_boost_placeholder(const std::string& s);
// Usage error (exit 1) naming the first argument that holds a %name% sequence.
void refuse_boost_placeholders(const std::vector<std::string>& args, const std::string& command);

// Stores the options of an INI text (--config) into vm; what vm already holds (the command line)
// wins. Any problem of the text is bad input naming `path` (alinify::Error, exit 2).
void store_config(std::istream& in, const std::string& path, const po::options_description& desc,
                  po::variables_map& vm);

}  // namespace alinify::app
