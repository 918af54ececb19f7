#include "alinify/warp/lattice_build.hpp"

namespace alinify::warp {

void build_lattice_threaded(Lattice& lattice, const transform::TransformView& t, int64_t x0, int64_t y0, int64_t width,
                            int64_t height, int threads) {
  lattice.build(t, x0, y0, width, height, kLatticeTolerance, threads);
}

}  // namespace alinify::warp
