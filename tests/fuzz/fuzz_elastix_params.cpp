// libFuzzer target: elastix TransformParameters / parameter files (parse_parameter_text), the
// --params check, and one transform stage built from the map, evaluated at a few points.
// Invariants: format_parameter_map of a parsed map parses back to the same map.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "alinify/transform/elastix_params.hpp"
#include "fuzz_common.hpp"

using namespace alinify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source = "TransformParameters.fuzz.txt";
  const std::string text(reinterpret_cast<const char*>(data), size);
  transform::ParameterMap map;
  try {
    map = transform::parse_parameter_text(text, source);
  } catch (const Error& e) {
    fuzz::expect_bad_input(e, source);
    return 0;
  }
  // Round trip: what alinify writes (full-resolution chains) it must read back unchanged.
  const std::string again = transform::format_parameter_map(map);
  try {
    fuzz::expect(transform::parse_parameter_text(again, source) == map, "format/parse round trip changed the map");
  } catch (const Error& e) {
    fuzz::finding(std::string("format_parameter_map wrote text it cannot read: ") + e.what());
  }
  try {
    transform::check_registration_parameters(map, source);
  } catch (const Error& e) {
    fuzz::expect_bad_input(e, source);
  }
  try {
    transform::Transform t;
    t.stages.push_back(transform::stage_from_parameter_map(map, source));
    for (double x : {0.0, 17.5, 1000.0})
      for (double y : {0.0, 9.25, 800.0}) {
        Vec2 q = t.apply({x, y});
        (void)q;  // may be non-finite for absurd parameters; evaluating must not be UB
      }
  } catch (const Error& e) {
    fuzz::expect_bad_input(e, source);
  }
  return 0;
}
