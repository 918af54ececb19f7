#include "alinify/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace alinify::log {
namespace {
int g_rank = 0;
}

void init(int rank, int size, const std::string& level) {
  g_rank = rank;
  auto logger = spdlog::stderr_color_mt("alinify");
  logger->set_pattern("[%H:%M:%S.%e] [r" + std::to_string(rank) + "/" + std::to_string(size) + "] [%^%l%$] %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

int rank() { return g_rank; }

}  // namespace alinify::log
