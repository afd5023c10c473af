#include "afis/common/util.hpp"

#include <algorithm>

#include "afis/common/simd.hpp"
#include "afis/common/vec8.hpp"
#include "afis/common/x86.hpp"

// 32-byte vectors are passed between always-inlined helpers only: no ABI to keep.
#pragma GCC diagnostic ignored "-Wpsabi"

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

using namespace vec8;
#define AFIS_INLINE inline __attribute__((always_inline))
constexpr int LANES = 8;

// One separable pass along x (horizontal=true) or y with edge clamping by renormalisation:
// taps outside the grid are left out of the sum. Eight outputs at a time, lane by lane the
// scalar sum in the same order; along x the row is read from a copy framed by zeros, whose
// terms (+0) leave the sum unchanged (it starts at +0, so it is never -0). The last group of
// a row is moved left to end at the row's end; grids narrower than eight take the scalar loop.
template <class F>
AFIS_INLINE void convolve_pass_v(const Grid<float>& in, Grid<float>& out, const std::vector<float>& k,
                                 bool horizontal) {
    const int radius = static_cast<int>(k.size() / 2), taps = static_cast<int>(k.size());
    const int w = in.width, h = in.height;
    if (horizontal) {
        std::vector<float> framed(static_cast<std::size_t>(w) + 2 * radius, 0.0f);
        for (int y = 0; y < h; ++y) {
            std::copy(in.row(y), in.row(y) + w, framed.begin() + radius);
            float* dst = out.row(y);
            if (w < LANES) {
                for (int x = 0; x < w; ++x) {
                    float acc = 0;
                    for (int j = 0; j < taps; ++j) acc += k[j] * framed[x + j];
                    dst[x] = acc;
                }
                continue;
            }
            for (int x = 0; x < w; x += LANES) {
                const int x0 = std::min(x, w - LANES);
                F acc = splat<F>(0.0f);
                for (int j = 0; j < taps; ++j) acc = acc + splat<F>(k[j]) * load<F>(&framed[x0 + j]);
                store(dst + x0, acc);
            }
        }
        return;
    }
    for (int y = 0; y < h; ++y) {
        const int i0 = std::max(-radius, -y), i1 = std::min(radius, h - 1 - y);
        float* dst = out.row(y);
        if (w < LANES) {
            for (int x = 0; x < w; ++x) {
                float acc = 0;
                for (int i = i0; i <= i1; ++i) acc += k[i + radius] * in.at(x, y + i);
                dst[x] = acc;
            }
            continue;
        }
        for (int x = 0; x < w; x += LANES) {
            const int x0 = std::min(x, w - LANES);
            F acc = splat<F>(0.0f);
            for (int i = i0; i <= i1; ++i) acc = acc + splat<F>(k[i + radius]) * load<F>(in.row(y + i) + x0);
            store(dst + x0, acc);
        }
    }
}

void convolve_plain(const Grid<float>& in, Grid<float>& out, const std::vector<float>& k, bool horizontal) {
    convolve_pass_v<F4x2>(in, out, k, horizontal);
}

#ifdef AFIS_X86
__attribute__((target("avx2"))) void convolve_avx2(const Grid<float>& in, Grid<float>& out,
                                                   const std::vector<float>& k, bool horizontal) {
    convolve_pass_v<F8>(in, out, k, horizontal);
}
#endif

void convolve_pass(const Grid<float>& in, Grid<float>& out, const std::vector<float>& k, bool horizontal) {
#ifdef AFIS_X86
    if (simd_level() >= SimdLevel::AVX2) return convolve_avx2(in, out, k, horizontal);
#endif
    convolve_plain(in, out, k, horizontal);
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
