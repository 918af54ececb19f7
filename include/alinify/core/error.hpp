#pragma once
#include <stdexcept>
#include <string>

namespace alinify {

// Exit codes are part of the CLI contract (docs/cli.md).
enum class ExitCode : int { kOk = 0, kUsage = 1, kBadInput = 2, kRuntime = 3 };

// The one exception type of the project: main() turns it into one error line and an exit code.
class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }
  // Set on ranks that stop because another rank failed: that rank prints the error line.
  bool reported_elsewhere() const { return reported_elsewhere_; }
  Error& mark_reported_elsewhere() {
    reported_elsewhere_ = true;
    return *this;
  }

 private:
  ExitCode code_;
  bool reported_elsewhere_ = false;
};

[[noreturn]] inline void fail_usage(const std::string& m) { throw Error(ExitCode::kUsage, m); }
// Bad input: the message must name the file and the problem.
[[noreturn]] inline void fail_input(const std::string& file, const std::string& problem) {
  throw Error(ExitCode::kBadInput, file + ": " + problem);
}
[[noreturn]] inline void fail_runtime(const std::string& m) { throw Error(ExitCode::kRuntime, m); }

}  // namespace alinify
