// FFTs (FFTW3) and the image spectra that the masked NCC multiplies (see coarse_align.hpp).
//
// Threads: FFTW's planner is not thread-safe, executing a plan is (fftw_execute_dft on arrays of
// the caller's own). So plans are made once per (size, direction), under a mutex, and kept for the
// life of the process; transforms on several threads at once then only execute them.
// FFTW_ESTIMATE: the planner picks its algorithm by rule instead of by timing trial runs, so the
// same size gets the same plan, and the same output bits, on every run and machine load.
// 2D plans are made on and executed on 64-byte aligned storage (ComplexVector), so FFTW may use
// its SIMD code; fft1d takes any pointer and so plans FFTW_UNALIGNED (scalar code).
#include <fftw3.h>

#include <map>
#include <mutex>
#include <tuple>

#include "alinify/core/error.hpp"
#include "alinify/reg/coarse_align.hpp"

namespace alinify::reg::coarse {

namespace {

// std::complex<double> and fftw_complex have the same layout (the C++ standard guarantees it, and
// FFTW's manual relies on it).
fftw_complex* as_fftw(Complex* data) { return reinterpret_cast<fftw_complex*>(data); }

class PlanCache {
 public:
  PlanCache() = default;
  PlanCache(const PlanCache&) = delete;
  PlanCache& operator=(const PlanCache&) = delete;
  ~PlanCache() {
    for (auto& entry : plans_) fftw_destroy_plan(entry.second);
  }

  // An in-place plan for a width x height row-major array (height 1: one dimension), for aligned
  // storage (ComplexVector) or any. The plan is handed out by value: it stays valid while the
  // cache lives, whatever plans are added later.
  fftw_plan get(int width, int height, bool inverse, bool aligned) {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto key = std::make_tuple(width, height, inverse, aligned);
    if (const auto found = plans_.find(key); found != plans_.end()) return found->second;
    // FFTW_ESTIMATE does not touch the arrays it plans with: a scratch array of the size (and of
    // the alignment the plan will be executed on) serves.
    ComplexVector scratch(static_cast<size_t>(width) * height);
    fftw_complex* data = as_fftw(scratch.data());
    const int sign = inverse ? FFTW_BACKWARD : FFTW_FORWARD;
    const unsigned flags = FFTW_ESTIMATE | (aligned ? 0u : FFTW_UNALIGNED);
    const fftw_plan plan = height == 1 ? fftw_plan_dft_1d(width, data, data, sign, flags)
                                       : fftw_plan_dft_2d(height, width, data, data, sign, flags);
    if (!plan) fail_runtime("coarse alignment: FFTW could not plan a transform of the padded size");
    plans_.emplace(key, plan);
    return plan;
  }

 private:
  std::mutex mutex_;
  std::map<std::tuple<int, int, bool, bool>, fftw_plan> plans_;
};

PlanCache& plans() {
  static PlanCache cache;
  return cache;
}

// Two real images packed as a + i b -> their two spectra.
void unpack(const ComplexVector& packed, int width, int height, ComplexVector& spectrum_a, ComplexVector& spectrum_b) {
  spectrum_a.resize(packed.size());
  spectrum_b.resize(packed.size());
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const size_t k = static_cast<size_t>(y) * width + x;
      const size_t mirror = static_cast<size_t>((height - y) % height) * width + (width - x) % width;
      const Complex here = packed[k], there = std::conj(packed[mirror]);
      spectrum_a[k] = (here + there) * 0.5;
      spectrum_b[k] = (here - there) * Complex(0, -0.5);
    }
}

}  // namespace

void fft1d(Complex* data, int n, bool inverse) {
  if (n < 1) fail_runtime("coarse alignment: FFT of an empty array");
  fftw_execute_dft(plans().get(n, 1, inverse, false), as_fftw(data), as_fftw(data));
}

void fft2d(ComplexVector& data, int width, int height, bool inverse) {
  if (width < 1 || height < 1 || data.size() != static_cast<size_t>(width) * height)
    fail_runtime("coarse alignment: FFT array does not match its size");
  fftw_execute_dft(plans().get(width, height, inverse, true), as_fftw(data.data()), as_fftw(data.data()));
  if (inverse) {
    const double scale = 1.0 / (static_cast<double>(width) * height);
    for (auto& v : data) v *= scale;
  }
}

ImageSpectra image_spectra(const Image& image, const std::vector<float>& mask, int pad_w, int pad_h) {
  ImageSpectra spectra;
  spectra.pad_w = pad_w;
  spectra.pad_h = pad_h;
  spectra.iw = image.width;
  spectra.ih = image.height;
  // f*m and f^2*m packed as one complex image, m on its own.
  ComplexVector packed(static_cast<size_t>(pad_w) * pad_h), mask_spectrum(packed.size());
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      const float m = mask[static_cast<size_t>(y) * image.width + x];
      const double masked = image.at(x, y) * m;
      packed[static_cast<size_t>(y) * pad_w + x] = Complex(masked, masked * image.at(x, y));
      mask_spectrum[static_cast<size_t>(y) * pad_w + x] = m;
    }
  fft2d(packed, pad_w, pad_h, false);
  fft2d(mask_spectrum, pad_w, pad_h, false);
  unpack(packed, pad_w, pad_h, spectra.f1, spectra.f2);
  spectra.m = std::move(mask_spectrum);
  return spectra;
}

}  // namespace alinify::reg::coarse
