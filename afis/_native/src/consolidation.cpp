// Global score by Local Similarity Sort with Relaxation (LSS-R): the best n_R minutia pairs
// by local similarity are relaxed against each other, so a pair keeps its weight only if
// other pairs agree with it geometrically (distances, relative directions and radial
// angles consistent in both prints). The n_P pairs that gained the most are averaged.
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "afis/match.hpp"

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

float wrap_abs(float a) {
    a = std::fabs(std::fmod(a, 2 * PI_F));
    return a > PI_F ? 2 * PI_F - a : a;
}

float wrap_pi(float a) {
    a = std::fmod(a, 2 * PI_F);
    if (a > PI_F) a -= 2 * PI_F;
    if (a <= -PI_F) a += 2 * PI_F;
    return a;
}

}  // namespace

Consolidation consolidate(const CylinderView& a, const CylinderView& b, const std::vector<float>& local) {
    static const SigmoidTable rho_distance(mp::DISTANCE_MU, mp::DISTANCE_TAU, 4 * mp::RADIUS);
    static const SigmoidTable rho_direction(mp::DIRECTION_MU, mp::DIRECTION_TAU, PI_F);
    static const SigmoidTable rho_radial(mp::RADIAL_MU, mp::RADIAL_TAU, PI_F);

    const int na = a.size(), nb = b.size();
    if (na == 0 || nb == 0) return {};
    const int n_min = std::min(na, nb);
    const int n_pairs = std::min(
        n_min, mp::MIN_PAIRS + static_cast<int>(std::lround(sigmoid(static_cast<float>(n_min), mp::PAIRS_MU, mp::PAIRS_TAU) *
                                                            (mp::MAX_PAIRS - mp::MIN_PAIRS))));
    const int n_relax = n_min;

    // Top n_R cells of the local similarity matrix; ties broken by position for determinism.
    std::vector<int> order(local.size());
    std::iota(order.begin(), order.end(), 0);
    const auto better = [&](int p, int q) { return local[p] != local[q] ? local[p] > local[q] : p < q; };
    std::partial_sort(order.begin(), order.begin() + n_relax, order.end(), better);
    order.resize(n_relax);

    struct Pair {
        int ia, ib;
        float lambda0;
    };
    std::vector<Pair> pairs;
    for (int p : order) {
        if (local[p] <= 0) break;
        pairs.push_back({p / nb, p % nb, local[p]});
    }
    const int n = static_cast<int>(pairs.size());
    if (n == 0) return {};

    // Compatibility of every two pairs.
    std::vector<float> rho(static_cast<std::size_t>(n) * n, 0.0f);
    for (int t = 0; t < n; ++t) {
        const MatchMinutia &at = a.minutiae[pairs[t].ia], &bt = b.minutiae[pairs[t].ib];
        for (int k = t + 1; k < n; ++k) {
            const MatchMinutia &ak = a.minutiae[pairs[k].ia], &bk = b.minutiae[pairs[k].ib];
            if (pairs[t].ia == pairs[k].ia || pairs[t].ib == pairs[k].ib) continue;
            const float da = std::hypot(ak.x - at.x, ak.y - at.y);
            const float db = std::hypot(bk.x - bt.x, bk.y - bt.y);
            const float d1 = std::fabs(da - db);
            const float d2 = wrap_abs(wrap_pi(at.angle - ak.angle) - wrap_pi(bt.angle - bk.angle));
            const float ra = wrap_pi(at.angle - std::atan2(ak.y - at.y, ak.x - at.x));
            const float rb = wrap_pi(bt.angle - std::atan2(bk.y - bt.y, bk.x - bt.x));
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
            float support = 0;
            const float* row = &rho[static_cast<std::size_t>(t) * n];
            for (int k = 0; k < n; ++k) support += row[k] * lambda[k];
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
    Consolidation result;
    float sum = 0;
    for (int i = 0; i < keep; ++i) {
        sum += lambda[idx[i]];
        result.pairs.push_back({pairs[idx[i]].ia, pairs[idx[i]].ib, lambda[idx[i]]});
    }
    result.score = sum / n_pairs;
    return result;
}

}  // namespace afis
