// Masked normalised cross-correlation at every shift by FFT (Padfield 2012; see coarse_align.hpp).
#include <algorithm>
#include <cmath>

#include "alinify/core/error.hpp"
#include "alinify/reg/coarse_align.hpp"

namespace alinify::reg::coarse {

namespace {

// The six correlations the NCC needs, packed two per complex array (real part, imaginary part);
// each array holds one inverse FFT.
struct Correlations {
  ComplexVector count_and_image_sum;             // N, Sf
  ComplexVector image_squares_and_template_sum;  // Sf2, St
  ComplexVector template_squares_and_product;    // St2, Sft
};

Correlations correlations(const ImageSpectra& image, const ImageSpectra& templ) {
  const int pad_width = image.pad_w, pad_height = image.pad_h;
  const size_t n_bins = static_cast<size_t>(pad_width) * pad_height;
  Correlations out;
  ComplexVector& a = out.count_and_image_sum;
  ComplexVector& b = out.image_squares_and_template_sum;
  ComplexVector& c = out.template_squares_and_product;
  a.resize(n_bins);
  b.resize(n_bins);
  c.resize(n_bins);
  const Complex i(0, 1);
  for (size_t k = 0; k < n_bins; ++k) {
    const Complex template_mask = std::conj(templ.m[k]), template_f = std::conj(templ.f1[k]),
                  template_f2 = std::conj(templ.f2[k]);
    a[k] = template_mask * image.m[k] + i * (template_mask * image.f1[k]);
    b[k] = template_mask * image.f2[k] + i * (template_f * image.m[k]);
    c[k] = template_f2 * image.m[k] + i * (template_f * image.f1[k]);
  }
  fft2d(a, pad_width, pad_height, true);
  fft2d(b, pad_width, pad_height, true);
  fft2d(c, pad_width, pad_height, true);
  return out;
}

}  // namespace

CorrelationMap masked_ncc(const ImageSpectra& image, const Image& templ, const std::vector<float>& template_mask) {
  const int pad_width = image.pad_w, pad_height = image.pad_h;
  if (image.iw + templ.width - 1 > pad_width || image.ih + templ.height - 1 > pad_height)
    fail_runtime("coarse NCC: padding too small");
  // The template's spectra are computed exactly as the image's, on the same padded grid.
  const Correlations sums = correlations(image, image_spectra(templ, template_mask, pad_width, pad_height));
  CorrelationMap map;
  map.min_sx = -(templ.width - 1);
  map.min_sy = -(templ.height - 1);
  map.width = image.iw + templ.width - 1;
  map.height = image.ih + templ.height - 1;
  map.ncc.assign(static_cast<size_t>(map.width) * map.height, -1.f);
  map.overlap.assign(map.ncc.size(), 0.f);
  for (int j = 0; j < map.height; ++j)
    for (int i = 0; i < map.width; ++i) {
      const int sx = i + map.min_sx, sy = j + map.min_sy;
      // A negative shift wraps around the padded grid.
      const size_t bin = static_cast<size_t>((sy + pad_height) % pad_height) * pad_width + (sx + pad_width) % pad_width;
      const double n = sums.count_and_image_sum[bin].real();
      const size_t cell = static_cast<size_t>(j) * map.width + i;
      map.overlap[cell] = static_cast<float>(std::max(0.0, n));
      if (n < 16) continue;
      const double sf = sums.count_and_image_sum[bin].imag(), sf2 = sums.image_squares_and_template_sum[bin].real(),
                   st = sums.image_squares_and_template_sum[bin].imag(),
                   st2 = sums.template_squares_and_product[bin].real(),
                   sft = sums.template_squares_and_product[bin].imag();
      const double variance_f = sf2 - sf * sf / n, variance_t = st2 - st * st / n;
      if (variance_f <= 1e-6 * n || variance_t <= 1e-6 * n) continue;
      map.ncc[cell] =
          static_cast<float>(std::clamp((sft - sf * st / n) / std::sqrt(variance_f * variance_t), -1.0, 1.0));
    }
  return map;
}

}  // namespace alinify::reg::coarse
