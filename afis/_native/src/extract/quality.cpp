// Quality. Per minutia: how clear the ridge flow is around it (coherence) and how far it
// lies from the edge of the print. Per image: a 0-100 score in the spirit of NFIQ 2
// (ISO/IEC 29794-4), from orientation certainty, ridge clarity (how much of each ridge
// profile's energy sits at one period), the share of the print with a plausible ridge
// period, the foreground area and the minutiae count. It is not NFIQ 2 and is not
// calibrated against it; enrolment uses it to gate captures.
#include <algorithm>
#include <cmath>

#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

namespace {

float ramp(float v, float lo, float hi) { return std::clamp((v - lo) / (hi - lo), 0.0f, 1.0f); }

// Nominal area of a full fingertip at 500 ppi (about 12.5 x 15 mm).
constexpr float NOMINAL_FINGER_PIXELS = 45000.0f;

}  // namespace

void assign_minutia_quality(std::vector<Minutia>& minutiae, const OrientationField& orientation,
                            const Segmentation& segmentation) {
    const int block = orientation.coherence.block;
    for (Minutia& m : minutiae) {
        const float coherence = orientation.coherence.at(m.x / block, m.y / block);
        const float border = segmentation.border_distance.at(m.x, m.y);
        const float q = ramp(coherence, 0.1f, 0.8f) * (0.4f + 0.6f * ramp(border, params::BORDER_DISTANCE, 48.0f));
        m.quality = static_cast<std::uint8_t>(std::lround(100.0f * q));
    }
}

ImageQualityMeasures image_quality(const Segmentation& segmentation,
                                   const OrientationField& orientation, const RidgePeriod& period,
                                   int minutiae_count) {
    ImageQualityMeasures q;
    q.minutiae = minutiae_count;
    int foreground_blocks = 0;
    double coherence = 0;
    for (std::size_t i = 0; i < segmentation.blocks.size(); ++i) {
        if (!segmentation.blocks.data[i]) continue;
        ++foreground_blocks;
        coherence += orientation.coherence.data[i];
    }
    if (foreground_blocks == 0) return q;
    q.orientation_certainty = static_cast<float>(coherence / foreground_blocks);
    double clarity = 0;
    int measured = 0;
    for (std::size_t i = 0; i < period.strength.size(); ++i) {
        const int cx = static_cast<int>(i % period.strength.width), cy = static_cast<int>(i / period.strength.width);
        const int bx = std::min(segmentation.blocks.width - 1, (cx * period.strength.block + period.strength.block / 2) / segmentation.blocks.block);
        const int by = std::min(segmentation.blocks.height - 1, (cy * period.strength.block + period.strength.block / 2) / segmentation.blocks.block);
        if (!segmentation.blocks.at(bx, by)) continue;
        clarity += period.strength.data[i];
        ++measured;
    }
    q.ridge_clarity = measured ? static_cast<float>(clarity / measured) : 0.0f;
    q.frequency_validity = period.valid_share;
    int pixels = 0;
    for (std::uint8_t v : segmentation.pixels.data) pixels += v;
    q.foreground_share = std::min(1.0f, pixels / NOMINAL_FINGER_PIXELS);
    const float flow = 0.35f * ramp(q.orientation_certainty, 0.2f, 0.75f) +
                       0.35f * ramp(q.ridge_clarity, 0.25f, 0.7f) +
                       0.15f * q.frequency_validity + 0.15f * q.foreground_share;
    const float count = ramp(static_cast<float>(minutiae_count), 0.0f, 25.0f);
    q.score = static_cast<int>(std::lround(100.0f * flow * (0.3f + 0.7f * count)));
    q.score = std::clamp(q.score, 0, 100);
    if (minutiae_count == 0) q.score = std::min(q.score, 5);
    return q;
}

}  // namespace afis
