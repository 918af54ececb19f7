// Parts of the communicator that do not depend on the implementation.
#include <algorithm>
#include <chrono>
#include <thread>

#include "alinify/par/comm.hpp"

namespace alinify::par {

Message Communicator::receive(int source, int tag) {
  auto pause = std::chrono::microseconds(50);
  for (;;) {
    if (auto m = try_receive(source, tag)) return std::move(*m);
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

}  // namespace alinify::par
