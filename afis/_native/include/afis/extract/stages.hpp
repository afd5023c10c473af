// The extraction stages, in pipeline order. Each is a function from plain values to plain
// values, implemented in its own source file; pipeline.cpp calls them in order.
#pragma once

#include <vector>

#include "afis/common/grid.hpp"
#include "afis/extract/ridge_graph.hpp"
#include "afis/extract/types.hpp"

namespace afis {

// resample.cpp: rescale to the processing resolution (area-weighted when shrinking).
ByteGrid resample(const ByteGrid& image, double scale);

// block_statistics.cpp: block means, contrast and gradient tensor sums.
BlockStatistics block_statistics(const ByteGrid& image, int block);

// segmentation.cpp: foreground blocks and pixels, distance to the background.
Segmentation segment(const BlockStatistics& stats, int image_width, int image_height);

// orientation.cpp: smoothed ridge orientation and its coherence.
OrientationField orientation_field(const BlockStatistics& stats,
                                   const BlockField<std::uint8_t>& mask, float sigma_blocks);

// normalize.cpp: zero-mean, unit-contrast image on a padded grid (params::PAD each side).
FloatGrid normalize(const ByteGrid& image, const BlockStatistics& stats);

// frequency.cpp: local ridge period from oriented ridge profiles.
RidgePeriod ridge_period(const FloatGrid& normalized_padded, const OrientationField& orientation,
                         const BlockField<std::uint8_t>& mask);

// enhance.cpp: oriented band-pass filtering tuned to local orientation and period.
// Input and output are padded grids; the output is zero outside the foreground.
FloatGrid enhance(const FloatGrid& normalized_padded, const OrientationField& orientation,
                  const RidgePeriod& period, const ByteGrid& foreground);

// binarize.cpp: ridge (1) / valley (0) image, small specks removed. Unpadded output.
ByteGrid binarize(const FloatGrid& enhanced_padded, const ByteGrid& foreground);

// thinning.cpp: one-pixel-wide, 8-connected ridge skeleton.
ByteGrid thin(const ByteGrid& binary);

// ridge_graph.cpp: skeleton as a graph of ridges between endings and junctions.
RidgeGraph trace_ridges(const ByteGrid& skeleton);

// minutiae_filter.cpp: removes spurs, fragments, bridges, holes and joins gaps in place.
void filter_ridge_graph(RidgeGraph& graph);

// minutiae.cpp: endings and bifurcations of a graph, with direction.
std::vector<Minutia> detect_minutiae(const RidgeGraph& graph);

// minutiae_filter.cpp: drops minutiae near the foreground border and in dense clusters.
std::vector<Minutia> filter_minutiae(std::vector<Minutia> minutiae,
                                     const Segmentation& segmentation);

// minutia_direction.cpp: directions moved towards the smoothed orientation field's axis
// where the two nearly agree (the skeleton keeps deciding the sense).
void refine_minutia_directions(std::vector<Minutia>& minutiae, const OrientationField& orientation);

// quality.cpp: per-minutia quality and the image quality score.
void assign_minutia_quality(std::vector<Minutia>& minutiae, const OrientationField& orientation,
                            const Segmentation& segmentation);
ImageQualityMeasures image_quality(const Segmentation& segmentation,
                                   const OrientationField& orientation, const RidgePeriod& period,
                                   int minutiae_count);

// singular.cpp: cores and deltas by Poincare index on a strongly smoothed field.
std::vector<SingularPoint> singular_points(const OrientationField& smooth_orientation,
                                           const Segmentation& segmentation);

// pipeline.cpp: the whole extraction on an image already at the processing resolution.
Features extract_features(const ByteGrid& image, const Options& options, Trace* trace);

}  // namespace afis
