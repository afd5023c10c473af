// Binarization: after zero-mean band-pass filtering, ridges (dark) are where the response
// is negative. Tiny ridge islands and tiny valley holes are noise (pores, dust) and are
// flipped before thinning, which would otherwise turn them into dots and loops.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "afis/common/bit_rows.hpp"
#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

namespace {

struct Run {
    int y, x0, x1;  // pixels [x0, x1) of row y
};

// Flips 8-connected components of `value` smaller than `min_size` pixels. Components are
// unions of the rows' runs of `value`: a run joins every run of the row above that it touches
// (their spans, widened by one pixel, overlap); union-find keeps the pixel count of each.
void remove_specks(ByteGrid& image, std::uint8_t value, int min_size) {
    const int w = image.width, h = image.height;
    std::vector<std::uint64_t> bits(bit_words(w));
    std::vector<Run> runs;
    std::vector<int> parent, size;
    auto find = [&parent](int i) {
        while (parent[i] != i) i = parent[i] = parent[parent[i]];
        return i;
    };
    std::size_t prev_begin = 0, prev_end = 0;
    for (int y = 0; y < h; ++y) {
        row_bits(image.row(y), w, value, bits.data());
        const std::size_t begin = runs.size();
        // A run starts and ends where a bit differs from the one before it.
        bool inside = false;
        int start = 0;
        std::uint64_t carry = 0;
        for (std::size_t k = 0; k < bits.size(); ++k) {
            const std::uint64_t b = bits[k];
            std::uint64_t edges = b ^ ((b << 1) | carry);
            carry = b >> 63;
            while (edges) {
                const int x = static_cast<int>(k * 64) + __builtin_ctzll(edges);
                edges &= edges - 1;
                if (inside) {
                    runs.push_back({y, start, x});
                } else {
                    start = x;
                }
                inside = !inside;
            }
        }
        if (inside) runs.push_back({y, start, w});
        for (std::size_t r = begin; r < runs.size(); ++r) {
            parent.push_back(static_cast<int>(r));
            size.push_back(runs[r].x1 - runs[r].x0);
        }
        std::size_t i = prev_begin;
        for (std::size_t r = begin; r < runs.size(); ++r) {
            while (i < prev_end && runs[i].x1 < runs[r].x0) ++i;
            for (std::size_t k = i; k < prev_end && runs[k].x0 <= runs[r].x1; ++k) {
                int a = find(static_cast<int>(k)), b = find(static_cast<int>(r));
                if (a == b) continue;
                if (size[a] < size[b]) std::swap(a, b);
                parent[b] = a;
                size[a] += size[b];
            }
        }
        prev_begin = begin;
        prev_end = runs.size();
    }
    for (std::size_t r = 0; r < runs.size(); ++r)
        if (size[find(static_cast<int>(r))] < min_size)
            std::fill(image.row(runs[r].y) + runs[r].x0, image.row(runs[r].y) + runs[r].x1,
                      static_cast<std::uint8_t>(1 - value));
}

}  // namespace

ByteGrid binarize(const FloatGrid& enhanced, const ByteGrid& foreground) {
    const int pad = params::PAD;
    const int w = foreground.width, h = foreground.height;  // locals: byte stores alias anything
    ByteGrid out(w, h);
    for (int y = 0; y < h; ++y) {
        const float* src = enhanced.row(y + pad) + pad;
        const std::uint8_t* fg = foreground.row(y);
        std::uint8_t* dst = out.row(y);
        for (int x = 0; x < w; ++x) dst[x] = static_cast<std::uint8_t>((fg[x] != 0) & (src[x] < 0));
    }
    remove_specks(out, 1, params::MIN_BLOB_PIXELS);
    remove_specks(out, 0, params::MIN_BLOB_PIXELS);
    return out;
}

}  // namespace afis
