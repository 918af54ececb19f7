// The one main of alinify_mpi_tests: MPI is started once for every test file of tests/mpi, rank 0
// prints the report, and the exit code is the worst of all ranks.
#include <gtest/gtest.h>

#include "alinify/core/log.hpp"
#include "alinify/par/comm.hpp"
#include "support/mpi.hpp"

int main(int argc, char** argv) {
  using namespace alinify;
  ::testing::InitGoogleTest(&argc, argv);
  auto comm = par::make_mpi_communicator(&argc, &argv);
  test::set_world(comm.get());
  log::init(comm->rank(), comm->size(), "warn");
  if (!comm->is_root()) {  // one report, from rank 0
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int rc = RUN_ALL_TESTS();
  rc = static_cast<int>(comm->allreduce_max(rc));
  test::set_world(nullptr);
  comm.reset();
  par::finalize();
  return rc;
}
