// core/files: the one safe-write and read-whole-file helpers, including how they fail.
#include "alinify/core/files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "alinify/core/error.hpp"
#include "support/files.hpp"

namespace alinify::files {
namespace {
namespace fs = std::filesystem;

// The names in a folder, to show that a failed write left nothing behind.
std::vector<std::string> names_in(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

template <class F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(ExitCode::kOk, "");
}

TEST(Files, TemporaryNameIsOfThisProcess) {
  EXPECT_EQ(temporary_name("out/a.json"), "out/a.json.partial." + std::to_string(::getpid()));
}

// A writer killed with -9 leaves its temporaries; the next holder of the output's lock removes them
// and nothing else: not the lock file, not another output whose name starts alike.
TEST(Files, RemoveLeftoversOfTakesOnlyWhatAKilledWriterOfThatPathLeft) {
  alinify::test::ScratchDir dir("files-leftovers");
  for (const char* name :
       {"a.json", "a.json.partial", "a.json.partial.4242", "a.json.partial.4242.aux.xml", "a.json.partial-compressed",
        "a.json.partial.x2", "a.json.partial.x2.3", "a.json.part", "a.jsonl.partial.4242", "b.json.partial.4242"})
    alinify::test::write_file(dir.file(name), "x");
  remove_leftovers_of(dir.file("a.json"));
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"a.json", "a.json.part", "a.json.partial",
                                                            "a.jsonl.partial.4242", "b.json.partial.4242"}));
  remove_leftovers_of(dir.file("missing/c.json"));  // a folder that is not there: nothing to do
}

TEST(Files, RemoveLeftoversInTakesEveryTemporaryOfTheFolder) {
  alinify::test::ScratchDir dir("files-leftovers-in");
  for (const char* name :
       {"thumbnail.png", "thumbnail.png.partial.17", "grid.png.partial.17.aux.xml", "partial.png", "x.partial"})
    alinify::test::write_file(dir.file(name), "x");
  remove_leftovers_in(dir.path().string());
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"partial.png", "thumbnail.png", "x.partial"}));
  remove_leftovers_in(dir.file("missing"));
}

TEST(Files, WriteAtomicallyWritesEveryByteAndNothingElse) {
  alinify::test::ScratchDir dir("files-write");
  const std::string path = dir.file("a.bin");
  static const char kBytes[] = "text\0with a zero byte\n\xff";
  const std::string bytes(kBytes, sizeof kBytes - 1);  // every byte but the literal's own terminator
  write_atomically(path, bytes);
  EXPECT_EQ(read_file(path), bytes);
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"a.bin"});
  // A second write replaces the whole file, a shorter text included.
  write_atomically(path, std::string("short"));
  EXPECT_EQ(read_file(path), "short");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"a.bin"});
}

TEST(Files, WriteAtomicallyStreamsPieceByPiece) {
  alinify::test::ScratchDir dir("files-stream");
  const std::string path = dir.file("rows.csv");
  write_atomically(path, [](std::ostream& out) {
    for (int i = 0; i < 3; ++i) out << i << ',' << i * i << '\n';
  });
  EXPECT_EQ(read_file(path), "0,0\n1,1\n2,4\n");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"rows.csv"});
}

TEST(Files, UnwritableFolderLeavesNothingBehind) {
  // Nobody, root included, creates a file in /proc: the temporary file cannot be made.
  const std::string path = "/proc/self/alinify-files-test.json";
  const Error e = error_of([&] { write_atomically(path, std::string("{}")); });
  EXPECT_EQ(e.code(), ExitCode::kRuntime);
  EXPECT_EQ(std::string(e.what()), "cannot write " + path + " (disk full?)");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(temporary_name(path)));
}

TEST(Files, FailedRenameRemovesTheTemporaryFile) {
  alinify::test::ScratchDir dir("files-rename");
  // The target is a folder that is not empty: the temporary file is written, the rename fails.
  const std::string path = dir.file("taken");
  fs::create_directories(path);
  std::ofstream(dir.file("taken/keep")) << "x";
  const Error e = error_of([&] { write_atomically(path, std::string("text"), "the message of the caller"); });
  EXPECT_EQ(e.code(), ExitCode::kRuntime);
  EXPECT_EQ(std::string(e.what()), "the message of the caller");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"taken"});
  EXPECT_EQ(read_file(dir.file("taken/keep")), "x");
}

TEST(Files, FailedStreamRemovesTheTemporaryFile) {
  alinify::test::ScratchDir dir("files-stream-fail");
  const std::string path = dir.file("out.txt");
  const Error e = error_of([&] {
    write_atomically(path, [](std::ostream& out) {
      out << "half";
      out.setstate(std::ios::badbit);  // as a full disk does
    });
  });
  EXPECT_EQ(e.code(), ExitCode::kRuntime);
  EXPECT_EQ(std::string(e.what()), "cannot write " + path + " (disk full?)");
  EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST(Files, WritersOwnErrorPassesOnAndRemovesTheTemporaryFile) {
  alinify::test::ScratchDir dir("files-writer-throws");
  const std::string path = dir.file("out.csv");
  write_atomically(path, std::string("old\n"));
  const Error e = error_of([&] {
    write_atomically(path, [&](std::ostream& out) {
      out << "new\n";
      fail_input("in.csv", "line 2: not a number");
    });
  });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(std::string(e.what()), "in.csv: line 2: not a number");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"out.csv"});
  EXPECT_EQ(read_file(path), "old\n") << "a failed write must not touch the file it would replace";
}

TEST(Files, MoveIntoPlaceFailureRemovesTheTemporaryFile) {
  alinify::test::ScratchDir dir("files-move");
  const std::string temporary = dir.file("made-by-a-library.partial");
  std::ofstream(temporary) << "picture";
  const Error e = error_of([&] { move_into_place(temporary, dir.file("no-such-folder/picture.png"), "no place"); });
  EXPECT_EQ(e.code(), ExitCode::kRuntime);
  EXPECT_EQ(std::string(e.what()), "no place");
  EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST(Files, ReadFileNamesTheFileAndTheProblem) {
  alinify::test::ScratchDir dir("files-read");
  const std::string missing = dir.file("missing.json");
  Error e = error_of([&] { read_file(missing, "the truth file"); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(std::string(e.what()), missing + ": cannot open the truth file");
  e = error_of([&] { read_file(missing); });
  EXPECT_EQ(std::string(e.what()), missing + ": cannot be read");
  // A folder opens but does not read.
  e = error_of([&] { read_file(dir.path().string(), "the truth file"); });
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(std::string(e.what()), dir.path().string() + ": cannot read the truth file");
}

TEST(Files, TryReadFileIsNothingWhenTheFileCannotBeRead) {
  alinify::test::ScratchDir dir("files-try-read");
  EXPECT_FALSE(try_read_file(dir.file("missing.log")).has_value());
  EXPECT_FALSE(try_read_file(dir.path().string()).has_value());
  std::ofstream(dir.file("elastix.log")) << "line 1\nline 2\n";
  EXPECT_EQ(try_read_file(dir.file("elastix.log")).value_or("?"), "line 1\nline 2\n");
  std::ofstream(dir.file("empty.log")).flush();
  EXPECT_EQ(try_read_file(dir.file("empty.log")).value_or("?"), "");
}

}  // namespace
}  // namespace alinify::files
