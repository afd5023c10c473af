// Small numeric helpers shared by several stages.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "afis/common/grid.hpp"

namespace afis {

constexpr float PI = 3.14159265358979323846f;

// atan2 with about 1e-4 rad error, several times faster than std::atan2.
inline float fast_atan2(float y, float x) {
    const float ax = std::fabs(x), ay = std::fabs(y);
    const float mx = ax > ay ? ax : ay;
    if (mx == 0.0f) return 0.0f;
    const float mn = ax > ay ? ay : ax;
    const float a = mn / mx;
    const float s = a * a;
    float r = ((-0.0464964749f * s + 0.15931422f) * s - 0.327622764f) * s * a + a;
    if (ay > ax) r = 1.57079637f - r;
    if (x < 0) r = PI - r;
    if (y < 0) r = -r;
    return r;
}

// Grows a scratch vector to at least n elements (never shrinks it: scratch is reused).
template <typename T>
void fit(std::vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
}

// A difference of angles within a few turns wrapped into (-pi, pi]: a loop of conditional
// steps, much cheaper than fmod on the matcher's hot paths.
inline float wrap_pi(float a) {
    while (a > PI) a -= 2 * PI;
    while (a <= -PI) a += 2 * PI;
    return a;
}

// Angle wrapped into [0, period).
inline float wrap_angle(float a, float period) {
    a = std::fmod(a, period);
    return a < 0 ? a + period : a;
}

// Normalised 1-D Gaussian kernel of the given sigma, radius ceil(3 sigma).
std::vector<float> gaussian_kernel(float sigma);

// Separable Gaussian smoothing of a grid; cells with weight zero do not contribute and the
// result is normalised by the smoothed weight (normalised convolution). `weight` may be
// null for uniform weight.
void smooth_weighted(Grid<float>& values, const Grid<float>* weight, float sigma);

// Bilinear interpolation of a block field (block centres at (b + 0.5) * block, clamped at
// the edges) at every pixel of a width x height image, computed separably.
FloatGrid upsample_block_field(const BlockField<float>& field, int width, int height);

// The same interpolation a pixel row at a time, for stages that use each row once: every
// block row is interpolated across x once (`across`), then pixel row y is
// across(lo[y]) + (across(hi[y]) - across(lo[y])) * t[y], which is what
// upsample_block_field stores, bit for bit. The field must not be empty.
struct BlockUpsampling {
    FloatGrid across;  // width x field.height
    std::vector<int> lo, hi;
    std::vector<float> t;
    BlockUpsampling(const BlockField<float>& field, int width, int height);
};

}  // namespace afis
