// Plain value types passed between pipeline stages and out of the native core.
#pragma once

#include <cstdint>
#include <vector>

#include "afis/common/grid.hpp"

namespace afis {

// Angles inside the pipeline are in image coordinates (x right, y down): a direction
// vector is (cos a, sin a). Ridge orientations are in [0, pi). The template the pipeline
// returns uses the interchange convention instead (counter-clockwise, y up, [0, 2 pi)).

enum class MinutiaType : std::uint8_t { Other = 0, Ending = 1, Bifurcation = 2 };
enum class SingularType : std::uint8_t { Core = 1, Delta = 2 };

struct Point {
    int x = 0;
    int y = 0;
};

struct Minutia {
    int x = 0;
    int y = 0;
    float direction = 0.0f;  // radians, counter-clockwise from +x with y up, [0, 2 pi)
    MinutiaType type = MinutiaType::Other;
    std::uint8_t quality = 0;  // 0..100
};

struct SingularPoint {
    int x = 0;
    int y = 0;
    SingularType type = SingularType::Core;
};

// Per-block statistics gathered in one pass over the image.
struct BlockStatistics {
    BlockField<float> mean;      // mean grey level
    BlockField<float> contrast;  // standard deviation of grey level
    BlockField<float> gxx, gyy, gxy;  // summed gradient tensor
};

struct OrientationField {
    BlockField<float> angle;      // ridge orientation, [0, pi), image coordinates
    BlockField<float> coherence;  // 0 (isotropic) .. 1 (perfectly parallel ridges)
};

struct Segmentation {
    BlockField<std::uint8_t> blocks;  // 1 = foreground block
    ByteGrid pixels;                  // 1 = foreground pixel
    FloatGrid border_distance;        // pixels to the nearest background pixel
};

struct RidgePeriod {
    BlockField<float> period;    // ridge period in pixels, filled and smoothed
    BlockField<float> strength;  // share of profile energy in the spectral peak, 0 where unmeasured
    float valid_share = 0.0f;    // share of foreground windows with a plausible period
};

struct ImageQualityMeasures {
    float orientation_certainty = 0.0f;
    float ridge_clarity = 0.0f;
    float frequency_validity = 0.0f;
    float foreground_share = 0.0f;
    int minutiae = 0;
    int score = 0;  // 0..100
};

// What extraction produces.
struct Features {
    int width = 0;   // of the processing grid
    int height = 0;
    std::vector<Minutia> minutiae;
    std::vector<SingularPoint> singular_points;
    ImageQualityMeasures quality;
};

// Optional sink for intermediate results, filled by the pipeline driver (never by stages).
struct Trace {
    ByteGrid image;               // the image on the processing grid
    Segmentation segmentation;
    OrientationField orientation;
    RidgePeriod period;
    FloatGrid enhanced;
    ByteGrid binary;
    ByteGrid skeleton;
    std::vector<Minutia> raw_minutiae;  // before the false-minutiae filters
};

struct Options {
    int max_minutiae = 150;
};

}  // namespace afis
