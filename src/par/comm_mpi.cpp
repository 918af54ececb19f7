// The only file of the project that includes mpi.h.
#include <mpi.h>

#include <cstdlib>

#include "alinify/core/error.hpp"
#include "alinify/par/comm.hpp"

namespace alinify::par {
namespace {

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) fail_runtime(std::string("MPI call failed: ") + what);
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_), "split_type");
    MPI_Comm_rank(node_, &local_rank_);
    MPI_Comm_size(node_, &local_size_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&node_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "barrier"); }

  void broadcast(std::string& text, int root) override {
    uint64_t n = text.size();
    check(MPI_Bcast(&n, 1, MPI_UINT64_T, root, MPI_COMM_WORLD), "bcast size");
    text.resize(n);
    // Chunked: MPI counts are int, a B-spline transform text stays far below 2 GiB but be safe.
    const uint64_t kChunk = 1u << 30;
    for (uint64_t off = 0; off < n; off += kChunk) {
      int len = static_cast<int>(std::min(kChunk, n - off));
      check(MPI_Bcast(text.data() + off, len, MPI_CHAR, root, MPI_COMM_WORLD), "bcast text");
    }
  }

  std::vector<std::string> gather(const std::string& text, int root) override {
    int n = static_cast<int>(text.size());
    std::vector<int> sizes(rank_ == root ? size_ : 0);
    check(MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, root, MPI_COMM_WORLD), "gather sizes");
    std::vector<int> displs(sizes.size());
    std::string all;
    if (rank_ == root) {
      int total = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        displs[i] = total;
        total += sizes[i];
      }
      all.resize(total);
    }
    check(MPI_Gatherv(text.data(), n, MPI_CHAR, all.data(), sizes.data(), displs.data(), MPI_CHAR, root,
                      MPI_COMM_WORLD),
          "gatherv");
    std::vector<std::string> out;
    for (size_t i = 0; i < sizes.size(); ++i) out.push_back(all.substr(displs[i], sizes[i]));
    return out;
  }

  int64_t allreduce_max(int64_t v) override {
    int64_t r = 0;
    check(MPI_Allreduce(&v, &r, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), "allreduce max");
    return r;
  }
  int64_t allreduce_sum(int64_t v) override {
    int64_t r = 0;
    check(MPI_Allreduce(&v, &r, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD), "allreduce sum");
    return r;
  }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  MPI_Comm node_ = MPI_COMM_NULL;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) check(MPI_Init(argc, argv), "init");
  return std::make_unique<MpiCommunicator>();
}

void finalize() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Finalize();
}

void abort_all(int code) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace alinify::par
