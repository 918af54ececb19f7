#pragma once
// sRGB (8-bit, D65) to CIELAB, and the two colour differences the defect finder knows (docs/defects.md).
#include <cstdint>
#include <vector>

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

// The defect map's batch path, in float: the sRGB decoding (srgb_to_lab's first step, the same
// table) of every value k / parts, k = 0..255 * parts (means of box sums, in fractions of a level).
std::vector<float> linear_light_of_sums(int32_t parts);

// Delta E 1976 and dL* = L*(first) - L*(second) of n colour pairs given in linear-light sRGB, planar:
// lin[0..2] the first colours' R, G, B, lin[3..5] the second's. The float counterpart of
// delta_e76(srgb_to_lab(...), srgb_to_lab(...)), within 1e-3 of it (a unit test); vectorised.
void delta_e76_linear(const float* const lin[6], int64_t n, float* de, float* dl);

// CIEDE2000 (kL = kC = kH = 1), as written out by Sharma, Wu and Dalal (2005).
double delta_e2000(const Lab& x, const Lab& y);

}  // namespace alinify::defects
