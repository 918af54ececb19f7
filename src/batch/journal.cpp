#include "alinify/batch/journal.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "alinify/batch/checksum.hpp"
#include "alinify/core/error.hpp"

namespace fs = std::filesystem;

namespace alinify::batch {

std::string utc_now_iso() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                     t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
}

Journal::Journal(const std::string& path) : path_(path) {
  std::error_code ec;
  if (!fs::path(path).parent_path().empty()) fs::create_directories(fs::path(path).parent_path(), ec);
  fd_ = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);  // read: its last byte
  if (fd_ < 0) fail_input(path, std::string("cannot open the journal: ") + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    if (e == EWOULDBLOCK) fail_usage(path + ": another alinify batch is using this journal (flock held)");
    fail_runtime(path + ": cannot lock the journal: " + std::strerror(e));
  }
  // A batch killed while writing leaves a torn last line without its newline: end it, so that the
  // next record starts on a line of its own instead of being glued to the torn one and lost too.
  const off_t size = ::lseek(fd_, 0, SEEK_END);
  char last = '\n';
  if (size > 0 && ::pread(fd_, &last, 1, size - 1) != 1) last = '\n';
  if (last != '\n' && ::write(fd_, "\n", 1) != 1)
    fail_runtime(path + ": cannot write the journal: " + std::strerror(errno));
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

void Journal::append(nlohmann::json record) {
  if (!record.contains("time")) record["time"] = utc_now_iso();
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_runtime(path_ + ": cannot write the journal: " + std::strerror(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd_) != 0) fail_runtime(path_ + ": cannot fsync the journal: " + std::strerror(errno));
}

std::map<std::string, DoneRecord> read_done_records(const std::string& path) {
  std::map<std::string, DoneRecord> done;
  std::ifstream in(path);
  if (!in) return done;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception&) {
      spdlog::warn("{}:{}: unreadable journal line skipped (a batch killed while writing it?)", path, n);
      continue;
    }
    if (!j.is_object() || !j.contains("event")) {
      spdlog::warn("{}:{}: journal line is not a record, skipped", path, n);
      continue;
    }
    if (!j.contains("id")) continue;  // batch_start, batch_end, stop_requested
    if (!j["event"].is_string() || !j["id"].is_string()) {
      spdlog::warn("{}:{}: journal record with a malformed event or id, skipped", path, n);
      continue;
    }
    const std::string ev = j["event"].get<std::string>();
    const std::string id = j["id"].get<std::string>();
    if (ev == "done") {
      // A done record is trusted only whole and well-typed; the output is verified on disk anyway.
      if (!j.contains("out") || !j["out"].is_string() || !j.contains("size") || !j["size"].is_number_unsigned() ||
          !j.contains("xxh64") || !j["xxh64"].is_string()) {
        spdlog::warn("{}:{}: incomplete done record for '{}' not trusted: the job runs again", path, n, id);
        done.erase(id);
        continue;
      }
      done[id] = DoneRecord{j["out"].get<std::string>(), j["size"].get<uint64_t>(), j["xxh64"].get<std::string>(), j};
    } else if (ev == "started") {
      // A later attempt of a job invalidates its earlier result until it is done again.
      done.erase(id);
    }
  }
  return done;
}

std::string verify_output(const DoneRecord& r) {
  std::error_code ec;
  if (!fs::exists(r.out, ec)) return "output " + r.out + " is missing";
  const uint64_t size = fs::file_size(r.out, ec);
  if (ec) return "output " + r.out + " cannot be read";
  if (size != r.size)
    return "output " + r.out + " has " + std::to_string(size) + " bytes, the journal says " + std::to_string(r.size);
  try {
    const std::string sum = hex64(xxh64_file(r.out));
    if (sum != r.xxh64) return "output " + r.out + " has checksum " + sum + ", the journal says " + r.xxh64;
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace alinify::batch
