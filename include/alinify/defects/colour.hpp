#pragma once
// sRGB (8-bit, D65) to CIELAB, and the two colour differences the defect finder knows (docs/defects.md).
#include <cstdint>

namespace alinify::defects {

struct Lab {
  double L = 0, a = 0, b = 0;
};

// sRGB channel values in 0..255 (fractions allowed: a colour-mapped design is not integral; values
// outside are clamped) -> CIELAB with the D65 white of sRGB (IEC 61966-2-1 matrix, CIE 1976 L*a*b*).
Lab srgb_to_lab(double r, double g, double b);

// The cube root of t > 0 to about 1e-13 relative, several times faster than std::cbrt (whose
// exponent handling was a seventh of the defect stage's time in a perf profile; the defect map
// takes six cube roots a compared pixel). Used by srgb_to_lab, where t is in (0.0088, 1.1].
double cube_root(double t);

// CIE 1976: Euclidean distance in L*a*b*.
double delta_e76(const Lab& x, const Lab& y);

// CIEDE2000 (kL = kC = kH = 1), as written out by Sharma, Wu and Dalal (2005).
double delta_e2000(const Lab& x, const Lab& y);

}  // namespace alinify::defects
