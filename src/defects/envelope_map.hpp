#pragma once
// delta_map's envelope comparison (the default), in its own file: the defect stage's hot loop.
#include <cstdint>

#include "alinify/defects/strip.hpp"

namespace alinify::defects::detail {

// delta_map for Compare::kEnvelope (same contract; the caller checked the window).
void envelope_delta_map(const StripPixels& px, int64_t y0, int64_t rows, const ColourModel& model,
                        const DefectOptions& o, const uint8_t* valid, DeltaMap& map);

}  // namespace alinify::defects::detail
