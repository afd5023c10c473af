// The extraction pipeline: calls the stages in order, passing plain values. When a trace
// sink is given, the driver (never a stage) records each intermediate result in it.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

Features extract_features(const ByteGrid& image, const Options& options, Trace* trace) {
    if (image.width < params::MIN_IMAGE_SIDE || image.height < params::MIN_IMAGE_SIDE ||
        image.width > params::MAX_IMAGE_SIDE || image.height > params::MAX_IMAGE_SIDE)
        throw std::invalid_argument("image of " + std::to_string(image.width) + "x" +
                                    std::to_string(image.height) +
                                    " pixels at 500 ppi is outside the supported range " +
                                    std::to_string(params::MIN_IMAGE_SIDE) + ".." +
                                    std::to_string(params::MAX_IMAGE_SIDE) + " per side");
    if (options.max_minutiae < 0) throw std::invalid_argument("max_minutiae must be >= 0");
    if (trace) trace->image = image;

    Features features;
    features.width = image.width;
    features.height = image.height;

    const BlockStatistics stats = block_statistics(image, params::BLOCK);
    Segmentation segmentation = segment(stats, image.width, image.height);
    const OrientationField orientation =
        orientation_field(stats, segmentation.blocks, params::ORIENTATION_SMOOTHING_SIGMA);
    const FloatGrid normalized = normalize(image, stats);
    RidgePeriod period = ridge_period(normalized, orientation, segmentation.blocks);
    FloatGrid enhanced = enhance(normalized, orientation, period, segmentation.pixels);
    ByteGrid binary = binarize(enhanced, segmentation.pixels);
    ByteGrid skeleton = thin(binary);
    RidgeGraph graph = trace_ridges(skeleton);
    if (trace) trace->raw_minutiae = detect_minutiae(graph);
    filter_ridge_graph(graph);

    std::vector<Minutia> minutiae = filter_minutiae(detect_minutiae(graph), segmentation);
    refine_minutia_directions(minutiae, orientation);
    assign_minutia_quality(minutiae, orientation, segmentation);
    // Keep the best when there are too many; the order of the output is by position, so the
    // same image always yields the same template.
    std::stable_sort(minutiae.begin(), minutiae.end(),
                     [](const Minutia& a, const Minutia& b) { return a.quality > b.quality; });
    if (static_cast<int>(minutiae.size()) > options.max_minutiae) minutiae.resize(options.max_minutiae);
    std::sort(minutiae.begin(), minutiae.end(), [](const Minutia& a, const Minutia& b) {
        return a.y != b.y ? a.y < b.y : a.x < b.x;
    });

    const OrientationField smooth =
        orientation_field(stats, segmentation.blocks, params::SINGULAR_SMOOTHING_SIGMA);
    features.singular_points = singular_points(smooth, segmentation);
    features.quality = image_quality(segmentation, orientation, period, static_cast<int>(minutiae.size()));
    features.minutiae = std::move(minutiae);

    if (trace) {
        trace->segmentation = std::move(segmentation);
        trace->orientation = orientation;
        trace->period = std::move(period);
        trace->enhanced = std::move(enhanced);
        trace->binary = std::move(binary);
        trace->skeleton = std::move(skeleton);
    }
    return features;
}

}  // namespace afis
