// `alinify batch`: the options of `run` as defaults for every job of a manifest (docs/batch.md).
#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <stdexcept>

#include "alinify/batch/drain.hpp"
#include "alinify/batch/runner.hpp"
#include "alinify/core/error.hpp"
#include "alinify/job/pipeline.hpp"
#include "alinify/warp/cuda_backend.hpp"
#include "app/cli_options.hpp"

namespace alinify::app {
namespace {

void set_value(po::variables_map& vm, const std::string& name, const boost::any& value) {
  vm.erase(name);
  vm.insert({name, po::variable_value(value, false)});
}

template <class T>
T parse_number(const std::string& column, const std::string& text) {
  try {
    size_t pos = 0;
    long long v = std::stoll(text, &pos);
    if (pos != text.size()) throw std::invalid_argument(text);
    return static_cast<T>(v);
  } catch (const std::exception&) {
    fail_usage("column " + column + ": '" + text + "' is not an integer");
  }
}

// The job's options: the command line's, with the manifest row's overrides on top.
std::pair<job::RegisterJob, job::WarpJob> jobs_for(const po::variables_map& defaults, const batch::BatchJob& j) {
  po::variables_map vm = defaults;
  set_value(vm, "design", j.design);
  set_value(vm, "scan", j.scan);
  set_value(vm, "out", j.out);
  for (const auto& [k, v] : j.overrides) {
    if (k == "fill" || k == "elastix-threads")
      set_value(vm, k, parse_number<int>(k, v));
    else if (k == "registration-max-pixels")
      set_value(vm, k, parse_number<int64_t>(k, v));
    else
      set_value(vm, k, v);  // preset, interp, compress, mem-budget: strings, checked below
  }
  auto jobs = run_jobs(vm, j.transform_out);
  apply_defect_options(vm, jobs.second);
  return jobs;
}

// Every problem of a row's options, one a line (batch/runner.hpp, JobChecker): each column alone on
// top of the command line's options, through the same checks as `run`'s options (run_jobs), so that
// one bad value does not hide the next; then the row whole, for what only a combination shows (a
// compress-level the row's compress does not take).
void check_row(const po::variables_map& defaults, const batch::BatchJob& j) {
  std::vector<std::string> problems;
  auto note = [&](const batch::BatchJob& row) {
    try {
      jobs_for(defaults, row);
    } catch (const Error& e) {
      if (std::find(problems.begin(), problems.end(), e.what()) == problems.end()) problems.emplace_back(e.what());
    }
  };
  for (const auto& column : j.overrides) {
    batch::BatchJob one = j;
    one.overrides = {column};
    note(one);
  }
  if (problems.empty()) note(j);
  if (problems.empty()) return;
  std::string lines;
  for (const std::string& p : problems) lines += (lines.empty() ? "" : "\n") + p;
  fail_usage(lines);
}

// "auto" -> -1 (from the pair's size), else seconds >= 0.
double parse_job_timeout(const std::string& text) {
  if (text == "auto") return -1;
  try {
    size_t pos = 0;
    const double v = std::stod(text, &pos);
    if (pos == text.size() && std::isfinite(v) && v >= 0) return v;
  } catch (const std::exception&) {
  }
  fail_usage("--job-timeout: '" + text + "' is not auto or a number of seconds (0: no limit)");
}

batch::StopMode parse_stop_mode(const std::string& text) {
  if (text == "drain") return batch::StopMode::kDrain;
  if (text == "abandon") return batch::StopMode::kAbandon;
  fail_usage("--on-stop: '" + text + "' is not drain or abandon");
}

}  // namespace

int cmd_batch(par::Communicator& comm, int argc, char** argv) {
  po::options_description d("batch options");
  d.add_options()(
      "manifest", po::value<std::string>()->required(),
      "CSV (id,design,scan,out[,transform,job-timeout,preset,interp,compress,fill,mem-budget,...]) or JSON Lines; "
      "paths relative to its folder")("group-size", po::value<int>()->default_value(0),
                                      "ranks per job group (0: all ranks of a node)")(
      "resume", po::bool_switch(), "skip jobs whose journaled output still verifies (size + XXH64); redo the rest")(
      "retries", po::value<int>()->default_value(0), "retries of a job that failed at run time (exit 3)")(
      "shard", po::value<std::string>()->default_value("0/1"),
      "i/n: run every n-th job from the i-th (job arrays: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)")(
      "journal", po::value<std::string>(),
      "journal file (default <manifest dir>/<manifest stem>[.shard-i-of-n].journal.jsonl)")(
      "summary-dir", po::value<std::string>(), "folder for <stem>.summary.json/.csv (default: the manifest's)")(
      "job-timeout", po::value<std::string>()->default_value("auto"),
      "seconds a job may run before it is stopped and failed (exit 3); 0: no limit; auto: 600 + 2 per MiB of "
      "design + scan (docs/batch.md); the manifest's job-timeout column overrides it per job")(
      "on-stop", po::value<std::string>()->default_value("drain"),
      "first SIGTERM/SIGUSR1: drain (running jobs finish) or abandon (they stop at once, --resume redoes "
      "them); a second signal always abandons")(
      "strict-inputs", po::bool_switch(),
      "refuse the whole manifest when an input is missing or unreadable (default: that job fails, exit 2)");
  d.add(register_options());
  d.add(warp_options());
  d.add(qa_options());
  d.add(defect_options());
  Parsed p = parse("batch", d, argc, argv, comm, "--manifest jobs.csv [--group-size N] [--resume] [options of run]");
  if (p.help) return 0;

  batch::BatchOptions o;
  o.manifest = req(p.vm, "manifest");
  o.group_size = p.vm["group-size"].as<int>();
  o.resume = p.vm["resume"].as<bool>();
  o.retries = p.vm["retries"].as<int>();
  std::tie(o.shard_index, o.shard_count) = batch::parse_shard(req(p.vm, "shard"));
  if (p.vm.count("journal")) o.journal = req(p.vm, "journal");
  if (p.vm.count("summary-dir")) o.summary_dir = req(p.vm, "summary-dir");
  if (o.group_size < 0) fail_usage("--group-size: must be 0 (a node) or positive");
  if (o.retries < 0) fail_usage("--retries: must be 0 or more");
  o.job_timeout = parse_job_timeout(req(p.vm, "job-timeout"));
  o.strict_inputs = p.vm["strict-inputs"].as<bool>();
  batch::install_drain_signal_handlers(parse_stop_mode(req(p.vm, "on-stop")));

  const po::variables_map defaults = p.vm;
  {
    // The command line's own values once, as a usage error, before the manifest is read: a bad
    // default (--fill 300) would otherwise be listed once for every row.
    batch::BatchJob probe;
    probe.design = "design.tif";
    probe.scan = "scan.tif";
    probe.out = "out.tif";
    probe.transform_out = "out.transform.json";
    jobs_for(defaults, probe);
  }
  // GPUs follow the rank's place on its node, not in its group: groups of 1 rank on a 4-GPU node
  // use GPUs 0..3, not all GPU 0.
  const int node_rank = comm.local_rank();
  auto run_job = [&defaults, node_rank](par::Communicator& group, const batch::BatchJob& j) {
    auto [r, w] = jobs_for(defaults, j);
    if (w.device < 0 && w.backend != warp::BackendKind::kCpu)
      if (const int gpus = warp::cuda_device_count(); gpus > 0) w.device = node_rank % gpus;
    const job::RunReport rep = job::run_pipeline(group, r, w);
    batch::JobResult res;
    res.registration_factor = rep.registration_factor;
    res.register_seconds = rep.register_seconds;
    res.warp_seconds = rep.warp_seconds;
    return res;
  };
  auto check_job = [&defaults](const batch::BatchJob& j) { check_row(defaults, j); };
  return batch::run_batch(comm, o, run_job, check_job).exit_code;
}

}  // namespace alinify::app
