// Global score by Local Similarity Sort with Relaxation (LSS-R): the best n_R minutia pairs
// by local similarity are relaxed against each other, so a pair keeps its weight only if
// other pairs agree with it geometrically (distances, relative directions and radial
// angles consistent in both prints). The n_P pairs that gained the most are averaged.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>

#include "afis/match.hpp"
#include "afis/util.hpp"

namespace afis {

namespace {

namespace mp = match_params;
constexpr float PI_F = 3.14159265358979323846f;

float sigmoid(float v, float mu, float tau) { return 1.0f / (1.0f + std::exp(-tau * (v - mu))); }

// Sigmoids by table: the relaxation evaluates three of them for every pair of pairs.
struct SigmoidTable {
    static constexpr int SIZE = 1024;
    float limit = 1, step = 1;
    std::array<float, SIZE + 1> values{};
    SigmoidTable(float mu, float tau, float lim) : limit(lim), step(lim / SIZE) {
        for (int i = 0; i <= SIZE; ++i) values[i] = sigmoid(i * step, mu, tau);
    }
    float operator()(float v) const {
        const float f = v / step;
        if (f >= SIZE) return values[SIZE];
        const int i = static_cast<int>(f);
        return values[i] + (values[i + 1] - values[i]) * (f - i);
    }
};

// Both helpers take differences of angles already within (-2 pi, 2 pi] or so; a loop of
// conditional steps is much cheaper than fmod here.
float wrap_pi(float a) {
    while (a > PI_F) a -= 2 * PI_F;
    while (a <= -PI_F) a += 2 * PI_F;
    return a;
}

float wrap_abs(float a) { return std::fabs(wrap_pi(a)); }

}  // namespace

float consolidate(const CylinderView& a, const CylinderView& b, const std::vector<float>& local) {
    static const SigmoidTable rho_distance(mp::DISTANCE_MU, mp::DISTANCE_TAU, 4 * mp::RADIUS);
    static const SigmoidTable rho_direction(mp::DIRECTION_MU, mp::DIRECTION_TAU, PI_F);
    static const SigmoidTable rho_radial(mp::RADIAL_MU, mp::RADIAL_TAU, PI_F);

    const int na = a.size(), nb = b.size();
    if (na == 0 || nb == 0) return 0.0f;
    const int n_min = std::min(na, nb);
    const int n_pairs = std::min(
        n_min, mp::MIN_PAIRS + static_cast<int>(std::lround(sigmoid(static_cast<float>(n_min), mp::PAIRS_MU, mp::PAIRS_TAU) *
                                                            (mp::MAX_PAIRS - mp::MIN_PAIRS))));
    const int n_relax = n_min;

    // The n_R best pairs with every minutia used at most once (greedy assignment, a cheap
    // stand-in for the optimal assignment of LSA-R): otherwise one distinctive minutia can
    // fill the list with pairs that cannot all be right. Ties broken by position.
    // Candidates as integer keys: the similarity's bits (positive floats order like their
    // bit patterns) above the complemented position, so one integer sort orders by
    // similarity, ties by position, with no indirection.
    thread_local std::vector<std::uint64_t> order;
    order.clear();
    for (int p = 0; p < static_cast<int>(local.size()); ++p) {
        if (!(local[p] > 0)) continue;
        std::uint32_t bits;
        std::memcpy(&bits, &local[p], sizeof bits);
        order.push_back((std::uint64_t{bits} << 32) | (0xFFFFFFFFu - static_cast<std::uint32_t>(p)));
    }
    struct Pair {
        int ia, ib;
        float lambda0;
    };
    std::vector<Pair> pairs;
    std::vector<std::uint8_t> used_a(na, 0), used_b(nb, 0);
    // The greedy pass rarely needs more than a few times n_R of the best candidates: select
    // and sort those first, and the rest only if it runs out.
    std::size_t sorted = std::min(order.size(), static_cast<std::size_t>(4 * n_relax));
    std::nth_element(order.begin(), order.begin() + sorted, order.end(), std::greater<>());
    std::sort(order.begin(), order.begin() + sorted, std::greater<>());
    for (std::size_t k = 0; k < order.size() && static_cast<int>(pairs.size()) < n_relax; ++k) {
        if (k == sorted) {
            std::sort(order.begin() + sorted, order.end(), std::greater<>());
            sorted = order.size();
        }
        const int p = static_cast<int>(0xFFFFFFFFu - static_cast<std::uint32_t>(order[k]));
        const int ia = p / nb, ib = p % nb;
        if (used_a[ia] || used_b[ib]) continue;
        used_a[ia] = used_b[ib] = 1;
        pairs.push_back({ia, ib, local[p]});
    }
    const int n = static_cast<int>(pairs.size());
    if (n == 0) return 0.0f;

    // Compatibility of every two pairs.
    std::vector<float> rho(static_cast<std::size_t>(n) * n, 0.0f);
    for (int t = 0; t < n; ++t) {
        const MatchMinutia &at = a.minutiae[pairs[t].ia], &bt = b.minutiae[pairs[t].ib];
        for (int k = t + 1; k < n; ++k) {
            const MatchMinutia &ak = a.minutiae[pairs[k].ia], &bk = b.minutiae[pairs[k].ib];
            if (pairs[t].ia == pairs[k].ia || pairs[t].ib == pairs[k].ib) continue;
            const float ax = ak.x - at.x, ay = ak.y - at.y, bx = bk.x - bt.x, by = bk.y - bt.y;
            const float da = std::sqrt(ax * ax + ay * ay), db = std::sqrt(bx * bx + by * by);
            const float d1 = std::fabs(da - db);
            const float d2 = wrap_abs(wrap_pi(at.angle - ak.angle) - wrap_pi(bt.angle - bk.angle));
            const float ra = wrap_pi(at.angle - fast_atan2(ay, ax));
            const float rb = wrap_pi(bt.angle - fast_atan2(by, bx));
            const float d3 = wrap_abs(ra - rb);
            const float r = rho_distance(d1) * rho_direction(d2) * rho_radial(d3);
            rho[static_cast<std::size_t>(t) * n + k] = r;
            rho[static_cast<std::size_t>(k) * n + t] = r;
        }
    }
    std::vector<float> lambda(n), next(n);
    for (int t = 0; t < n; ++t) lambda[t] = pairs[t].lambda0;
    const float spread = n > 1 ? (1 - mp::RELAXATION_WEIGHT) / static_cast<float>(n_relax - 1) : 0.0f;
    for (int it = 0; it < mp::RELAXATION_ITERATIONS; ++it) {
        for (int t = 0; t < n; ++t) {
            // Four running sums break the chain of dependent additions (the compiler may not
            // reorder float additions itself); the order is fixed, so results stay
            // deterministic.
            const float* row = &rho[static_cast<std::size_t>(t) * n];
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            int k = 0;
            for (; k + 4 <= n; k += 4) {
                s0 += row[k] * lambda[k];
                s1 += row[k + 1] * lambda[k + 1];
                s2 += row[k + 2] * lambda[k + 2];
                s3 += row[k + 3] * lambda[k + 3];
            }
            for (; k < n; ++k) s0 += row[k] * lambda[k];
            const float support = (s0 + s1) + (s2 + s3);
            next[t] = mp::RELAXATION_WEIGHT * lambda[t] + spread * support;
        }
        lambda.swap(next);
    }
    // The n_P pairs whose weight held up best (efficiency = relaxed / initial).
    std::vector<int> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    const int keep = std::min(n_pairs, n);
    std::partial_sort(idx.begin(), idx.begin() + keep, idx.end(), [&](int p, int q) {
        const float ep = lambda[p] / pairs[p].lambda0, eq = lambda[q] / pairs[q].lambda0;
        return ep != eq ? ep > eq : p < q;
    });
    float sum = 0;
    for (int i = 0; i < keep; ++i) sum += lambda[idx[i]];
    return sum / n_pairs;
}

}  // namespace afis
