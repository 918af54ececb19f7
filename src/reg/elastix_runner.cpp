#include "alinify/reg/elastix_runner.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "alinify/core/cancel.hpp"
#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace alinify::reg {
namespace {

bool is_executable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && access(p.c_str(), X_OK) == 0;
}

std::string log_tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) out += (out.empty() ? "" : " | ") + l;
  return out;
}

bool log_contains(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

std::string find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (!is_executable(name)) fail_usage("--elastix: " + name + " is not an executable file");
    return name;
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && is_executable(fs::path(dir) / name)) return (fs::path(dir) / name).string();
  fail_usage(name + " not found on PATH: install it (Debian: apt-get install elastix) or pass --elastix PATH");
}

int spawn_and_wait(const std::vector<std::string>& argv, const std::string& log_path, uint64_t* peak_rss,
                   const std::string& cwd) {
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls (open, dup2, prctl, execve, _exit).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  // mpirun binds each rank to a core (Open MPI's default for two ranks or fewer) and a child inherits
  // the binding: elastix ran on one core while the other ranks only waited for its transform. The
  // child asks for every CPU; the kernel keeps those of the job's cpuset (Slurm's allocation, a
  // container's), so elastix never leaves what the job was given.
  cpu_set_t every_cpu;
  CPU_ZERO(&every_cpu);
  for (int c = 0; c < CPU_SETSIZE; ++c) CPU_SET(c, &every_cpu);
  const pid_t pid = ::fork();
  if (pid < 0) fail_runtime("cannot start " + argv[0] + ": " + std::strerror(errno));
  if (pid == 0) {
    // The child dies with its parent: a rank killed with -9 leaves no elastix running on.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    // The signal mask is inherited on purpose: batch blocks SIGTERM/SIGUSR1 in its working threads
    // so that elastix finishes its registration when mpirun signals the whole process tree.
    const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0) ::_exit(127);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::sched_setaffinity(0, sizeof every_cpu, &every_cpu);  // a refusal leaves the inherited binding
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    ::dup2(in, STDIN_FILENO);
    ::execve(args[0], args.data(), environ);  // an argument vector: no shell ever sees a path
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  // Polled, so that a stop (SIGTERM/SIGINT to alinify run, a batch job's time limit) ends elastix
  // too, without waiting for it. SIGKILL after 2 s also ends an elastix that was stopped (SIGSTOP).
  for (;;) {
    const pid_t w = wait4(pid, &status, WNOHANG, &usage);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) fail_runtime("waiting for " + argv[0] + " failed: " + std::strerror(errno));
    if (cancel::stop_requested()) {
      ::kill(pid, SIGTERM);
      for (int i = 0; i < 40 && wait4(pid, &status, WNOHANG, &usage) == 0; ++i) ::usleep(50000);
      if (wait4(pid, &status, WNOHANG, &usage) == 0) {
        ::kill(pid, SIGKILL);
        while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
        }
      }
      cancel::throw_if_requested();
    }
    ::usleep(20000);
  }
  if (peak_rss) *peak_rss = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 127 && !fs::exists(log_path)) fail_runtime("cannot start " + argv[0]);
    return WEXITSTATUS(status);
  }
  return -WTERMSIG(status);
}

ElastixResult run_elastix(const ElastixJob& job) {
  fs::create_directories(job.out_dir);
  // Absolute paths: a relative path starting with '-' would read to elastix as one of its options.
  auto abs = [](const std::string& p) { return fs::absolute(p).lexically_normal().string(); };
  // elastix runs in its output folder with "-out ./": elastix rejects an -out path that holds a
  // space (it escapes the spaces, then finds no such folder), and every other path is absolute.
  const std::string out_dir = abs(job.out_dir);
  std::vector<std::string> argv{abs(job.executable), "-f", abs(job.fixed), "-m", abs(job.moving), "-out", "./"};
  for (const auto& p : job.parameter_files) {
    argv.push_back("-p");
    argv.push_back(abs(p));
  }
  if (!job.initial_transform.empty()) {
    // elastix copies this name into InitialTransformParametersFileName "..." of its output, a
    // format with no escape for '"': inside the output folder it is given relative ("./name").
    std::string t0 = abs(job.initial_transform);
    const fs::path rel = fs::path(t0).lexically_relative(out_dir);
    if (!rel.empty() && *rel.begin() != "..") t0 = "./" + rel.string();
    if (t0.find('"') != std::string::npos)
      fail_input(job.initial_transform, "holds a double quote, which an elastix parameter file cannot hold; rename it");
    argv.push_back("-t0");
    argv.push_back(t0);
  }
  if (job.threads > 0) {
    argv.push_back("-threads");
    argv.push_back(std::to_string(job.threads));
  }
  ElastixResult r;
  r.log_path = (fs::path(out_dir) / "elastix.log").string();
  const std::string console = (fs::path(out_dir) / "elastix.console.log").string();
  const double t0 = now_seconds();
  int status = spawn_and_wait(argv, console, &r.peak_rss_bytes, out_dir);
  r.seconds = now_seconds() - t0;
  const std::string log = fs::exists(r.log_path) ? r.log_path : console;
  if (status != 0) {
    if (log_contains(log, "Too many samples map outside moving image buffer"))
      fail_input(job.moving,
                 "does not overlap the design enough to register (elastix: too many samples map "
                 "outside the moving image); log: " +
                     log);
    fail_runtime("elastix failed (" +
                 (status < 0 ? "killed by signal " + std::to_string(-status) : "exit " + std::to_string(status)) +
                 "), log " + log + ": " + log_tail(log, 3));
  }
  for (size_t k = 0; k < job.parameter_files.size(); ++k) {
    fs::path tp = fs::path(job.out_dir) / ("TransformParameters." + std::to_string(k) + ".txt");
    if (!fs::exists(tp)) fail_runtime("elastix exited 0 but wrote no " + tp.string() + "; log " + log);
    r.transform_files.push_back(tp.string());
  }
  return r;
}

}  // namespace alinify::reg
