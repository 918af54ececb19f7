#pragma once
#include <spdlog/spdlog.h>

#include <string>

namespace alinify::log {

// Sets the global logger so that every line carries the rank ("[r0/2]").
void init(int rank, int size, const std::string& level = "info");
int rank();

}  // namespace alinify::log
