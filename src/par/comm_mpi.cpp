// The only file of the project that includes mpi.h.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <list>
#include <thread>

#include "alinify/core/error.hpp"
#include "alinify/par/comm.hpp"
#include "alinify/par/launch_env.hpp"

namespace alinify::par {
namespace {

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) fail_runtime(std::string("MPI call failed: ") + what);
}

// Polls `done()` until it is true, sleeping between polls (50 us doubling to 20 ms) instead of
// spinning: while rank 0 runs elastix or a slower rank warps, the waiting ranks would otherwise
// burn a core in MPI's busy poll and slow them down.
template <class Done>
void poll_politely(Done done) {
  auto pause = std::chrono::microseconds(50);
  while (!done()) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

// Waits for a non-blocking operation (a collective, a send) without spinning.
void wait_politely(MPI_Request& request, const char* what) {
  poll_politely([&] {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
    return done != 0;
  });
}

void check_send_length(const std::string& text) {
  if (text.size() > static_cast<size_t>(std::numeric_limits<int>::max())) fail_runtime("MPI send: message too long");
}

class MpiCommunicator final : public Communicator {
 public:
  // Takes ownership of `comm` unless it is MPI_COMM_WORLD.
  explicit MpiCommunicator(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_), "split_type");
    MPI_Comm_rank(node_, &local_rank_);
    MPI_Comm_size(node_, &local_size_);
    // The node's lowest rank: local rank 0 is the lowest (the split is ordered by rank).
    int leader = rank_;
    check(MPI_Bcast(&leader, 1, MPI_INT, 0, node_), "node leader");
    node_leader_ = leader;
    int provided = MPI_THREAD_SINGLE;
    MPI_Query_thread(&provided);
    thread_safe_ = provided == MPI_THREAD_MULTIPLE;
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    // Sends still posted (a job that failed before its last wait): MPI may still read their
    // texts, so they are left to complete on their own and their memory is never freed.
    for (auto& p : posted_) {
      MPI_Request_free(&p->request);
      p.release();
    }
    MPI_Comm_free(&node_);
    if (comm_ != MPI_COMM_WORLD) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  int node_leader() const override { return node_leader_; }
  bool thread_safe() const override { return thread_safe_; }
  void barrier() override {
    MPI_Request r;
    check(MPI_Ibarrier(comm_, &r), "barrier");
    wait_politely(r, "barrier");
  }

  void broadcast(std::string& text, int root) override {
    uint64_t n = text.size();
    MPI_Request r;
    check(MPI_Ibcast(&n, 1, MPI_UINT64_T, root, comm_, &r), "bcast size");
    wait_politely(r, "bcast size");
    text.resize(n);
    // Chunked: MPI counts are int, a B-spline transform text stays far below 2 GiB but be safe.
    const uint64_t kChunk = 1u << 30;
    for (uint64_t off = 0; off < n; off += kChunk) {
      int len = static_cast<int>(std::min(kChunk, n - off));
      check(MPI_Bcast(text.data() + off, len, MPI_CHAR, root, comm_), "bcast text");
    }
  }

  std::vector<std::string> gather(const std::string& text, int root) override {
    int n = static_cast<int>(text.size());
    std::vector<int> sizes(rank_ == root ? size_ : 0);
    check(MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, root, comm_), "gather sizes");
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
    check(MPI_Gatherv(text.data(), n, MPI_CHAR, all.data(), sizes.data(), displs.data(), MPI_CHAR, root, comm_),
          "gatherv");
    std::vector<std::string> out;
    for (size_t i = 0; i < sizes.size(); ++i) out.push_back(all.substr(displs[i], sizes[i]));
    return out;
  }

  int64_t allreduce_max(int64_t v) override { return allreduce(v, MPI_MAX); }
  int64_t allreduce_sum(int64_t v) override { return allreduce(v, MPI_SUM); }

  std::unique_ptr<Communicator> split(int color, int key) override {
    MPI_Comm c = MPI_COMM_NULL;
    check(MPI_Comm_split(comm_, color, key, &c), "comm split");
    return std::make_unique<MpiCommunicator>(c);
  }
  std::unique_ptr<Communicator> duplicate() override {
    MPI_Comm c = MPI_COMM_NULL;
    check(MPI_Comm_dup(comm_, &c), "comm dup");
    return std::make_unique<MpiCommunicator>(c);
  }

  void send(const std::string& text, int dest, int tag) override {
    check_send_length(text);
    MPI_Request r;
    check(MPI_Isend(text.data(), static_cast<int>(text.size()), MPI_CHAR, dest, tag, comm_, &r), "isend");
    wait_politely(r, "isend");
  }
  void post(std::string text, int dest, int tag) override {
    check_send_length(text);
    auto p = std::make_unique<Posted>();
    p->text = std::move(text);  // heap-held: MPI reads it from this address until the send completes
    check(MPI_Isend(p->text.data(), static_cast<int>(p->text.size()), MPI_CHAR, dest, tag, comm_, &p->request),
          "isend");
    posted_bytes_ += p->text.size();
    posted_.push_back(std::move(p));
  }
  void wait_posted(size_t bytes) override {
    poll_politely([&] {
      // Completed sends release their text; the oldest complete first but any may.
      for (auto it = posted_.begin(); it != posted_.end();) {
        int done = 0;
        check(MPI_Test(&(*it)->request, &done, MPI_STATUS_IGNORE), "isend");
        if (done) {
          posted_bytes_ -= (*it)->text.size();
          it = posted_.erase(it);
        } else {
          ++it;
        }
      }
      return posted_bytes_ <= bytes;
    });
  }
  std::optional<Message> try_receive(int source, int tag) override {
    int flag = 0;
    MPI_Message msg;
    MPI_Status st;
    check(MPI_Improbe(source == kAnySource ? MPI_ANY_SOURCE : source, tag, comm_, &flag, &msg, &st), "improbe");
    if (!flag) return std::nullopt;
    int count = 0;
    MPI_Get_count(&st, MPI_CHAR, &count);
    Message m;
    m.source = st.MPI_SOURCE;
    m.tag = st.MPI_TAG;
    m.text.resize(count);
    check(MPI_Mrecv(m.text.data(), count, MPI_CHAR, &msg, MPI_STATUS_IGNORE), "mrecv");
    return m;
  }

 private:
  int64_t allreduce(int64_t v, MPI_Op op) {
    int64_t out = 0;
    MPI_Request r;
    check(MPI_Iallreduce(&v, &out, 1, MPI_INT64_T, op, comm_, &r), "allreduce");
    wait_politely(r, "allreduce");
    return out;
  }

  struct Posted {
    std::string text;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  std::list<std::unique_ptr<Posted>> posted_;
  size_t posted_bytes_ = 0;
  MPI_Comm comm_ = MPI_COMM_WORLD;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1, node_leader_ = 0;
  bool thread_safe_ = false;
  MPI_Comm node_ = MPI_COMM_NULL;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    // MPI_THREAD_MULTIPLE lets `alinify batch` run its dispatcher in a thread of rank 0 while rank 0
    // also works in a group; with less, the dispatcher gets rank 0 to itself (docs/batch.md).
    int provided = MPI_THREAD_SINGLE;
    choose_pml_before_init();  // every rank on this node: skip probing networks (launch_env.hpp)
    check(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided), "init");
  }
  return std::make_unique<MpiCommunicator>(MPI_COMM_WORLD);
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
