#pragma once
// What every fuzz target asserts besides "no sanitizer report": a parser fails only with
// alinify::Error of kind bad input (exit 2) whose one-line message starts with the file's name.
// Anything else (another exception escapes, a wrong exit kind, a message not naming the file, a
// broken invariant of the result) is a finding: the target prints why and aborts, so libFuzzer
// saves the input as a crash artifact.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "alinify/core/error.hpp"

namespace alinify::fuzz {

[[noreturn]] inline void finding(const std::string& why) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", why.c_str());
  std::abort();
}

inline void expect(bool ok, const std::string& why) {
  if (!ok) finding(why);
}

inline void expect_bad_input(const Error& e, const std::string& source) {
  const std::string m = e.what();
  expect(e.code() == ExitCode::kBadInput,
         "exit kind " + std::to_string(static_cast<int>(e.code())) + " instead of bad input (2): " + m);
  expect(m.rfind(source + ":", 0) == 0, "message does not start with the file name: " + m);
  expect(m.find('\n') == std::string::npos, "message is not one line: " + m);
}

}  // namespace alinify::fuzz
