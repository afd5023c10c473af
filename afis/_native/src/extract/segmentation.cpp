// Foreground segmentation: blocks with enough contrast (or clearly oriented ridges) are
// foreground; the block mask is smoothed by majority vote, specks are dropped and holes
// filled; the pixel mask interpolates it and a chamfer transform measures distance to it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "afis/common/util.hpp"
#include "afis/common/x86.hpp"
#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

namespace {

using Mask = BlockField<std::uint8_t>;

// Each block takes the majority of the (2 radius + 1)^2 window around it, clipped to the
// lattice; the window counts come from a summed-area table.
void majority_vote(Mask& mask, int radius) {
    const int w = mask.width, h = mask.height;
    std::vector<int> sat(static_cast<std::size_t>(w + 1) * (h + 1), 0);  // sums of [0, x) x [0, y)
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            sat[(y + 1) * (w + 1) + x + 1] = mask.at(x, y) + sat[y * (w + 1) + x + 1] +
                                             sat[(y + 1) * (w + 1) + x] - sat[y * (w + 1) + x];
    Mask out = mask;
    for (int y = 0; y < h; ++y) {
        const int y0 = std::max(0, y - radius), y1 = std::min(h, y + radius + 1);
        for (int x = 0; x < w; ++x) {
            const int x0 = std::max(0, x - radius), x1 = std::min(w, x + radius + 1);
            const int on = sat[y1 * (w + 1) + x1] - sat[y0 * (w + 1) + x1] - sat[y1 * (w + 1) + x0] +
                           sat[y0 * (w + 1) + x0];
            const int total = (x1 - x0) * (y1 - y0);
            out.at(x, y) = 2 * on > total ? 1 : 0;
        }
    }
    mask = std::move(out);
}

// Labels 4-connected regions of `value`; calls keep(size, touches_border) to decide whether
// a region keeps its value, otherwise it is flipped.
template <typename Keep>
void filter_regions(Mask& mask, std::uint8_t value, Keep keep) {
    std::vector<int> label(mask.size(), -1);
    std::vector<int> stack, members;
    for (int start = 0; start < static_cast<int>(mask.size()); ++start) {
        if (mask.data[start] != value || label[start] >= 0) continue;
        members.clear();
        stack.assign(1, start);
        label[start] = start;
        bool border = false;
        while (!stack.empty()) {
            const int i = stack.back();
            stack.pop_back();
            members.push_back(i);
            const int x = i % mask.width, y = i / mask.width;
            if (x == 0 || y == 0 || x == mask.width - 1 || y == mask.height - 1) border = true;
            const int nx[4] = {x - 1, x + 1, x, x}, ny[4] = {y, y, y - 1, y + 1};
            for (int k = 0; k < 4; ++k) {
                if (!mask.contains(nx[k], ny[k])) continue;
                const int j = ny[k] * mask.width + nx[k];
                if (mask.data[j] == value && label[j] < 0) {
                    label[j] = start;
                    stack.push_back(j);
                }
            }
        }
        if (!keep(static_cast<int>(members.size()), border))
            for (int i : members) mask.data[i] = static_cast<std::uint8_t>(1 - value);
    }
}

// Two-pass 3-4 chamfer distance to the nearest background pixel (outside counts as
// background), in pixels. Distances are integers (in thirds of a pixel) until the final
// division: every pixel is reached from the background frame, so every one is a small integer
// (below 2^24: the float arithmetic this replaced gave the same). Each pass takes a row's
// terms from the row before it first (a vector loop), then the term from the neighbour before
// it in the row (a scan): min is exact, so the order of the terms does not matter.
#ifdef AFIS_X86
__attribute__((target_clones("avx2", "default")))
#endif
void chamfer(std::int32_t* d, int w, int h) {
    for (int y = 1; y < h - 1; ++y) {
        std::int32_t* r = d + static_cast<std::ptrdiff_t>(y) * w;
        const std::int32_t* up = r - w;
        // Background pixels (0) stay 0: every term is positive.
        for (int x = 1; x < w - 1; ++x)
            r[x] = std::min(std::min(r[x], up[x] + 3), std::min(up[x - 1] + 4, up[x + 1] + 4));
        for (std::int32_t x = 1, before = r[0]; x < w - 1; ++x) r[x] = before = std::min(r[x], before + 3);
    }
    for (int y = h - 2; y >= 1; --y) {
        std::int32_t* r = d + static_cast<std::ptrdiff_t>(y) * w;
        const std::int32_t* down = r + w;
        for (int x = 1; x < w - 1; ++x)
            r[x] = std::min(std::min(r[x], down[x] + 3), std::min(down[x + 1] + 4, down[x - 1] + 4));
        for (std::int32_t x = w - 2, after = r[w - 1]; x >= 1; --x) r[x] = after = std::min(r[x], after + 3);
    }
}

FloatGrid border_distance(const ByteGrid& fg) {
    // Work on a grid with a one-pixel background frame so the passes need no bounds tests.
    const int w = fg.width + 2, h = fg.height + 2;
    const std::int32_t big = 1000000000;
    std::vector<std::int32_t> d(static_cast<std::size_t>(w) * h, 0);
    const int fw = fg.width;
    for (int y = 0; y < fg.height; ++y) {
        const std::uint8_t* src = fg.row(y);
        std::int32_t* dst = &d[static_cast<std::size_t>(y + 1) * w + 1];
        for (int x = 0; x < fw; ++x) dst[x] = src[x] ? big : 0;
    }
    chamfer(d.data(), w, h);
    FloatGrid out(fg.width, fg.height);
    for (int y = 0; y < fg.height; ++y) {
        const std::int32_t* src = &d[static_cast<std::size_t>(y + 1) * w + 1];
        float* dst = out.row(y);
        for (int x = 0; x < fg.width; ++x) dst[x] = static_cast<float>(src[x]) / 3.0f;
    }
    return out;
}

}  // namespace

Segmentation segment(const BlockStatistics& stats, int image_width, int image_height) {
    Segmentation seg;
    Mask mask(image_width, image_height, stats.contrast.block);
    std::vector<float> sorted(stats.contrast.data);
    float threshold = params::MASK_MIN_CONTRAST;
    if (!sorted.empty()) {
        const std::size_t k = static_cast<std::size_t>(0.9 * (sorted.size() - 1));
        std::nth_element(sorted.begin(), sorted.begin() + k, sorted.end());
        threshold = std::max(threshold, params::MASK_RELATIVE_CONTRAST * sorted[k]);
    }
    for (std::size_t i = 0; i < mask.size(); ++i) {
        const float c = stats.contrast.data[i];
        const float gxx = stats.gxx.data[i], gyy = stats.gyy.data[i], gxy = stats.gxy.data[i];
        const float energy = gxx + gyy;
        const float coherence =
            energy > 0 ? std::sqrt((gxx - gyy) * (gxx - gyy) + 4 * gxy * gxy) / energy : 0.0f;
        const bool contrasty = c > threshold;
        const bool oriented = c > params::MASK_COHERENT_CONTRAST * threshold &&
                              coherence > params::MASK_COHERENCE;
        mask.data[i] = (contrasty || oriented) ? 1 : 0;
    }
    for (int pass = 0; pass < params::MASK_VOTE_PASSES; ++pass)
        majority_vote(mask, params::MASK_VOTE_RADIUS);
    filter_regions(mask, 1, [](int size, bool) { return size >= params::MASK_MIN_REGION_BLOCKS; });
    filter_regions(mask, 0, [](int, bool border) { return border; });  // fill enclosed holes

    // Pixel mask: bilinear interpolation of the block mask, cut at one half.
    BlockField<float> soft(image_width, image_height, mask.block);
    for (std::size_t i = 0; i < mask.size(); ++i) soft.data[i] = mask.data[i];
    const BlockUpsampling up(soft, image_width, image_height);
    seg.pixels = ByteGrid(image_width, image_height);
    for (int y = 0; y < image_height; ++y) {
        const float* a = up.across.row(up.lo[y]);
        const float* b = up.across.row(up.hi[y]);
        const float t = up.t[y];
        std::uint8_t* dst = seg.pixels.row(y);
        for (int x = 0; x < image_width; ++x) dst[x] = a[x] + (b[x] - a[x]) * t > 0.5f ? 1 : 0;
    }
    seg.border_distance = border_distance(seg.pixels);
    seg.blocks = std::move(mask);
    return seg;
}

}  // namespace afis
