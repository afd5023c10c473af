// Ridge period: at every cell of a 16-pixel lattice, the normalised image is averaged along
// the ridges in an oriented window, giving a profile across them; the profile's spectrum
// (Hann-windowed, scanned over plausible periods) peaks at the local ridge period. Cells
// without a clear peak are filled from their neighbours by normalised convolution.
#include <algorithm>
#include <cmath>
#include <vector>

#include "afis/common/util.hpp"
#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

namespace {

struct Spectrum {
    std::vector<float> periods;
    std::vector<float> cos_table, sin_table;  // [period][sample], Hann window folded in
    std::vector<float> window;
    float peak_normaliser = 1;  // energy ratio of a pure sinusoid
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
        return sp;
    }();
    return s;
}

}  // namespace

RidgePeriod ridge_period(const FloatGrid& normalized, const OrientationField& orientation,
                         const BlockField<std::uint8_t>& mask) {
    const int pad = params::PAD;
    const int image_w = normalized.width - 2 * pad, image_h = normalized.height - 2 * pad;
    const int cell = params::FREQUENCY_BLOCK;
    const int L = params::FREQUENCY_WINDOW_LENGTH, W = params::FREQUENCY_WINDOW_WIDTH;
    const Spectrum& sp = spectrum();
    const int n_periods = static_cast<int>(sp.periods.size());

    RidgePeriod out;
    out.period = BlockField<float>(image_w, image_h, cell);
    out.strength = BlockField<float>(image_w, image_h, cell);
    Grid<float> weight(out.period.width, out.period.height);
    std::vector<float> profile(L);
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
            const float nx = -ry, ny = rx;                           // across ridges
            for (int k = 0; k < L; ++k) {
                const float t = k - 0.5f * (L - 1);
                float acc = 0;
                for (int j = -W / 2; j < W / 2; j += 2) {
                    const float sx = px + t * nx + (j + 0.5f) * rx + pad;
                    const float sy = py + t * ny + (j + 0.5f) * ry + pad;
                    const int ix = std::clamp(static_cast<int>(sx + 0.5f), 0, normalized.width - 1);
                    const int iy = std::clamp(static_cast<int>(sy + 0.5f), 0, normalized.height - 1);
                    acc += normalized.at(ix, iy);
                }
                profile[k] = acc;
            }
            float mean = 0;
            for (float v : profile) mean += v;
            mean /= L;
            float energy = 0;
            for (int k = 0; k < L; ++k) {
                profile[k] = (profile[k] - mean) * sp.window[k];
                energy += profile[k] * profile[k];
            }
            if (energy <= 1e-6f) continue;
            int best = -1;
            float best_power = 0;
            for (int p = 0; p < n_periods; ++p) {
                const float* c = &sp.cos_table[static_cast<std::size_t>(p) * L];
                const float* s = &sp.sin_table[static_cast<std::size_t>(p) * L];
                float re = 0, im = 0;
                for (int k = 0; k < L; ++k) {
                    re += profile[k] * c[k];
                    im += profile[k] * s[k];
                }
                const float power = re * re + im * im;
                if (power > best_power) {
                    best_power = power;
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
