#pragma once
// Running the real alinify binary and other programs from a test, through a shell.
#include <string>

#include "support/files.hpp"

namespace alinify::test {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line (tests only; the product never uses a shell), capturing its output.
CommandResult run_command(const std::string& command_line);

// text as one shell word.
std::string quote(const std::string& text);

// The alinify binary under test (ALINIFY_BIN).
std::string alinify_bin();
// `alinify <arguments>`; the arguments are shell text, so quote() the paths in them.
CommandResult cli(const std::string& arguments);

// "mpirun ... -np <ranks> ", to put in front of a command. Open MPI refuses root without
// --allow-run-as-root, and the flag is given only then (as ./dev's mpirun_cmd does).
std::string mpirun(int ranks);
bool running_as_root();

// Every band's "Checksum=" of `gdalinfo -checksum tif`, space separated (the pixels, whatever the
// compression or layout), and the COMPRESSION it reports when `compression` is given.
std::string gdal_checksums(const std::string& tif, std::string* compression = nullptr);
// Every band's "Overviews checksum:" list of `gdalinfo -checksum tif` ("; " after each band): the
// overviews' pixels, level by level; empty without overviews.
std::string gdal_overview_checksums(const std::string& tif);

// A hand-written transform.json for a w x h design and scan of one affine stage: `matrix` and
// `offset` are JSON arrays as text ("[1,0,0,1]", "[3.25,-2.5]").
void write_affine(const std::string& path, int w, int h, const std::string& matrix, const std::string& offset);

// `alinify synth` of a width x height pair into dir/pair (design.tif, scan.tif, truth.json).
void synth_pair(const ScratchDir& dir, int width, int height, int seed = 3);

}  // namespace alinify::test
