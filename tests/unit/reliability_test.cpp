// Units of the reliability promises (docs/reliability.md): output checks, the output lock, stops,
// registration parameter checks, raster limits.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "alinify/core/cancel.hpp"
#include "alinify/core/error.hpp"
#include "alinify/core/paths.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/io/output_lock.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/transform/elastix_params.hpp"
#include "support/files.hpp"

using namespace alinify;
namespace fs = std::filesystem;

namespace {

template <class F>
std::string error_of(F f, ExitCode code) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

}  // namespace

TEST(Reliability, SameFileSeesThroughDotsAndSymlinks) {
  test::ScratchDir d("rel-same");
  std::ofstream(d.file("a.tif")) << "x";
  fs::create_symlink(d.file("a.tif"), d.file("link.tif"));
  EXPECT_TRUE(paths::same_file(d.file("a.tif"), d.file("./a.tif")));
  EXPECT_TRUE(paths::same_file(d.file("a.tif"), d.file("link.tif")));
  EXPECT_FALSE(paths::same_file(d.file("a.tif"), d.file("b.tif")));
  const std::string m = error_of(
      [&] {
        paths::refuse_overwriting_inputs({{"--out", d.file("link.tif")}}, {{"--scan", d.file("a.tif")}});
      },
      ExitCode::kBadInput);
  EXPECT_NE(m.find("same file as the input --scan"), std::string::npos) << m;
}

TEST(Reliability, UnwritableOrMissingOutputFolderIsBadInput) {
  const std::string proc = error_of([] { paths::require_writable_folder("/proc/x.tif"); }, ExitCode::kBadInput);
  EXPECT_NE(proc.find("not writable (no file can be created in it)"), std::string::npos) << proc;
  EXPECT_EQ(proc.find("No such file"), std::string::npos) << "the folder exists: " << proc;
  EXPECT_NE(error_of([] { paths::require_writable_folder("/no/such/dir/x.tif"); }, ExitCode::kBadInput)
                .find("does not exist"),
            std::string::npos);
  test::ScratchDir d("rel-writable");
  paths::require_writable_folder(d.file("x.tif"));
  EXPECT_TRUE(fs::is_empty(d.path())) << "the probe file was left behind";
}

TEST(Reliability, AFolderWrittenLateIsCheckedWithoutBeingMade) {
  test::ScratchDir d("rel-creatable");
  test::write_file(d.file("plain"), "x");
  std::string m = error_of([&] { paths::require_creatable_folder(d.file("plain") + "/dbg", "--coarse-debug"); },
                           ExitCode::kBadInput);
  EXPECT_NE(m.find("--coarse-debug: " + d.file("plain") + " is not a folder"), std::string::npos) << m;
  m = error_of([] { paths::require_creatable_folder("/proc/alinify-sum/a", "--summary-dir"); }, ExitCode::kBadInput);
  EXPECT_NE(m.find("/proc/alinify-sum/a: --summary-dir: /proc is not writable"), std::string::npos) << m;
  paths::require_creatable_folder(d.file("new/deeper"), "--summary-dir");
  paths::require_creatable_folder(d.path().string(), "--summary-dir");
  EXPECT_FALSE(fs::exists(d.file("new"))) << "the check made the folder";
  EXPECT_EQ(std::distance(fs::directory_iterator(d.path()), fs::directory_iterator()), 1) << "a probe was left";
}

TEST(Reliability, OutputLockRefusesASecondWriterAndCleansUp) {
  test::ScratchDir d("rel-lock");
  const std::string out = d.file("o.tif");
  {
    io::OutputLock first(out);
    EXPECT_TRUE(fs::exists(out + ".partial"));
    const std::string m = error_of([&] { io::OutputLock second(out); }, ExitCode::kRuntime);
    EXPECT_NE(m.find("another alinify process is writing"), std::string::npos) << m;
    EXPECT_TRUE(fs::exists(out + ".partial")) << "the refused writer removed the first one's file";
  }
  EXPECT_FALSE(fs::exists(out + ".partial")) << "an unfinished job left its temporary file";
  // A stale .partial holds no lock; its taker removes the rest a killed writer left of o.tif.
  test::write_file(out + ".partial-compressed", "x");
  test::write_file(out + ".partial.x2", "x");
  io::OutputLock again(out);
  EXPECT_TRUE(fs::exists(out + ".partial"));
  EXPECT_FALSE(fs::exists(out + ".partial-compressed"));
  EXPECT_FALSE(fs::exists(out + ".partial.x2"));
}

TEST(Reliability, StopThrowsWith128PlusTheSignal) {
  cancel::throw_if_requested();  // nothing asked
  cancel::simulate(SIGTERM);
  const std::string m = error_of([] { cancel::throw_if_requested(); }, static_cast<ExitCode>(128 + SIGTERM));
  EXPECT_NE(m.find("SIGTERM"), std::string::npos);
  cancel::simulate(0);
}

// A failure caught while a stop is pending becomes the stop (the stop's handler may have removed the
// file the failing step reopened); without a signal it stays what it was, a deadline included; a
// failure another rank reports makes a stop that rank 0 alone reports too.
TEST(Reliability, AFailureDuringAStopIsReportedAsTheStop) {
  const Error caught(ExitCode::kRuntime, "cannot open out.tif.partial for writing: No such file or directory");
  cancel::throw_if_signalled(caught);  // nothing asked
  cancel::set_deadline(now_seconds() - 1, 5);
  cancel::throw_if_signalled(caught);  // a deadline is not a signal: the caught error is reported as it is
  cancel::clear_deadline();
  cancel::request(SIGINT);
  const auto stop = [](const std::exception& e) {
    try {
      cancel::throw_if_signalled(e);
    } catch (const Error& s) {
      EXPECT_EQ(s.code(), static_cast<ExitCode>(128 + SIGINT));
      EXPECT_NE(std::string(s.what()).find("stopped by SIGINT"), std::string::npos) << s.what();
      return s.reported_elsewhere();
    }
    ADD_FAILURE() << "not turned into the stop: " << e.what();
    return false;
  };
  EXPECT_FALSE(stop(caught));
  EXPECT_FALSE(stop(std::runtime_error("a library's read: Interrupted system call")));
  Error other_rank(ExitCode::kRuntime, "rank 1 failed");
  other_rank.mark_reported_elsewhere();
  EXPECT_TRUE(stop(other_rank));
  const Error itself(static_cast<ExitCode>(128 + SIGINT), "stopped by SIGINT: as thrown");
  cancel::throw_if_signalled(itself);  // the stop itself is rethrown by the caller as it is
  cancel::simulate(0);
}

// The stop signal's own handler removes the registered temporary output (a rank killed by mpirun
// right after the signal has no time for its cleanup); no file once the registration is cleared.
TEST(Reliability, AStopRemovesTheRegisteredTemporaryOutputAtOnce) {
  test::ScratchDir d("rel-stop-removes");
  const std::string a = d.file("out.tif.partial"), b = d.file("other.tif.partial");
  test::write_file(a, "pixels");
  test::write_file(b, "pixels");
  cancel::remove_on_stop(a);
  cancel::request(SIGTERM);  // what the handler runs
  EXPECT_FALSE(fs::exists(a));
  cancel::simulate(0);
  cancel::remove_on_stop(b);
  cancel::remove_on_stop("");
  cancel::request(SIGINT);
  EXPECT_TRUE(fs::exists(b));
  cancel::simulate(0);
  EXPECT_EQ(cancel::requested_signal(), 0);
}

TEST(Reliability, APassedDeadlineStopsWorkAsARuntimeFailure) {
  cancel::set_deadline(now_seconds() + 3600, 3600);
  EXPECT_FALSE(cancel::stop_requested());
  cancel::throw_if_requested();  // an hour left
  cancel::set_deadline(now_seconds() - 1, 42);
  EXPECT_TRUE(cancel::stop_requested());
  const std::string m = error_of([] { cancel::throw_if_requested(); }, ExitCode::kRuntime);
  EXPECT_NE(m.find("time limit of 42 s (--job-timeout)"), std::string::npos) << m;
  cancel::clear_deadline();
  EXPECT_FALSE(cancel::stop_requested());
  EXPECT_EQ(cancel::requested_signal(), 0);  // a deadline is not a signal
}

TEST(Reliability, RegistrationParametersAreCheckedBeforeElastix) {
  using transform::check_registration_parameters;
  using transform::parse_parameter_text;
  check_registration_parameters(
      parse_parameter_text("(Transform \"BSplineTransform\")\n(MaximumStepLength 1.5)\n", "p"), "p");
  EXPECT_NE(error_of([] { check_registration_parameters(parse_parameter_text("(Metric \"X\")\n", "p"), "p"); },
                     ExitCode::kBadInput)
                .find("no (Transform"),
            std::string::npos);
  EXPECT_NE(
      error_of([] { check_registration_parameters(parse_parameter_text("(Transform \"FooTransform\")\n", "p"), "p"); },
               ExitCode::kBadInput)
          .find("FooTransform"),
      std::string::npos);
  for (const char* v : {"nan", "-inf", "1e999"})
    EXPECT_NE(error_of(
                  [&] {
                    check_registration_parameters(
                        parse_parameter_text(std::string("(Transform \"AffineTransform\")\n(S ") + v + ")\n", "p"),
                        "p");
                  },
                  ExitCode::kBadInput)
                  .find("not a finite number"),
              std::string::npos)
        << v;
  // Values elastix would take wrongly (a negative count wraps to billions of iterations) or
  // refuse only after the images are written.
  const auto refusal = [](const std::string& line) {
    return error_of(
        [&] {
          check_registration_parameters(parse_parameter_text("(Transform \"AffineTransform\")\n" + line + "\n", "p"),
                                        "p");
        },
        ExitCode::kBadInput);
  };
  for (const char* line : {"(MaximumNumberOfIterations -5)", "(MaximumNumberOfIterations 500 0)",
                           "(NumberOfResolutions 2.5)", "(NumberOfSpatialSamples \"abc\")"})
    EXPECT_NE(refusal(line).find("not a whole number from 1"), std::string::npos) << line;
  EXPECT_NE(refusal("(FixedImageDimension 3)").find("2-D images"), std::string::npos);
  EXPECT_NE(refusal("(Registration \"Bogus\")").find("not an elastix registration component"), std::string::npos);
  check_registration_parameters(
      parse_parameter_text("(Transform \"AffineTransform\")\n(MaximumNumberOfIterations 500 250)\n"
                           "(FixedImageDimension 2)\n(Registration \"MultiResolutionRegistration\")\n",
                           "p"),
      "p");
}

TEST(Reliability, UnknownGdalDriverIsAUsageError) {
  error_of([] { io::set_allowed_drivers("GTiff,NoSuchDriver"); }, ExitCode::kUsage);
  io::set_allowed_drivers("GTiff,COG,PNG,JPEG");
  EXPECT_EQ(io::allowed_drivers().size(), 4u);
}
