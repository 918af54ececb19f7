#pragma once
// Decimation on every rank (issue 16 item 1): each rank averages its own contiguous share of the
// decimated rows (plan::rows_of_rank), and rank 0 gathers the shares into the registration image.
// The bytes are those of io::decimate_grey at any rank count (tests/mpi/decimate_mpi_test.cpp).
#include <functional>

#include "alinify/io/decimate.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/par/comm.hpp"

namespace alinify::job {

// Collective. Returns the whole decimated image on rank 0 and an image with its size and factor
// but no pixels elsewhere. A failed read on any rank stops every rank with that rank's error
// (par::on_every_rank); `on_failure_at_root` runs on rank 0 first.
// Memory: rank 0 holds the decimated image plus one round of the gather (kGatherRows rows per
// rank); another rank holds its share only.
io::GreyImage decimate_on_every_rank(par::Communicator& comm, const io::Raster& raster, int factor,
                                     const std::function<void()>& on_failure_at_root = {});

}  // namespace alinify::job
