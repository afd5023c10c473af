// Rescaling to the processing resolution. Shrinking averages the source area each output
// pixel covers (no aliasing of fine ridges); enlarging interpolates bilinearly.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "afis/common/simd.hpp"
#include "afis/common/vec8.hpp"
#include "afis/common/x86.hpp"
#include "afis/extract/stages.hpp"

// 32-byte vectors are passed between always-inlined helpers only: no ABI to keep.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace afis {

namespace {

using namespace vec8;
#define AFIS_INLINE inline __attribute__((always_inline))
constexpr int LANES = 8;

// For each output index, the source interval [lo, hi) it covers, as weights per source cell.
struct AreaWeights {
    std::vector<int> first;           // first source index per output index
    std::vector<std::vector<float>> w;  // weights of consecutive source indices
};

AreaWeights area_weights(int src, int dst) {
    AreaWeights a;
    a.first.resize(dst);
    a.w.resize(dst);
    const double step = static_cast<double>(src) / dst;
    for (int i = 0; i < dst; ++i) {
        const double lo = i * step, hi = std::min<double>(src, (i + 1) * step);
        const int first = static_cast<int>(std::floor(lo));
        a.first[i] = first;
        for (int s = first; s < hi; ++s) {
            const double cover = std::min<double>(s + 1, hi) - std::max<double>(s, lo);
            if (cover > 0) a.w[i].push_back(static_cast<float>(cover / step));
        }
    }
    return a;
}

// std::lround of a non-negative float below 2^24, clamped to a grey level: the float plus one
// half is exact in double, and truncation rounds it down.
inline std::uint8_t round_grey(float v) {
    return static_cast<std::uint8_t>(std::min(255, static_cast<int>(static_cast<double>(v) + 0.5)));
}

// Area averaging, separably: along x into float rows, then along y. The vertical pass takes a
// row at a time (the weights are the same along it), eight pixels a vector (lane by lane the
// scalar sum, same order: same bits).
template <class F>
AFIS_INLINE void shrink_columns(const Grid<float>& rows, const AreaWeights& ay, ByteGrid& out) {
    const int out_w = out.width;
    std::vector<float> acc_row(out_w);
    for (int y = 0; y < out.height; ++y) {
        const std::vector<float>& wy = ay.w[y];
        int x = 0;
        for (; x + LANES <= out_w; x += LANES) {
            F acc = splat<F>(0.0f);
            for (std::size_t k = 0; k < wy.size(); ++k)
                acc = acc + splat<F>(wy[k]) * load<F>(rows.row(ay.first[y] + static_cast<int>(k)) + x);
            store(&acc_row[x], acc);
        }
        for (; x < out_w; ++x) {
            float acc = 0;
            for (std::size_t k = 0; k < wy.size(); ++k) acc += wy[k] * rows.at(x, ay.first[y] + static_cast<int>(k));
            acc_row[x] = acc;
        }
        std::uint8_t* dst = out.row(y);
        for (x = 0; x < out_w; ++x) dst[x] = round_grey(acc_row[x]);
    }
}

void shrink_columns_plain(const Grid<float>& rows, const AreaWeights& ay, ByteGrid& out) {
    shrink_columns<F4x2>(rows, ay, out);
}

#ifdef AFIS_X86
__attribute__((target("avx2"))) void shrink_columns_avx2(const Grid<float>& rows, const AreaWeights& ay,
                                                         ByteGrid& out) {
    shrink_columns<F8>(rows, ay, out);
}
#endif

ByteGrid shrink(const ByteGrid& image, int out_w, int out_h) {
    const AreaWeights ax = area_weights(image.width, out_w), ay = area_weights(image.height, out_h);
    Grid<float> rows(out_w, image.height);
    for (int y = 0; y < image.height; ++y) {
        const std::uint8_t* src = image.row(y);
        float* dst = rows.row(y);
        for (int x = 0; x < out_w; ++x) {
            const float* wx = ax.w[x].data();
            const std::uint8_t* s = src + ax.first[x];
            const std::size_t n = ax.w[x].size();
            float acc = 0;
            for (std::size_t k = 0; k < n; ++k) acc += wx[k] * s[k];
            dst[x] = acc;
        }
    }
    ByteGrid out(out_w, out_h);
#ifdef AFIS_X86
    if (simd_level() >= SimdLevel::AVX2) {
        shrink_columns_avx2(rows, ay, out);
        return out;
    }
#endif
    shrink_columns_plain(rows, ay, out);
    return out;
}

ByteGrid enlarge(const ByteGrid& image, int out_w, int out_h) {
    ByteGrid out(out_w, out_h);
    const double sx = static_cast<double>(image.width) / out_w;
    const double sy = static_cast<double>(image.height) / out_h;
    for (int y = 0; y < out_h; ++y) {
        const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, image.height - 1.0);
        const int y0 = static_cast<int>(fy), y1 = std::min(y0 + 1, image.height - 1);
        const float ty = static_cast<float>(fy - y0);
        for (int x = 0; x < out_w; ++x) {
            const double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, image.width - 1.0);
            const int x0 = static_cast<int>(fx), x1 = std::min(x0 + 1, image.width - 1);
            const float tx = static_cast<float>(fx - x0);
            const float top = image.at(x0, y0) * (1 - tx) + image.at(x1, y0) * tx;
            const float bottom = image.at(x0, y1) * (1 - tx) + image.at(x1, y1) * tx;
            out.at(x, y) = static_cast<std::uint8_t>(std::lround(top * (1 - ty) + bottom * ty));
        }
    }
    return out;
}

}  // namespace

ByteGrid resample(const ByteGrid& image, double scale) {
    if (!(scale > 0) || !std::isfinite(scale)) throw std::invalid_argument("scale must be a positive finite number");
    if (image.width == 0 || image.height == 0) throw std::invalid_argument("cannot resample an empty image");
    if (std::fabs(scale - 1.0) < 1e-9) return image;
    const double w = std::round(image.width * scale), h = std::round(image.height * scale);
    constexpr double LIMIT = 1 << 16;
    if (w > LIMIT || h > LIMIT)
        throw std::invalid_argument("resampled image would be larger than 65536 pixels per side");
    const int out_w = std::max(1, static_cast<int>(w));
    const int out_h = std::max(1, static_cast<int>(h));
    return scale < 1.0 ? shrink(image, out_w, out_h) : enlarge(image, out_w, out_h);
}

}  // namespace afis
