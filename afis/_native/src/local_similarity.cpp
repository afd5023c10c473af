// Local similarity of two cylinders (bit version): over the cells valid in both,
// 1 - |a xor b| / (|a| + |b|) with |.| the square root of the bit count. Pairs whose
// minutiae differ in direction by more than delta_theta, or that share too few valid cells,
// score zero. The inner loop is popcounts; it is compiled for several instruction sets and
// the best one is chosen at run time.
#include <cmath>

#include "afis/match.hpp"

namespace afis {

namespace {

constexpr float PI_F = 3.14159265358979323846f;

float angle_difference(float a, float b) {
    float d = std::fabs(a - b);
    d = std::fmod(d, 2 * PI_F);
    return d > PI_F ? 2 * PI_F - d : d;
}

}  // namespace

__attribute__((target_clones("avx2", "popcnt", "default")))
void local_similarities(const CylinderView& a, const CylinderView& b, std::vector<float>& out) {
    const int na = a.size(), nb = b.size();
    out.assign(static_cast<std::size_t>(na) * nb, 0.0f);
    const int min_cells = static_cast<int>(match_params::MIN_MATCHABLE_CELLS * CYLINDER_CELLS);
    for (int i = 0; i < na; ++i) {
        if (!a.usable[i]) continue;
        const std::uint64_t* ca = a.bits + static_cast<std::size_t>(i) * CYLINDER_WORDS;
        const std::uint64_t* va = a.valid + static_cast<std::size_t>(i) * CYLINDER_WORDS;
        for (int j = 0; j < nb; ++j) {
            if (!b.usable[j]) continue;
            if (angle_difference(a.minutiae[i].angle, b.minutiae[j].angle) > match_params::MAX_DIRECTION_DIFFERENCE) continue;
            const std::uint64_t* cb = b.bits + static_cast<std::size_t>(j) * CYLINDER_WORDS;
            const std::uint64_t* vb = b.valid + static_cast<std::size_t>(j) * CYLINDER_WORDS;
            int common = 0, count_a = 0, count_b = 0, differ = 0;
            for (int w = 0; w < CYLINDER_WORDS; ++w) {
                const std::uint64_t both = va[w] & vb[w];
                const std::uint64_t xa = ca[w] & both, xb = cb[w] & both;
                common += __builtin_popcountll(both);
                count_a += __builtin_popcountll(xa);
                count_b += __builtin_popcountll(xb);
                differ += __builtin_popcountll(xa ^ xb);
            }
            if (common < min_cells) continue;
            const float norm = std::sqrt(static_cast<float>(count_a)) + std::sqrt(static_cast<float>(count_b));
            if (norm <= 0) continue;
            out[static_cast<std::size_t>(i) * nb + j] = 1.0f - std::sqrt(static_cast<float>(differ)) / norm;
        }
    }
}

}  // namespace afis
