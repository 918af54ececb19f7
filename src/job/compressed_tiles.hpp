#pragma once
// The compressed output written by every rank (--compress deflate|zstd without --cog). Each rank
// encodes the tiles of its own strips (io/tile_codec.hpp); the other ranks send them to rank 0 one
// tile row per message, and rank 0 places every row in tile-row order with libtiff's raw-tile API
// (io/raw_tiff.hpp). Nothing is decoded or encoded twice, and the file's bytes do not depend on the
// rank count. Rank 0 takes in the rows of the other ranks' strips of a round right after its own
// strip; the other ranks post their rows without waiting (par::Communicator::post) and wait on
// rank 0 only when it is more than a strip behind them.
#include <cstdint>
#include <optional>
#include <vector>

#include "alinify/io/overview_staging.hpp"
#include "alinify/io/raw_tiff.hpp"
#include "alinify/io/tile_codec.hpp"
#include "alinify/io/tiled_output.hpp"
#include "alinify/par/comm.hpp"

namespace alinify::job::detail {

class CompressedTileWriter final : public io::TileWriter {
 public:
  // `comm` carries nothing else (a duplicate of the job's). Opens nothing yet, so that a failure
  // to open the file happens where finish(true) still follows it.
  CompressedTileWriter(par::Communicator& comm, const io::OutputSpec& spec, int strip_rows);
  void write_strip(int64_t y0, int64_t rows, const uint8_t* rgb, size_t stride) override;
  // After this rank's last strip, or after its failure (every rank calls it once either way).
  // Other ranks tell rank 0 they are done. Rank 0 places the rows still owed and closes the file;
  // after a failure anywhere it discards what still arrives until every rank is done, so no rank
  // is left waiting on a send.
  void finish(bool failed);

 private:
  int owner_of_row(int64_t tile_row) const;
  void take_rows_until(int64_t end_row);
  void place(const io::EncodedRow& row);
  void drain(bool failed);

  par::Communicator& comm_;
  io::OutputSpec spec_;
  int strip_rows_;
  int64_t tile_rows_;
  io::TileEncoder encoder_;
  std::vector<uint8_t> tile_buf_;
  // Every rank with overviews from the x2 level (io::overviews_from_x2): its strips halved, from its first strip on.
  std::optional<io::X2Staging> x2_;
  std::optional<io::RawTileFile> file_;  // rank 0, from its first row on
  int64_t next_row_ = 0;                 // rank 0: the next tile row to place
  std::vector<bool> done_;               // rank 0: the ranks that said they are done
  bool abandoned_ = false;               // rank 0: another rank failed, rows are discarded
  bool finished_ = false;
};

}  // namespace alinify::job::detail
