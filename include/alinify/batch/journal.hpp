#pragma once
// The batch journal: append-only JSON Lines, one fsync'ed record per event (docs/batch.md).
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace alinify::batch {

class Journal {
 public:
  // Opens (creates) `path` for appending and takes an exclusive flock on it: a second batch on the
  // same journal is refused (usage error, exit 1) while the first one runs.
  explicit Journal(const std::string& path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  // Adds "time" (UTC, ISO 8601) when absent, writes one line and fsyncs it.
  void append(nlohmann::json record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

struct DoneRecord {
  std::string out;
  uint64_t size = 0;
  std::string xxh64;
  nlohmann::json record;  // the whole record (times, registration factor) for the summary
};

// The last "done" record of every job id in a journal (none when the file does not exist). A torn
// last line (a batch killed while writing) is skipped.
std::map<std::string, DoneRecord> read_done_records(const std::string& path);

// Empty when the file at r.out exists with r's size and checksum, else why not.
std::string verify_output(const DoneRecord& r);

std::string utc_now_iso();

}  // namespace alinify::batch
