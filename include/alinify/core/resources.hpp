#pragma once
#include <cstdint>
#include <string>

namespace alinify {

// Peak resident set size of this process so far (getrusage), in bytes.
uint64_t peak_rss_bytes();
// Peak RSS of the largest waited-for child (elastix), in bytes.
uint64_t peak_child_rss_bytes();
// This machine's name (gethostname; "unknown" when it fails): the node a rank runs on.
std::string host_name();
// Parses "2GiB", "512MiB", "1.5G", "1000000" (bytes). Throws a usage error naming the option.
uint64_t parse_bytes(const std::string& text, const std::string& option);
std::string format_bytes(uint64_t bytes);
double now_seconds();

}  // namespace alinify
