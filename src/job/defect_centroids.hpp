#pragma once
// The defects' centroids from their extent (defects::extent_centroid, docs/defects.md
// "Centroids"): rank 0 sends every rank the merged defects' boxes, each rank computes the Delta E
// around its share of them again (the strips' maps are gone by then) and rank 0 puts the centroids
// in. A function of each defect's box and the images alone: the same for any rank count.
#include <string>
#include <vector>

#include "alinify/defects/strip.hpp"
#include "defect_crops.hpp"

namespace alinify::job::detail {

// Rank 0: the boxes of `found`, for every rank.
std::string defect_boxes_message(const std::vector<defects::Defect>& found);

// Every rank: the extent centroids of the defects i with i % parts == part whose box is at most
// defects::kExtentMaxBoxPixels, as a message for rank 0.
std::string extent_centroids_share(const std::string& boxes, int part, int parts, const CropSource& src);

// Rank 0: the gathered shares into `found` (cx, cy; the others keep their pixels' centroid).
// Returns how many centroids were replaced.
int64_t apply_extent_centroids(const std::vector<std::string>& shares, std::vector<defects::Defect>& found);

}  // namespace alinify::job::detail
