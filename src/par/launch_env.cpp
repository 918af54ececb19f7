#include "alinify/par/launch_env.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace alinify::par {
namespace {

std::string trimmed(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return {};
  return s.substr(a, s.find_last_not_of(" \t\r") - a + 1);
}

// Whether a parameter file gives `pml` an include list (`pml = ucx`); an exclusion list
// (`pml = ^ucx`, Debian's default file) still lets Open MPI take ob1.
bool includes_a_pml(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    line = trimmed(line.substr(0, line.find('#')));
    const size_t eq = line.find('=');
    if (eq == std::string::npos || trimmed(line.substr(0, eq)) != "pml") continue;
    const std::string value = trimmed(line.substr(eq + 1));
    if (!value.empty() && value[0] != '^') return true;
  }
  return false;
}

}  // namespace

std::string pml_for_this_launch(const std::function<const char*(const char*)>& env,
                                const std::vector<std::string>& param_files) {
  const char* world = env("OMPI_COMM_WORLD_SIZE");
  const char* local = env("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (!world || !local || std::string(world) != local) return {};  // not mpirun, or more than this node
  if (env("OMPI_MCA_pml")) return {};
  for (const std::string& text : param_files)
    if (includes_a_pml(text)) return {};
  return "ob1";
}

void choose_pml_before_init() {
  std::vector<std::string> files;
  std::vector<std::string> paths{"/etc/openmpi/openmpi-mca-params.conf"};
  if (const char* home = std::getenv("HOME")) paths.push_back(std::string(home) + "/.openmpi/mca-params.conf");
  for (const std::string& p : paths) {
    std::ifstream f(p);
    if (!f) continue;
    std::ostringstream text;
    text << f.rdbuf();
    files.push_back(text.str());
  }
  const std::string pml = pml_for_this_launch([](const char* name) { return std::getenv(name); }, files);
  if (!pml.empty()) setenv("OMPI_MCA_pml", pml.c_str(), 0);
}

}  // namespace alinify::par
