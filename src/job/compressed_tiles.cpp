#include "compressed_tiles.hpp"

#include <algorithm>
#include <exception>
#include <string>

#include "alinify/core/error.hpp"

namespace alinify::job::detail {
namespace {

constexpr int kTag = 72;  // this writer's communicator carries nothing else
// A message is a tile row ('R' + EncodedRow) or a rank's last word ('D' + '0' ok / '1' failed).
constexpr char kRow = 'R';
constexpr char kDone = 'D';

}  // namespace

CompressedTileWriter::CompressedTileWriter(par::Communicator& comm, const io::OutputSpec& spec, int strip_rows)
    : comm_(comm),
      spec_(spec),
      strip_rows_(strip_rows),
      tile_rows_((spec.size.height + spec.tile - 1) / spec.tile),
      encoder_(io::codec_from_name(spec.compress), spec.compress_level, io::predictor_from_name(spec.predictor)) {
  if (strip_rows_ <= 0 || strip_rows_ % spec_.tile != 0)
    fail_runtime("strip height " + std::to_string(strip_rows_) + " is not a multiple of the tile");
  if (comm_.is_root()) done_.assign(comm_.size(), false);
}

int CompressedTileWriter::owner_of_row(int64_t tile_row) const {
  // plan::strips_for_rank deals strips out round-robin.
  return static_cast<int>((tile_row * spec_.tile / strip_rows_) % comm_.size());
}

void CompressedTileWriter::place(const io::EncodedRow& row) {
  if (row.row != next_row_)
    fail_runtime("compressed output: tile row " + std::to_string(row.row) + " arrived where " +
                 std::to_string(next_row_) + " was due");
  if (!file_) file_.emplace(io::partial_path(spec_.path));
  file_->write_row(row);
  ++next_row_;
}

// Rank 0: receives the rows [next_row_, end_row) from the ranks that own them, in order.
void CompressedTileWriter::take_rows_until(int64_t end_row) {
  while (next_row_ < end_row && !abandoned_) {
    const int source = owner_of_row(next_row_);
    par::Message m = comm_.receive(source, kTag);
    if (!m.text.empty() && m.text[0] == kDone) {  // it stopped before sending this row: it failed
      done_[source] = true;
      abandoned_ = true;
      return;
    }
    if (m.text.empty() || m.text[0] != kRow) fail_runtime("compressed output: a message of an unknown kind");
    place(io::EncodedRow::from_message(std::move(m.text), 1));
  }
}

void CompressedTileWriter::write_strip(int64_t y0, int64_t rows, const uint8_t* rgb, size_t stride) {
  const int t = spec_.tile;
  if (y0 % strip_rows_ != 0) fail_runtime("strip start " + std::to_string(y0) + " is not a strip boundary");
  const int64_t end = std::min(y0 + rows, spec_.size.height);
  const int64_t first = y0 / t, last = (end + t - 1) / t;
  if (io::overviews_from_x2(spec_)) {
    if (!x2_) x2_.emplace(spec_);
    x2_->write_strip(y0, end - y0, rgb, stride);
  }
  if (!comm_.is_root()) {
    // Posted, not sent: rank 0 takes the rows in image order, when it reaches them, while this
    // rank goes on with its next strip. At most one earlier strip's rows wait beside this one's
    // (a strip's raw bytes bound its encoded ones), so memory stays bounded if rank 0 falls behind.
    comm_.wait_posted(stride * static_cast<size_t>(strip_rows_));
    for (int64_t ty = first; ty < last; ++ty)
      comm_.post(io::encode_tile_row(encoder_, rgb, stride, y0, end, ty, t, spec_.size.width, tile_buf_)
                     .to_message(std::string(1, kRow)),
                 0, kTag);
    return;
  }
  take_rows_until(first);
  for (int64_t ty = first; ty < last; ++ty) {
    io::EncodedRow row = io::encode_tile_row(encoder_, rgb, stride, y0, end, ty, t, spec_.size.width, tile_buf_);
    if (!abandoned_) place(row);
  }
  next_row_ = std::max(next_row_, last);
  // The other ranks' strips of this round: take them now, while they go on with their next strip.
  const int64_t next_mine = (y0 / strip_rows_ + comm_.size()) * strip_rows_ / t;
  take_rows_until(std::min(next_mine, tile_rows_));
}

void CompressedTileWriter::drain(bool failed) {
  done_[0] = true;
  while (!std::all_of(done_.begin(), done_.end(), [](bool d) { return d; })) {
    const par::Message m = comm_.receive(par::Communicator::kAnySource, kTag);
    if (m.text.empty() || m.text[0] != kDone) {
      if (!failed && !abandoned_) fail_runtime("compressed output: a tile row arrived after the last one");
      continue;  // discarded: the output is given up
    }
    done_[m.source] = true;
    if (m.text.size() > 1 && m.text[1] == '1') abandoned_ = true;
  }
}

void CompressedTileWriter::finish(bool failed) {
  if (finished_) return;
  // The staged x2 rows are in the file before rank 0 hears that this rank is done.
  std::exception_ptr staging_error;
  if (x2_ && !failed) try {
      x2_->close();
    } catch (...) {
      staging_error = std::current_exception();
      failed = true;
    }
  if (!comm_.is_root()) {
    finished_ = true;
    // After the rows this rank posted (one source, one tag: they arrive in order).
    comm_.post(std::string{kDone, failed ? '1' : '0'}, 0, kTag);
    comm_.wait_posted();
    if (staging_error) std::rethrow_exception(staging_error);
    return;
  }
  if (staging_error) abandoned_ = true;
  if (!failed) take_rows_until(tile_rows_);
  drain(failed);
  finished_ = true;
  if (staging_error) std::rethrow_exception(staging_error);
  if (failed || abandoned_) return;  // the failing rank reports; rank 0 removes the partial output
  if (!file_) file_.emplace(io::partial_path(spec_.path));
  file_->close();
}

}  // namespace alinify::job::detail
