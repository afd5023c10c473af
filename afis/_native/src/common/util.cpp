#include "afis/common/util.hpp"

#include <algorithm>

namespace afis {

std::vector<float> gaussian_kernel(float sigma) {
    const int radius = std::max(1, static_cast<int>(std::ceil(3.0f * sigma)));
    std::vector<float> k(2 * radius + 1);
    float sum = 0;
    for (int i = -radius; i <= radius; ++i) {
        k[i + radius] = std::exp(-0.5f * i * i / (sigma * sigma));
        sum += k[i + radius];
    }
    for (float& v : k) v /= sum;
    return k;
}

namespace {

// One separable pass along x (horizontal=true) or y with edge clamping by renormalisation.
void convolve_pass(const Grid<float>& in, Grid<float>& out, const std::vector<float>& k,
                   bool horizontal) {
    const int radius = static_cast<int>(k.size() / 2);
    const int w = in.width, h = in.height;
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            float acc = 0;
            for (int i = -radius; i <= radius; ++i) {
                const int sx = horizontal ? x + i : x;
                const int sy = horizontal ? y : y + i;
                if (sx < 0 || sy < 0 || sx >= w || sy >= h) continue;
                acc += k[i + radius] * in.at(sx, sy);
            }
            out.at(x, y) = acc;
        }
    }
}

}  // namespace

void smooth_weighted(Grid<float>& values, const Grid<float>* weight, float sigma) {
    if (values.empty() || sigma <= 0) return;
    const std::vector<float> k = gaussian_kernel(sigma);
    Grid<float> num(values.width, values.height), den(values.width, values.height, 1.0f);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const float wgt = weight ? weight->data[i] : 1.0f;
        num.data[i] = values.data[i] * wgt;
        den.data[i] = wgt;
    }
    Grid<float> tmp(values.width, values.height);
    convolve_pass(num, tmp, k, true);
    convolve_pass(tmp, num, k, false);
    convolve_pass(den, tmp, k, true);
    convolve_pass(tmp, den, k, false);
    for (std::size_t i = 0; i < values.size(); ++i)
        values.data[i] = den.data[i] > 1e-6f ? num.data[i] / den.data[i] : 0.0f;
}

namespace {

// For each pixel coordinate along one axis: the two block indices and the weight of the
// second, clamped at the edges.
struct AxisWeights {
    std::vector<int> lo, hi;
    std::vector<float> t;
};

AxisWeights axis_weights(int pixels, int blocks, int block) {
    AxisWeights a;
    a.lo.resize(pixels);
    a.hi.resize(pixels);
    a.t.resize(pixels);
    for (int i = 0; i < pixels; ++i) {
        const float f = (i + 0.5f) / block - 0.5f;
        const int lo = std::clamp(static_cast<int>(std::floor(f)), 0, blocks - 1);
        a.lo[i] = lo;
        a.hi[i] = std::min(lo + 1, blocks - 1);
        a.t[i] = std::clamp(f - lo, 0.0f, 1.0f);
    }
    return a;
}

}  // namespace

BlockUpsampling::BlockUpsampling(const BlockField<float>& field, int width, int height)
    : across(width, field.height) {
    const AxisWeights ax = axis_weights(width, field.width, field.block);
    AxisWeights ay = axis_weights(height, field.height, field.block);
    for (int by = 0; by < field.height; ++by) {
        const float* src = field.row(by);
        float* dst = across.row(by);
        for (int x = 0; x < width; ++x)
            dst[x] = src[ax.lo[x]] + (src[ax.hi[x]] - src[ax.lo[x]]) * ax.t[x];
    }
    lo = std::move(ay.lo);
    hi = std::move(ay.hi);
    t = std::move(ay.t);
}

FloatGrid upsample_block_field(const BlockField<float>& field, int width, int height) {
    FloatGrid out(width, height);
    if (field.empty() || width == 0 || height == 0) return out;
    // Interpolate each block row across x once, then blend two such rows per pixel row.
    const BlockUpsampling up(field, width, height);
    for (int y = 0; y < height; ++y) {
        const float* a = up.across.row(up.lo[y]);
        const float* b = up.across.row(up.hi[y]);
        const float t = up.t[y];
        float* dst = out.row(y);
        for (int x = 0; x < width; ++x) dst[x] = a[x] + (b[x] - a[x]) * t;
    }
    return out;
}

}  // namespace afis
