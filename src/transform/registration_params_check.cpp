// Checks on a user's elastix registration parameter file (see elastix_params.hpp).
#include <cmath>
#include <cstdlib>
#include <set>
#include <string>

#include "alinify/core/error.hpp"
#include "alinify/transform/elastix_params.hpp"

namespace alinify::transform {
namespace {

// The transforms whose TransformParameters files alinify parses (elastix_params.cpp, parse_stage).
const std::set<std::string> kReadableTransforms{"TranslationTransform", "EulerTransform",
                                                "SimilarityTransform",  "AffineTransform",
                                                "BSplineTransform",     "RecursiveBSplineTransform"};

// "nan", "inf", "-Infinity", "1e999": strtod reads the whole token but the value is not finite.
bool is_non_finite_number(const std::string& v) {
  if (v.empty()) return false;
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  return end == v.c_str() + v.size() && !std::isfinite(d);
}

// Counts elastix takes as unsigned integers: a negative one wraps (-5 iterations ran 4 billion
// iterations, without end), text or a fraction is refused only after the images are written.
const std::set<std::string> kCountKeys{"MaximumNumberOfIterations",  "NumberOfResolutions",
                                       "NumberOfSpatialSamples",     "NumberOfHistogramBins",
                                       "NumberOfFixedHistogramBins", "NumberOfMovingHistogramBins"};

// elastix 5's registration components (its own list: elastix --help, "Registration").
const std::set<std::string> kRegistrations{"MultiResolutionRegistration", "MultiResolutionRegistrationWithFeatures",
                                           "MultiMetricMultiResolutionRegistration"};

bool is_positive_count(const std::string& v) {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stol(v) > 0;
}

}  // namespace

void check_registration_parameters(const ParameterMap& map, const std::string& file) {
  auto t = map.find("Transform");
  if (t == map.end()) fail_input(file, "has no (Transform ...) line; elastix needs one per parameter file");
  for (const auto& name : t->second)
    if (!kReadableTransforms.count(name))
      fail_input(file, "(Transform \"" + name + "\") is not a transform alinify can use (supported: " +
                           "TranslationTransform, EulerTransform, SimilarityTransform, AffineTransform, " +
                           "BSplineTransform, RecursiveBSplineTransform)");
  for (const auto& [key, values] : map)
    for (const auto& v : values) {
      if (is_non_finite_number(v)) fail_input(file, "(" + key + ") value '" + v + "' is not a finite number");
      if (kCountKeys.count(key) && !is_positive_count(v))
        fail_input(file, "(" + key + ") value '" + v + "' is not a whole number from 1 to 999999999");
      if ((key == "FixedImageDimension" || key == "MovingImageDimension") && v != "2")
        fail_input(file, "(" + key + " " + v + "): alinify registers 2-D images");
      if (key == "Registration" && !kRegistrations.count(v))
        fail_input(file, "(Registration \"" + v + "\") is not an elastix registration component (elastix has " +
                             "MultiResolutionRegistration, MultiResolutionRegistrationWithFeatures, " +
                             "MultiMetricMultiResolutionRegistration)");
    }
}

}  // namespace alinify::transform
