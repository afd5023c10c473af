// Thinning with the Guo-Hall parallel algorithm (two sub-iterations), then removal of
// staircase pixels so that every line pixel of the skeleton has exactly two neighbours and
// junctions are easy to find. The sub-iterations decide 64 pixels at a time: the image is
// held as rows of bits and the Guo-Hall conditions are word logic on the eight shifted
// neighbour planes (the same decisions as the per-pixel conditions for all 256
// neighbourhoods, so the same skeleton).
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "afis/common/bit_rows.hpp"

#include "afis/extract/stages.hpp"

namespace afis {

namespace {

// Neighbour bit order: N, NE, E, SE, S, SW, W, NW.
constexpr int DX[8] = {0, 1, 1, 1, 0, -1, -1, -1};
constexpr int DY[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

struct Tables {
    std::array<std::uint8_t, 256> components{};  // 8-connected groups among the neighbours
    std::array<std::uint8_t, 256> count{};
};

const Tables& tables() {
    static const Tables t = [] {
        Tables tb;
        for (int m = 0; m < 256; ++m) {
            auto b = [m](int i) { return (m >> i) & 1; };
            // Components among set neighbours, adjacency by Chebyshev distance 1.
            int parent[8];
            for (int i = 0; i < 8; ++i) parent[i] = i;
            auto find = [&](int i) {
                while (parent[i] != i) i = parent[i] = parent[parent[i]];
                return i;
            };
            int count = 0;
            for (int i = 0; i < 8; ++i) {
                if (!b(i)) continue;
                ++count;
                for (int j = 0; j < i; ++j) {
                    if (!b(j)) continue;
                    const int ddx = DX[i] - DX[j], ddy = DY[i] - DY[j];
                    if (ddx >= -1 && ddx <= 1 && ddy >= -1 && ddy <= 1) parent[find(i)] = find(j);
                }
            }
            int groups = 0;
            for (int i = 0; i < 8; ++i)
                if (b(i) && find(i) == i) ++groups;
            tb.components[m] = static_cast<std::uint8_t>(groups);
            tb.count[m] = static_cast<std::uint8_t>(count);
        }
        return tb;
    }();
    return t;
}

inline int neighbourhood(const std::uint8_t* p, std::ptrdiff_t stride) {
    return (p[-stride] ? 1 : 0) | (p[-stride + 1] ? 2 : 0) | (p[1] ? 4 : 0) |
           (p[stride + 1] ? 8 : 0) | (p[stride] ? 16 : 0) | (p[stride - 1] ? 32 : 0) |
           (p[-1] ? 64 : 0) | (p[-stride - 1] ? 128 : 0);
}

// One Guo-Hall sub-iteration (0 or 1) on rows of bits with one empty word at each end of
// every row and an empty row above and below (`from`, rows of `stride` words): writes the
// surviving pixels to `to` and returns whether any pixel was deleted. A pixel P with
// neighbours p2..p9 (N, NE, E, SE, S, SW, W, NW) is deleted when C(P) = 1, 2 <= N(P) <= 3
// and (sub-iteration 0) not (p6 or p7 or not p9) and p8, (sub-iteration 1) not (p2 or p3 or
// not p5) and p4, all decided on the image before the sub-iteration.
bool guo_hall_step(const std::uint64_t* from, std::uint64_t* to, int height, int stride, int sub) {
    const int words = stride - 2;
    std::uint64_t any = 0;
    for (int y = 1; y <= height; ++y) {
        const std::uint64_t* up = from + static_cast<std::ptrdiff_t>(y - 1) * stride;
        const std::uint64_t* mid = from + static_cast<std::ptrdiff_t>(y) * stride;
        const std::uint64_t* dn = from + static_cast<std::ptrdiff_t>(y + 1) * stride;
        std::uint64_t* out = to + static_cast<std::ptrdiff_t>(y) * stride;
        for (int j = 1; j <= words; ++j) {
            const std::uint64_t p = mid[j];
            if (!p) {
                out[j] = 0;
                continue;
            }
            // Neighbour planes: bit x holds the neighbour of pixel x.
            const std::uint64_t p2 = up[j], p6 = dn[j];
            const std::uint64_t p3 = (up[j] >> 1) | (up[j + 1] << 63);
            const std::uint64_t p4 = (mid[j] >> 1) | (mid[j + 1] << 63);
            const std::uint64_t p5 = (dn[j] >> 1) | (dn[j + 1] << 63);
            const std::uint64_t p7 = (dn[j] << 1) | (dn[j - 1] >> 63);
            const std::uint64_t p8 = (mid[j] << 1) | (mid[j - 1] >> 63);
            const std::uint64_t p9 = (up[j] << 1) | (up[j - 1] >> 63);
            // C(P) = 1: exactly one of four terms.
            const std::uint64_t t1 = ~p2 & (p3 | p4), t2 = ~p4 & (p5 | p6);
            const std::uint64_t t3 = ~p6 & (p7 | p8), t4 = ~p8 & (p9 | p2);
            const std::uint64_t c1 = (t1 ^ t2 ^ t3 ^ t4) & ~(t1 & t2) & ~(t3 & t4);
            // 2 <= min(N1, N2) <= 3: both sums of four terms at least 2, not both 4.
            const std::uint64_t a1 = p9 | p2, b1 = p3 | p4, e1 = p5 | p6, d1 = p7 | p8;
            const std::uint64_t a2 = p2 | p3, b2 = p4 | p5, e2 = p6 | p7, d2 = p8 | p9;
            const std::uint64_t n1_two = (a1 & b1) | (e1 & d1) | ((a1 | b1) & (e1 | d1));
            const std::uint64_t n2_two = (a2 & b2) | (e2 & d2) | ((a2 | b2) & (e2 | d2));
            const std::uint64_t both_four = a1 & b1 & e1 & d1 & a2 & b2 & e2 & d2;
            const std::uint64_t n = n1_two & n2_two & ~both_four;
            const std::uint64_t m = sub == 0 ? (p6 | p7 | ~p9) & p8 : (p2 | p3 | ~p5) & p4;
            const std::uint64_t doomed = p & c1 & n & ~m;
            out[j] = p & ~doomed;
            any |= doomed;
        }
    }
    return any != 0;
}

}  // namespace

ByteGrid thin(const ByteGrid& binary) {
    const Tables& tb = tables();
    // Rows of bits with an empty word at each end and an empty row above and below, so
    // neighbour planes never leave the buffer.
    const int bw = binary.width, bh = binary.height;
    const int stride = bit_words(bw) + 2;
    std::vector<std::uint64_t> plane(static_cast<std::size_t>(stride) * (bh + 2), 0), next(plane.size(), 0);
    for (int y = 0; y < bh; ++y)
        row_bits_nonzero(binary.row(y), bw, &plane[static_cast<std::size_t>(y + 1) * stride + 1]);
    bool changed = true;
    while (changed) {
        changed = false;
        for (int sub = 0; sub < 2; ++sub) {
            if (guo_hall_step(plane.data(), next.data(), bh, stride, sub)) changed = true;
            plane.swap(next);
        }
    }
    // Back to bytes, with a one-pixel empty border so neighbourhoods never leave the grid; the
    // skeleton's pixels in raster order.
    const int w = bw + 2, h = bh + 2;
    ByteGrid work(w, h);
    std::vector<std::ptrdiff_t> live;
    for (int y = 0; y < bh; ++y) {
        const std::uint64_t* row = &plane[static_cast<std::size_t>(y + 1) * stride + 1];
        for (int k = 0; k < stride - 2; ++k)
            for (std::uint64_t b = row[k]; b; b &= b - 1) {
                const std::ptrdiff_t i = static_cast<std::ptrdiff_t>(y + 1) * w + k * 64 + __builtin_ctzll(b) + 1;
                work.data[i] = 1;
                live.push_back(i);
            }
    }
    std::uint8_t* base = work.data.data();
    // Staircases: a pixel whose neighbours are all connected to each other is redundant.
    for (int pass = 0; pass < 4; ++pass) {
        bool removed = false;
        for (std::ptrdiff_t i : live) {
            if (!base[i]) continue;
            const int m = neighbourhood(base + i, w);
            if (tb.count[m] >= 2 && tb.components[m] == 1) {
                base[i] = 0;
                removed = true;
            }
        }
        if (!removed) break;
    }
    ByteGrid out(bw, bh);
    for (int y = 0; y < bh; ++y) std::copy(work.row(y + 1) + 1, work.row(y + 1) + 1 + bw, out.row(y));
    return out;
}

}  // namespace afis
