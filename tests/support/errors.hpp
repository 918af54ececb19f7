#pragma once
// The alinify::Error a call throws, or nothing: for tests that check the exit code and the message.
#include <functional>
#include <optional>

#include "alinify/core/error.hpp"

namespace alinify::test {

inline std::optional<Error> error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e;
  }
  return std::nullopt;
}

}  // namespace alinify::test
