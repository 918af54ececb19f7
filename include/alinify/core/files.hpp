#pragma once
// Whole files in and out: the one safe-write (temporary name, fsync, rename) and the one
// read-whole-file of the project. A reader of a file written here sees the old file or the whole
// new one, never a part, and a failed write leaves nothing behind.
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace alinify::files {

// "<path>.partial.<pid>": a name of this process only, so two jobs writing the same path never
// share (or remove) each other's temporary file.
std::string temporary_name(const std::string& path);

// What a writer killed with -9 (a preempted node, an OOM kill) left of `path`: files named
// "<path>.partial" followed by '.' or '-' and more: its temporary_name (and the .aux.xml GDAL may
// put beside one), the image output's staging (<out>.partial-compressed, <out>.partial.x2[.n]).
// "<path>.partial" itself stays: it is the output's lock file (io/output_lock.hpp). Only the holder
// of the output's lock may call this: a live writer's temporaries have the same names.
void remove_leftovers_of(const std::string& path);

// The same for every file directly in `folder`, a folder one job owns (its QA pictures, its elastix
// files): every name with ".partial." or ".partial-" in it. Nothing when the folder does not exist.
void remove_leftovers_in(const std::string& folder);

// Flushes `temporary` to the disk and renames it to `path`. On failure removes `temporary` and
// throws a runtime error with the message `failure`.
void move_into_place(const std::string& temporary, const std::string& path, const std::string& failure);

// Writes `text` to `path` through temporary_name(path) and move_into_place. Any failure removes the
// temporary file and throws a runtime error: `failure`, or "cannot write <path> (disk full?)" when
// it is empty.
void write_atomically(const std::string& path, std::string_view text, const std::string& failure = {});

// The same for a file written piece by piece (no copy of it in memory): `write` fills the stream.
// `write` is called even when the temporary file could not be created (the stream is then failed),
// so that it may throw its own error; an exception from `write` removes the temporary file and
// passes on unchanged.
void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write,
                      const std::string& failure = {});

// The whole file as bytes. Bad input naming the file otherwise: "cannot open <what>" and "cannot
// read <what>", or "cannot be read" for both when `what` is empty.
std::string read_file(const std::string& path, const std::string& what = {});

// The whole file, or nothing when it cannot be opened or read (a log that may not exist yet).
std::optional<std::string> try_read_file(const std::string& path);

}  // namespace alinify::files
