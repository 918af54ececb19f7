#pragma once
// Option groups and their translation into jobs, shared by the subcommands (cli.cpp, cli_*.cpp).
#include <boost/program_options.hpp>
#include <string>

#include "alinify/job/pipeline.hpp"
#include "alinify/par/comm.hpp"
#include "app/options.hpp"

namespace alinify::app {

namespace po = boost::program_options;

struct Parsed {
  po::variables_map vm;
  bool help = false;  // --help was printed: the command has nothing more to do
};

// Parses args (after the command word) against `desc` + common options; INI from --config fills
// what the command line left unset. Usage errors throw alinify::Error (exit 1).
Parsed parse(const std::string& command, po::options_description desc, int argc, char** argv, par::Communicator& comm,
             const std::string& synopsis);

std::string req(const po::variables_map& vm, const char* name);
job::RegisterJob register_job(const po::variables_map& vm, const std::string& transform_out);
job::WarpJob warp_job(const po::variables_map& vm, const std::string& transform_path);
// `run` and each job of `batch`: both jobs, the registration showing the warp's --progress.
std::pair<job::RegisterJob, job::WarpJob> run_jobs(const po::variables_map& vm, const std::string& transform_out);
// --defects and its options (docs/defects.md) into the warp job; usage errors name the option.
void apply_defect_options(const po::variables_map& vm, job::WarpJob& w);

// Subcommands defined in other files of the app.
int cmd_batch(par::Communicator& comm, int argc, char** argv);

}  // namespace alinify::app
