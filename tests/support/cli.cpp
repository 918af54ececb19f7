#include "support/cli.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <regex>

namespace alinify::test {

CommandResult run_command(const std::string& command_line) {
  CommandResult r;
  std::string cmd = command_line + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

namespace {

// `gdalinfo -checksum tif`, and the first group of every match of `pattern` in it, each followed by `separator`.
std::string gdalinfo_matches(const std::string& tif, const std::string& pattern, const std::string& separator,
                             std::string* output = nullptr) {
  auto r = run_command("gdalinfo -checksum " + quote(tif));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::regex re(pattern);
  std::string found;
  for (std::sregex_iterator it(r.output.begin(), r.output.end(), re), end; it != end; ++it)
    found += (*it)[1].str() + separator;
  if (output) *output = r.output;
  return found;
}

}  // namespace

std::string gdal_checksums(const std::string& tif, std::string* compression) {
  std::string output;
  const std::string sums = gdalinfo_matches(tif, "Checksum=([0-9]+)", " ", &output);
  std::smatch m;
  if (compression && std::regex_search(output, m, std::regex("COMPRESSION=([A-Z]+)"))) *compression = m[1].str();
  return sums;
}

std::string gdal_overview_checksums(const std::string& tif) {
  return gdalinfo_matches(tif, "Overviews checksum: ([0-9, ]+)", "; ");
}

std::string quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string alinify_bin() { return env_or("ALINIFY_BIN", ALINIFY_DEFAULT_BIN); }

CommandResult cli(const std::string& arguments) { return run_command(quote(alinify_bin()) + " " + arguments); }

bool running_as_root() { return geteuid() == 0; }

std::string mpirun(int ranks) {
  return std::string("mpirun --oversubscribe ") + (running_as_root() ? "--allow-run-as-root " : "") + "-np " +
         std::to_string(ranks) + " ";
}

void write_affine(const std::string& path, int w, int h, const std::string& matrix, const std::string& offset) {
  std::ofstream(path) << R"({"format":"alinify-transform","version":1,"design":{"width":)" << w << R"(,"height":)" << h
                      << R"(},"scan":{"width":)" << w << R"(,"height":)" << h
                      << R"(},"registration_factor":1,"preset":"hand","stages":[{"type":"affine","combine":"compose",)"
                      << R"("matrix":)" << matrix << R"(,"offset":)" << offset << "}]}";
}

void synth_pair(const ScratchDir& dir, int width, int height, int seed) {
  auto r = cli("synth --out-dir " + quote(dir.file("pair")) + " --width " + std::to_string(width) + " --height " +
               std::to_string(height) + " --seed " + std::to_string(seed));
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace alinify::test
