// Ridge period: at every cell of a 16-pixel lattice, the normalised image is averaged along
// the ridges in an oriented window, giving a profile across them; the profile's spectrum
// (Hann-windowed, scanned over plausible periods) peaks at the local ridge period. Cells
// without a clear peak are filled from their neighbours by normalised convolution.
#include <algorithm>
#include <cmath>
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
constexpr int LANES = 8;

struct Spectrum {
    std::vector<float> periods;
    std::vector<float> cos_table, sin_table;  // [period][sample], Hann window folded in
    std::vector<float> window;
    float peak_normaliser = 1;  // energy ratio of a pure sinusoid
    // The tables transposed, [sample][period], periods padded with zeros to whole vectors.
    int padded_periods = 0;
    std::vector<float> cos_by_sample, sin_by_sample;
};

const Spectrum& spectrum() {
    static const Spectrum s = [] {
        Spectrum sp;
        const int L = params::FREQUENCY_WINDOW_LENGTH;
        for (float p = params::MIN_RIDGE_PERIOD; p <= params::MAX_RIDGE_PERIOD + 1e-3f;
             p += params::RIDGE_PERIOD_STEP)
            sp.periods.push_back(p);
        sp.window.resize(L);
        float sum = 0, sum_sq = 0;
        for (int k = 0; k < L; ++k) {
            sp.window[k] = 0.5f - 0.5f * std::cos(2 * PI * (k + 0.5f) / L);
            sum += sp.window[k];
            sum_sq += sp.window[k] * sp.window[k];
        }
        sp.peak_normaliser = sum * sum / (2 * sum_sq);
        for (float p : sp.periods)
            for (int k = 0; k < L; ++k) {
                const float t = k - 0.5f * (L - 1);
                sp.cos_table.push_back(std::cos(2 * PI * t / p));
                sp.sin_table.push_back(std::sin(2 * PI * t / p));
            }
        const int n = static_cast<int>(sp.periods.size());
        sp.padded_periods = (n + LANES - 1) / LANES * LANES;
        sp.cos_by_sample.assign(static_cast<std::size_t>(L) * sp.padded_periods, 0.0f);
        sp.sin_by_sample.assign(static_cast<std::size_t>(L) * sp.padded_periods, 0.0f);
        for (int p = 0; p < n; ++p)
            for (int k = 0; k < L; ++k) {
                sp.cos_by_sample[static_cast<std::size_t>(k) * sp.padded_periods + p] = sp.cos_table[p * L + k];
                sp.sin_by_sample[static_cast<std::size_t>(k) * sp.padded_periods + p] = sp.sin_table[p * L + k];
            }
        return sp;
    }();
    return s;
}

// The ridge profile of one cell: sample k (L of them, across the ridges) sums the normalised
// image at W / 2 points along the ridges. Eight samples at a time, lane by lane the scalar
// coordinates and sums (same operations, same order: same bits).
template <class F, class I>
AFIS_INLINE void ridge_profile(const FloatGrid& normalized, float px, float py, float rx, float ry, float* profile) {
    const int pad = params::PAD;
    const int L = params::FREQUENCY_WINDOW_LENGTH, W = params::FREQUENCY_WINDOW_WIDTH;
    static_assert(L % LANES == 0, "whole vectors of samples");
    const float nx = -ry, ny = rx;  // across ridges
    const I zero{};
    const I max_x = zero + (normalized.width - 1), max_y = zero + (normalized.height - 1);
    for (int k0 = 0; k0 < L; k0 += LANES) {
        const F t = to_float(iota<I>() + k0) - 0.5f * (L - 1);
        const F x_across = px + t * nx, y_across = py + t * ny;
        F acc = splat<F>(0.0f);
        for (int j = -W / 2; j < W / 2; j += 2) {
            const F sx = x_across + (j + 0.5f) * rx + static_cast<float>(pad);
            const F sy = y_across + (j + 0.5f) * ry + static_cast<float>(pad);
            int ix[LANES], iy[LANES];
            store(ix, minimum(maximum(to_int(sx + 0.5f), zero), max_x));
            store(iy, minimum(maximum(to_int(sy + 0.5f), zero), max_y));
            float v[LANES];
            for (int l = 0; l < LANES; ++l) v[l] = normalized.at(ix[l], iy[l]);
            acc = acc + load<F>(v);
        }
        store(profile + k0, acc);
    }
}

// Spectral power of a windowed profile at every scanned period (eight periods at a time, lane by
// lane the scalar sums).
template <class F>
AFIS_INLINE void profile_power(const Spectrum& sp, const float* profile, float* power) {
    const int L = params::FREQUENCY_WINDOW_LENGTH;
    for (int g = 0; g < sp.padded_periods; g += LANES) {
        F re = splat<F>(0.0f), im = splat<F>(0.0f);
        for (int k = 0; k < L; ++k) {
            const std::size_t at = static_cast<std::size_t>(k) * sp.padded_periods + g;
            re = re + profile[k] * load<F>(&sp.cos_by_sample[at]);
            im = im + profile[k] * load<F>(&sp.sin_by_sample[at]);
        }
        store(power + g, re * re + im * im);
    }
}

void profile_plain(const FloatGrid& normalized, float px, float py, float rx, float ry, float* profile) {
    ridge_profile<F4x2, I4x2>(normalized, px, py, rx, ry, profile);
}
void power_plain(const Spectrum& sp, const float* profile, float* power) { profile_power<F4x2>(sp, profile, power); }

#ifdef AFIS_X86
__attribute__((target("avx2"))) void profile_avx2(const FloatGrid& normalized, float px, float py, float rx,
                                                  float ry, float* profile) {
    ridge_profile<F8, I8>(normalized, px, py, rx, ry, profile);
}
__attribute__((target("avx2"))) void power_avx2(const Spectrum& sp, const float* profile, float* power) {
    profile_power<F8>(sp, profile, power);
}
#endif

}  // namespace

RidgePeriod ridge_period(const FloatGrid& normalized, const OrientationField& orientation,
                         const BlockField<std::uint8_t>& mask) {
    const int pad = params::PAD;
    const int image_w = normalized.width - 2 * pad, image_h = normalized.height - 2 * pad;
    const int cell = params::FREQUENCY_BLOCK;
    const int L = params::FREQUENCY_WINDOW_LENGTH;
    const Spectrum& sp = spectrum();
    const int n_periods = static_cast<int>(sp.periods.size());

    RidgePeriod out;
    out.period = BlockField<float>(image_w, image_h, cell);
    out.strength = BlockField<float>(image_w, image_h, cell);
    Grid<float> weight(out.period.width, out.period.height);
    std::vector<float> profile(L), power(sp.padded_periods);
    [[maybe_unused]] const bool avx2 = simd_level() >= SimdLevel::AVX2;
    int measured = 0, valid = 0;
    std::vector<float> valid_periods;

    for (int cy = 0; cy < out.period.height; ++cy) {
        for (int cx = 0; cx < out.period.width; ++cx) {
            const float px = std::min(cx * cell + 0.5f * cell, image_w - 1.0f);
            const float py = std::min(cy * cell + 0.5f * cell, image_h - 1.0f);
            const int bx = static_cast<int>(px) / mask.block, by = static_cast<int>(py) / mask.block;
            if (!mask.at(bx, by)) continue;
            ++measured;
            const float theta = orientation.angle.at(bx, by);
            const float rx = std::cos(theta), ry = std::sin(theta);  // along ridges
#ifdef AFIS_X86
            if (avx2)
                profile_avx2(normalized, px, py, rx, ry, profile.data());
            else
#endif
                profile_plain(normalized, px, py, rx, ry, profile.data());
            float mean = 0;
            for (float v : profile) mean += v;
            mean /= L;
            float energy = 0;
            for (int k = 0; k < L; ++k) {
                profile[k] = (profile[k] - mean) * sp.window[k];
                energy += profile[k] * profile[k];
            }
            if (energy <= 1e-6f) continue;
#ifdef AFIS_X86
            if (avx2)
                power_avx2(sp, profile.data(), power.data());
            else
#endif
                power_plain(sp, profile.data(), power.data());
            int best = -1;
            float best_power = 0;
            for (int p = 0; p < n_periods; ++p) {
                if (power[p] > best_power) {
                    best_power = power[p];
                    best = p;
                }
            }
            const float share = best_power / (energy * sp.peak_normaliser);
            // A peak at either end of the scanned range is a trend, not a ridge period.
            if (best <= 0 || best >= n_periods - 1 || share < params::FREQUENCY_MIN_PEAK_SHARE)
                continue;
            out.period.at(cx, cy) = sp.periods[best];
            out.strength.at(cx, cy) = std::min(1.0f, share);
            weight.at(cx, cy) = share;
            valid_periods.push_back(sp.periods[best]);
            ++valid;
        }
    }
    out.valid_share = measured > 0 ? static_cast<float>(valid) / measured : 0.0f;
    float fallback = params::DEFAULT_RIDGE_PERIOD;
    if (!valid_periods.empty()) {
        std::nth_element(valid_periods.begin(), valid_periods.begin() + valid_periods.size() / 2,
                         valid_periods.end());
        fallback = valid_periods[valid_periods.size() / 2];
    }
    Grid<float> smoothed_weight = weight;
    smooth_weighted(out.period, &weight, params::FREQUENCY_SMOOTHING_SIGMA);
    smooth_weighted(smoothed_weight, nullptr, params::FREQUENCY_SMOOTHING_SIGMA);
    for (std::size_t i = 0; i < out.period.size(); ++i) {
        // Where the neighbourhood measured little, lean on the image's median period.
        const float support = std::min(1.0f, smoothed_weight.data[i] * 4.0f);
        const float p = out.period.data[i];
        out.period.data[i] = std::clamp(support * (p > 0 ? p : fallback) + (1 - support) * fallback,
                                        params::MIN_RIDGE_PERIOD, params::MAX_RIDGE_PERIOD);
    }
    return out;
}

}  // namespace afis
