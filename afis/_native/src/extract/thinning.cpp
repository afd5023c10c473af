// Thinning with the Guo-Hall parallel algorithm (two sub-iterations, decided by lookup
// tables over the 8-neighbourhood), then removal of staircase pixels so that every line
// pixel of the skeleton has exactly two neighbours and junctions are easy to find.
#include <array>
#include <vector>

#include "afis/extract/stages.hpp"

namespace afis {

namespace {

// Neighbour bit order: N, NE, E, SE, S, SW, W, NW.
constexpr int DX[8] = {0, 1, 1, 1, 0, -1, -1, -1};
constexpr int DY[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

struct Tables {
    std::array<std::array<std::uint8_t, 256>, 2> guo_hall{};  // 1 = delete in sub-iteration
    std::array<std::uint8_t, 256> components{};  // 8-connected groups among the neighbours
    std::array<std::uint8_t, 256> count{};
};

const Tables& tables() {
    static const Tables t = [] {
        Tables tb;
        for (int m = 0; m < 256; ++m) {
            auto b = [m](int i) { return (m >> i) & 1; };
            const int p2 = b(0), p3 = b(1), p4 = b(2), p5 = b(3), p6 = b(4), p7 = b(5), p8 = b(6),
                      p9 = b(7);
            const int c = (!p2 && (p3 || p4)) + (!p4 && (p5 || p6)) + (!p6 && (p7 || p8)) +
                          (!p8 && (p9 || p2));
            const int n1 = (p9 || p2) + (p3 || p4) + (p5 || p6) + (p7 || p8);
            const int n2 = (p2 || p3) + (p4 || p5) + (p6 || p7) + (p8 || p9);
            const int n = n1 < n2 ? n1 : n2;
            const int m0 = (p6 || p7 || !p9) && p8;
            const int m1 = (p2 || p3 || !p5) && p4;
            tb.guo_hall[0][m] = (c == 1 && n >= 2 && n <= 3 && !m0) ? 1 : 0;
            tb.guo_hall[1][m] = (c == 1 && n >= 2 && n <= 3 && !m1) ? 1 : 0;
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

}  // namespace

ByteGrid thin(const ByteGrid& binary) {
    const Tables& tb = tables();
    // Work on a copy with a one-pixel empty border so neighbourhoods never leave the grid.
    const int w = binary.width + 2, h = binary.height + 2;
    ByteGrid work(w, h);
    std::vector<std::ptrdiff_t> live;
    for (int y = 0; y < binary.height; ++y)
        for (int x = 0; x < binary.width; ++x)
            if (binary.at(x, y)) {
                work.at(x + 1, y + 1) = 1;
                live.push_back(static_cast<std::ptrdiff_t>(y + 1) * w + x + 1);
            }
    std::uint8_t* base = work.data.data();
    std::vector<std::ptrdiff_t> doomed;
    bool changed = true;
    while (changed) {
        changed = false;
        for (int sub = 0; sub < 2; ++sub) {
            doomed.clear();
            for (std::ptrdiff_t i : live)
                if (tb.guo_hall[sub][neighbourhood(base + i, w)]) doomed.push_back(i);
            for (std::ptrdiff_t i : doomed) base[i] = 0;
            if (!doomed.empty()) {
                changed = true;
                std::size_t k = 0;
                for (std::ptrdiff_t i : live)
                    if (base[i]) live[k++] = i;
                live.resize(k);
            }
        }
    }
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
    ByteGrid out(binary.width, binary.height);
    for (int y = 0; y < binary.height; ++y)
        for (int x = 0; x < binary.width; ++x) out.at(x, y) = work.at(x + 1, y + 1);
    return out;
}

}  // namespace afis
