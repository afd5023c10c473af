// Contextual enhancement with an oriented, separable Gabor-like filter. A Gabor kernel is
// separable in the ridge-aligned frame: a Gaussian along the ridge times a Gaussian-
// windowed cosine across it. So the image is first smoothed along the ridge flow (a curved
// path per block that follows the orientation field), then band-passed across it at the
// local ridge period (one precomputed 1-D kernel per orientation and period bin). That
// costs ~40 taps a pixel instead of ~200 for a 2-D kernel.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "afis/common/simd.hpp"
#include "afis/common/util.hpp"
#include "afis/common/vec8.hpp"
#include "afis/common/x86.hpp"
#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"

// 32-byte vectors are passed between always-inlined helpers only: no ABI to keep.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace afis {

namespace {

using namespace vec8;
#define AFIS_INLINE inline __attribute__((always_inline))

constexpr int O = params::ENHANCE_ORIENTATION_BINS, Q = params::ENHANCE_PERIOD_BINS;
constexpr int R = params::ENHANCE_ALONG_RADIUS, TAPS = 2 * R + 1, B = params::ENHANCE_PATH_BLOCK;
// The vector kernels below take eight pixels at a time: one block row of the along-ridge pass.
constexpr int LANES = 8;
static_assert(B == LANES, "the along-ridge pass takes one block row per vector");
// Pixel kernel index of background pixels (the band-pass skips them).
constexpr std::uint16_t NO_KERNEL = 0xFFFF;
static_assert(O * Q < NO_KERNEL, "kernel indices fit 16 bits");

// One across-ridge kernel: tap positions relative to the centre and weights. Neither depends
// on the image (only the linear offsets do, through the row stride), so they are made once.
struct AcrossKernel {
    std::vector<int> dx, dy;
    std::vector<float> weights;
};

float bin_period(int q) {
    return params::MIN_RIDGE_PERIOD +
           (params::MAX_RIDGE_PERIOD - params::MIN_RIDGE_PERIOD) * q / static_cast<float>(Q - 1);
}

AcrossKernel across_kernel(float theta, float period) {
    AcrossKernel k;
    const float nx = -std::sin(theta), ny = std::cos(theta);
    const float sigma = params::ENHANCE_ACROSS_SIGMA_PERIODS * period;
    const int radius = std::min(params::PAD,
                                static_cast<int>(std::ceil(params::ENHANCE_ACROSS_RADIUS_SIGMAS * sigma)));
    std::vector<float> envelope;
    float env_sum = 0, wave_sum = 0;
    for (int i = -radius; i <= radius; ++i) {
        k.dx.push_back(static_cast<int>(std::lround(i * nx)));
        k.dy.push_back(static_cast<int>(std::lround(i * ny)));
        const float env = std::exp(-0.5f * i * i / (sigma * sigma));
        envelope.push_back(env);
        k.weights.push_back(env * std::cos(2 * PI * i / period));
        env_sum += env;
        wave_sum += k.weights.back();
    }
    // Remove the DC response so flat areas map to zero whatever their level.
    float norm = 0;
    for (std::size_t i = 0; i < k.weights.size(); ++i) {
        k.weights[i] -= envelope[i] * wave_sum / env_sum;
        norm += std::fabs(k.weights[i]);
    }
    for (float& w : k.weights) w /= norm;
    return k;
}

// Kernel o * Q + q: orientation bin o, period bin q.
const std::vector<AcrossKernel>& across_kernels() {
    static const std::vector<AcrossKernel> kernels = [] {
        std::vector<AcrossKernel> all(static_cast<std::size_t>(O) * Q);
        for (int o = 0; o < O; ++o) {
            const float theta = PI * o / O;
            for (int q = 0; q < Q; ++q) all[o * Q + q] = across_kernel(theta, bin_period(q));
        }
        return all;
    }();
    return kernels;
}

// The across-ridge kernels of one image, flat: kernel k's taps are [start[k], start[k + 1]).
struct KernelTable {
    std::vector<std::ptrdiff_t> offsets;  // linear offsets in the padded grid
    std::vector<float> weights;
    std::vector<int> start;
};

KernelTable kernel_table(std::ptrdiff_t stride) {
    KernelTable t;
    for (const AcrossKernel& k : across_kernels()) {
        t.start.push_back(static_cast<int>(t.offsets.size()));
        for (std::size_t i = 0; i < k.weights.size(); ++i) {
            t.offsets.push_back(static_cast<std::ptrdiff_t>(k.dy[i]) * stride + k.dx[i]);
            t.weights.push_back(k.weights[i]);
        }
    }
    t.start.push_back(static_cast<int>(t.offsets.size()));
    return t;
}

// Everything the two filter passes read.
struct Passes {
    int w = 0, h = 0, bw = 0;
    const FloatGrid* normalized = nullptr;
    FloatGrid* smoothed = nullptr;
    FloatGrid* out = nullptr;
    const std::ptrdiff_t* paths = nullptr;  // TAPS offsets per block
    const float* along = nullptr;            // TAPS weights
    const Grid<std::uint16_t>* kernel = nullptr;  // per pixel, NO_KERNEL in the background
    const KernelTable* table = nullptr;
};

// Pass 1 (see enhance): the eight pixels of a block row share their block's path, so a vector
// of them takes every tap with one load; the ROWS rows of a block are summed together (their
// sums are independent, which hides the latency of each). Lane by lane the operations and their
// order are those of the scalar sum, so the sums are the same bit for bit.
template <class F, int ROWS>
AFIS_INLINE void smooth_block(const Passes& p, const F* along, const std::ptrdiff_t* path, int x0, int y0) {
    const int pad = params::PAD;
    const float* c[ROWS];
    F acc[ROWS];
    for (int r = 0; r < ROWS; ++r) {
        c[r] = p.normalized->row(y0 + r + pad) + pad + x0;
        acc[r] = splat<F>(0.0f);
    }
    for (int k = 0; k < TAPS; ++k)
        for (int r = 0; r < ROWS; ++r) acc[r] = acc[r] + along[k] * load<F>(c[r] + path[k]);
    for (int r = 0; r < ROWS; ++r) store(p.smoothed->row(y0 + r + pad) + pad + x0, acc[r]);
}

template <class F>
AFIS_INLINE void smooth_along(const Passes& p) {
    const int pad = params::PAD;
    F along[TAPS];
    for (int k = 0; k < TAPS; ++k) along[k] = splat<F>(p.along[k]);
    for (int y0 = 0; y0 < p.h; y0 += B) {
        const int rows = std::min(B, p.h - y0);
        const std::ptrdiff_t* row_paths = p.paths + static_cast<std::size_t>(y0 / B) * p.bw * TAPS;
        for (int bx = 0; bx < p.bw; ++bx) {
            const std::ptrdiff_t* path = row_paths + static_cast<std::size_t>(bx) * TAPS;
            const int x0 = bx * B;
            if (x0 + LANES <= p.w) {
                if (rows == B) {
                    smooth_block<F, B>(p, along, path, x0, y0);
                } else {
                    for (int y = y0; y < y0 + rows; ++y) smooth_block<F, 1>(p, along, path, x0, y);
                }
                continue;
            }
            for (int y = y0; y < y0 + rows; ++y) {  // the last, partial block of a row
                const float* src = p.normalized->row(y + pad) + pad;
                float* dst = p.smoothed->row(y + pad) + pad;
                for (int x = x0; x < p.w; ++x) {
                    const float* c = src + x;
                    float acc = 0;
                    for (int k = 0; k < TAPS; ++k) acc += p.along[k] * c[path[k]];
                    dst[x] = acc;
                }
            }
        }
    }
}

// One kernel over eight pixels from x0, of which `lanes` (bit l: pixel x0 + l) take the sum.
struct Job {
    int kernel, x0;
    unsigned lanes;
};

// JOBS jobs of one kernel summed together (independent sums hide each other's latency).
template <class F, int JOBS>
AFIS_INLINE void run_jobs(const KernelTable& t, const Job* jobs, const float* src, float* dst) {
    const int k = jobs[0].kernel;
    const std::ptrdiff_t* off = &t.offsets[t.start[k]];
    const float* wt = &t.weights[t.start[k]];
    const int n = t.start[k + 1] - t.start[k];
    F acc[JOBS];
    for (int j = 0; j < JOBS; ++j) acc[j] = splat<F>(0.0f);
    for (int i = 0; i < n; ++i) {
        const float w = wt[i];
        for (int j = 0; j < JOBS; ++j) acc[j] = acc[j] + w * load<F>(src + jobs[j].x0 + off[i]);
    }
    for (int j = 0; j < JOBS; ++j) {
        if (jobs[j].lanes == (1u << LANES) - 1) {
            store(dst + jobs[j].x0, acc[j]);
            continue;
        }
        float lanes[LANES];
        store(lanes, acc[j]);
        for (int l = 0; l < LANES; ++l)
            if (jobs[j].lanes >> l & 1) dst[jobs[j].x0 + l] = lanes[l];
    }
}

// Pass 2 (see enhance): eight neighbouring pixels at a time; each distinct kernel among the
// group's foreground pixels is applied to the whole group with one load per tap, and its
// pixels take their lanes. Lane by lane the sums are the scalar ones, bit for bit. Runs of
// groups with the same kernel (the common case: orientation and period vary slowly) are summed
// together. The last group of a row is moved left to end at the row's end (its overlap is
// computed twice, alike), so no lane reads past the padded grid.
template <class F>
AFIS_INLINE void band_pass(const Passes& p) {
    const int pad = params::PAD;
    const KernelTable& t = *p.table;
    std::vector<Job> jobs;
    for (int y = 0; y < p.h; ++y) {
        const float* src = p.smoothed->row(y + pad) + pad;
        float* dst = p.out->row(y + pad) + pad;
        const std::uint16_t* kr = p.kernel->row(y);
        jobs.clear();
        for (int x = 0; x < p.w; x += LANES) {
            const int x0 = std::min(x, p.w - LANES);
            unsigned todo = 0;
            for (int l = 0; l < LANES; ++l)
                if (kr[x0 + l] != NO_KERNEL) todo |= 1u << l;
            while (todo) {
                const int k = kr[x0 + __builtin_ctz(todo)];
                unsigned lanes = 0;
                for (int l = 0; l < LANES; ++l)
                    if ((todo >> l & 1) && kr[x0 + l] == k) lanes |= 1u << l;
                todo &= ~lanes;
                jobs.push_back({k, x0, lanes});
            }
        }
        const std::size_t n = jobs.size();
        for (std::size_t i = 0; i < n;) {
            const int k = jobs[i].kernel;
            if (i + 4 <= n && jobs[i + 1].kernel == k && jobs[i + 2].kernel == k && jobs[i + 3].kernel == k) {
                run_jobs<F, 4>(t, &jobs[i], src, dst);
                i += 4;
            } else if (i + 2 <= n && jobs[i + 1].kernel == k) {
                run_jobs<F, 2>(t, &jobs[i], src, dst);
                i += 2;
            } else {
                run_jobs<F, 1>(t, &jobs[i], src, dst);
                i += 1;
            }
        }
    }
}

// What the pixel bins are made of: the interpolated doubled-angle field and period field.
struct Bins {
    int w = 0, h = 0;
    const BlockUpsampling* c2 = nullptr;
    const BlockUpsampling* s2 = nullptr;
    const BlockUpsampling* period = nullptr;
    const ByteGrid* foreground = nullptr;
    Grid<std::uint8_t>* obin = nullptr;     // orientation bin of every pixel
    Grid<std::uint16_t>* kernel = nullptr;  // across kernel of every foreground pixel
};

AFIS_INLINE F8 abs_v(F8 v) { return (F8)((I8)v & 0x7fffffff); }
AFIS_INLINE F4x2 abs_v(F4x2 v) { return {(F4)((I4)v.lo & 0x7fffffff), (F4)((I4)v.hi & 0x7fffffff)}; }

// fast_atan2 lane by lane: the same operations in the same order, so the same bits.
template <class F>
AFIS_INLINE F atan2_v(F y, F x) {
    const F ax = abs_v(x), ay = abs_v(y);
    const auto x_wins = ax > ay;
    const F mx = select(x_wins, ax, ay);
    const F mn = select(x_wins, ay, ax);
    const F a = mn / mx;
    const F s = a * a;
    F r = ((splat<F>(-0.0464964749f) * s + 0.15931422f) * s - 0.327622764f) * s * a + a;
    r = select(ay > ax, 1.57079637f - r, r);
    r = select(x < 0.0f, PI - r, r);
    r = select(y < 0.0f, -r, r);
    return select(mx > 0.0f, r, splat<F>(0.0f));  // mx >= 0: zero where both are
}

// Row y of an interpolated field (see BlockUpsampling), eight pixels at a time.
struct InterpolatedRow {
    const float* a;
    const float* b;
    float t;
    InterpolatedRow(const BlockUpsampling& u, int y) : a(u.across.row(u.lo[y])), b(u.across.row(u.hi[y])), t(u.t[y]) {}
    template <class F>
    AFIS_INLINE F at(int x0) const {
        const F lo = load<F>(a + x0);
        return lo + (load<F>(b + x0) - lo) * t;
    }
};

// Orientation bin of every pixel (the nearest of O bins to the interpolated orientation) and
// the across kernel of every foreground pixel (its orientation bin and nearest period bin),
// eight pixels at a time; the last group of a row is moved left to end at the row's end.
template <class F, class I>
AFIS_INLINE void pixel_bins(const Bins& b) {
    static_assert((O & (O - 1)) == 0, "the orientation bin wraps by a mask");
    const float bins_per_radian = O / PI;
    const float period_scale = (Q - 1) / (params::MAX_RIDGE_PERIOD - params::MIN_RIDGE_PERIOD);
    const I zero{};
    for (int y = 0; y < b.h; ++y) {
        // Row pointers held in locals: the byte stores below may alias anything.
        std::uint8_t* ob = b.obin->row(y);
        std::uint16_t* kr = b.kernel->row(y);
        const std::uint8_t* fg = b.foreground->row(y);
        const InterpolatedRow c2(*b.c2, y), s2(*b.s2, y), period(*b.period, y);
        const int w = b.w;
        for (int x = 0; x < w; x += LANES) {
            const int x0 = std::min(x, w - LANES);
            F a = splat<F>(0.5f) * atan2_v(s2.at<F>(x0), c2.at<F>(x0));
            a = select(a < 0.0f, a + PI, a);  // [0, pi]
            const I o = to_int(a * bins_per_radian + 0.5f) & (O - 1);
            const F p = period.at<F>(x0);
            const I q = minimum(maximum(to_int((p - params::MIN_RIDGE_PERIOD) * period_scale + 0.5f), zero),
                                zero + (Q - 1));
            int os[LANES], qs[LANES];
            store(os, o);
            store(qs, q);
            for (int l = 0; l < LANES; ++l) {
                ob[x0 + l] = static_cast<std::uint8_t>(os[l]);
                kr[x0 + l] = fg[x0 + l] ? static_cast<std::uint16_t>(os[l] * Q + qs[l]) : NO_KERNEL;
            }
        }
    }
}

void bins_plain(const Bins& b) { pixel_bins<F4x2, I4x2>(b); }

#ifdef AFIS_X86
__attribute__((target("avx2"))) void bins_avx2(const Bins& b) { pixel_bins<F8, I8>(b); }
#endif

// std::lround of a float of small magnitude (half away from zero), exactly: the float plus
// one half is exact in double.
inline int round_half_away(float v) {
    const double d = v;
    return d >= 0 ? static_cast<int>(d + 0.5) : -static_cast<int>(-d + 0.5);
}

void passes_plain(const Passes& p) {
    smooth_along<F4x2>(p);
    band_pass<F4x2>(p);
}

#ifdef AFIS_X86
__attribute__((target("avx2"))) void passes_avx2(const Passes& p) {
    smooth_along<F8>(p);
    band_pass<F8>(p);
}
#endif

}  // namespace

FloatGrid enhance(const FloatGrid& normalized, const OrientationField& orientation,
                  const RidgePeriod& period, const ByteGrid& foreground) {
    const int w = foreground.width, h = foreground.height;
    const std::ptrdiff_t stride = normalized.width;
    const KernelTable table = kernel_table(stride);

    // Orientation bin of every pixel from the bilinearly interpolated doubled-angle field;
    // across kernel of every foreground pixel.
    BlockField<float> c2 = BlockField<float>::like(orientation.angle);
    BlockField<float> s2 = BlockField<float>::like(orientation.angle);
    for (std::size_t i = 0; i < c2.size(); ++i) {
        c2.data[i] = std::cos(2 * orientation.angle.data[i]);
        s2.data[i] = std::sin(2 * orientation.angle.data[i]);
    }
    const BlockUpsampling c2_up(c2, w, h), s2_up(s2, w, h), period_up(period.period, w, h);
    Grid<std::uint8_t> obin(w, h);
    Grid<std::uint16_t> kernel(w, h);
    Bins bins;
    bins.w = w;
    bins.h = h;
    bins.c2 = &c2_up;
    bins.s2 = &s2_up;
    bins.period = &period_up;
    bins.foreground = &foreground;
    bins.obin = &obin;
    bins.kernel = &kernel;
    [[maybe_unused]] const bool avx2 = simd_level() >= SimdLevel::AVX2;
#ifdef AFIS_X86
    if (avx2)
        bins_avx2(bins);
    else
#endif
        bins_plain(bins);

    // Pass 1: smoothing along the ridges, everywhere (pass 2 reads outside the mask). The
    // smoothing follows the ridge flow: from the centre of every block it walks unit steps
    // both ways along the local orientation, re-reading the orientation at every step, so
    // curved ridges (around cores and deltas) are smoothed along themselves rather than
    // along a chord. Every pixel of the block uses its block's path, shifted: one walk per
    // block keeps the per-pixel cost that of a straight kernel.
    std::vector<float> step_x(O), step_y(O), weight(TAPS);
    for (int o = 0; o < O; ++o) {
        step_x[o] = std::cos(PI * o / O);
        step_y[o] = std::sin(PI * o / O);
    }
    {
        float sum = 0;
        for (int i = -R; i <= R; ++i) sum += weight[i + R] = std::exp(-0.5f * i * i / (params::ENHANCE_ALONG_SIGMA * params::ENHANCE_ALONG_SIGMA));
        for (float& v : weight) v /= sum;
    }
    const int bw = (w + B - 1) / B, bh = (h + B - 1) / B;
    std::vector<std::ptrdiff_t> paths(static_cast<std::size_t>(bw) * bh * TAPS, 0);
    // The walks of a row of blocks, both ways, advance a step at a time together: each walk
    // is a chain of dependent operations, and independent chains overlap.
    struct Walk {
        int sx, sy;
        float px, py, dx, dy;
        std::ptrdiff_t* path;
        int sign;
    };
    std::vector<Walk> walks(2 * static_cast<std::size_t>(bw));
    for (int by = 0; by < bh; ++by) {
        for (int bx = 0; bx < bw; ++bx) {
            const int sx = std::min(bx * B + B / 2, w - 1), sy = std::min(by * B + B / 2, h - 1);
            std::ptrdiff_t* path = &paths[(static_cast<std::size_t>(by) * bw + bx) * TAPS + R];
            const int o0 = obin.at(sx, sy);
            for (int sign = -1; sign <= 1; sign += 2) {
                Walk& k = walks[2 * bx + (sign + 1) / 2];
                k.sx = sx;
                k.sy = sy;
                k.px = static_cast<float>(sx);
                k.py = static_cast<float>(sy);
                k.dx = sign * step_x[o0];
                k.dy = sign * step_y[o0];
                k.path = path;
                k.sign = sign;
            }
        }
        for (int i = 1; i <= R; ++i)
            for (Walk& k : walks) {
                k.px += k.dx;
                k.py += k.dy;
                const int ix = round_half_away(k.px), iy = round_half_away(k.py);
                k.path[k.sign * i] = static_cast<std::ptrdiff_t>(iy - k.sy) * stride + (ix - k.sx);
                const int o = obin.at(std::clamp(ix, 0, w - 1), std::clamp(iy, 0, h - 1));
                float nx = step_x[o], ny = step_y[o];
                if (nx * k.dx + ny * k.dy < 0) {
                    nx = -nx;
                    ny = -ny;
                }
                k.dx = nx;
                k.dy = ny;
            }
    }
    // Pass 2: band-pass across the ridges, in the foreground only, with one precomputed 1-D
    // kernel per orientation and period bin.
    FloatGrid smoothed(normalized.width, normalized.height);
    FloatGrid out(normalized.width, normalized.height);
    Passes p;
    p.w = w;
    p.h = h;
    p.bw = bw;
    p.normalized = &normalized;
    p.smoothed = &smoothed;
    p.out = &out;
    p.paths = paths.data();
    p.along = weight.data();
    p.kernel = &kernel;
    p.table = &table;
#ifdef AFIS_X86
    if (avx2) {
        passes_avx2(p);
        return out;
    }
#endif
    passes_plain(p);
    return out;
}

}  // namespace afis
