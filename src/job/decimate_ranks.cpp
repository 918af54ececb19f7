#include "alinify/job/decimate_ranks.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "alinify/par/agree.hpp"
#include "alinify/plan/planner.hpp"

namespace alinify::job {

namespace {

// Decimated rows each rank sends per gather round: bounds rank 0's receive buffer to
// ranks x kGatherRows x width floats (a few MiB at 283 MP) instead of a second copy of the image.
constexpr int64_t kGatherRows = 64;

// Rank 0 copies round k of every other rank's share into place.
void gather_round(par::Communicator& comm, io::GreyImage& image, const std::vector<float>& share,
                  const plan::RowRange& mine, int64_t k) {
  const int64_t width = image.size.width;
  const int64_t first = k * kGatherRows;
  const int64_t rows = comm.is_root() ? 0 : std::clamp<int64_t>(mine.rows - first, 0, kGatherRows);
  std::string text(static_cast<size_t>(rows * width) * sizeof(float), '\0');
  if (rows > 0) std::memcpy(text.data(), share.data() + first * width, text.size());
  std::vector<std::string> parts = comm.gather(text, 0);
  for (int r = 1; r < static_cast<int>(parts.size()); ++r) {
    const plan::RowRange theirs = plan::rows_of_rank(image.size.height, r, comm.size());
    const int64_t expect = std::clamp<int64_t>(theirs.rows - first, 0, kGatherRows);
    // Both sides derive the share from rows_of_rank, so the sizes agree; the copy is bounded anyway.
    const size_t bytes = std::min(parts[r].size(), static_cast<size_t>(expect * width) * sizeof(float));
    std::memcpy(image.pixels.data() + (theirs.y0 + first) * width, parts[r].data(), bytes);
  }
}

}  // namespace

io::GreyImage decimate_on_every_rank(par::Communicator& comm, const io::Raster& raster, int factor,
                                     const std::function<void()>& on_failure_at_root) {
  io::GreyImage image;
  image.factor = factor;
  std::vector<float> share;  // this rank's rows; on rank 0 they are written in place instead
  plan::RowRange mine;
  par::on_every_rank(
      comm, "decimation",
      [&] {
        image.size = io::decimated_size(raster, factor);
        mine = plan::rows_of_rank(image.size.height, comm.rank(), comm.size());
        float* dst = nullptr;
        if (comm.is_root()) {
          image.pixels.resize(static_cast<size_t>(image.size.pixels()));
          dst = image.pixels.data() + mine.y0 * image.size.width;
        } else {
          share.resize(static_cast<size_t>(mine.rows * image.size.width));
          dst = share.data();
        }
        io::decimate_grey_rows(raster, factor, mine.y0, mine.rows, dst);
      },
      on_failure_at_root);
  if (comm.size() == 1) return image;
  // Every rank knows every share, so all agree on the number of rounds without talking.
  int64_t largest = 0;
  for (int r = 0; r < comm.size(); ++r)
    largest = std::max(largest, plan::rows_of_rank(image.size.height, r, comm.size()).rows);
  const int64_t rounds = (largest + kGatherRows - 1) / kGatherRows;
  for (int64_t k = 0; k < rounds; ++k) gather_round(comm, image, share, mine, k);
  return image;
}

}  // namespace alinify::job
