// One comparison: local similarities, then consolidation (LSS-R) fused with the global
// pairing. The score is made symmetric by always putting the two templates in a canonical
// order, so compare(a, b) == compare(b, a) bit for bit.
#include <algorithm>
#include <cmath>
#include <tuple>

#include "afis/match/match.hpp"

namespace afis {

namespace {

bool canonical_first(const CylinderView& a, const CylinderView& b) {
    if (a.size() != b.size()) return a.size() < b.size();
    for (int i = 0; i < a.size(); ++i) {
        const MatchMinutia &p = a.minutiae[i], &q = b.minutiae[i];
        if (std::tie(p.x, p.y, p.angle) != std::tie(q.x, q.y, q.angle))
            return std::tie(p.x, p.y, p.angle) < std::tie(q.x, q.y, q.angle);
    }
    return true;
}

// The comparison; records what it counted in `detail` when given (null in the hot path).
inline float compare_impl(const CylinderView& a, const CylinderView& b, ComparisonDetail* detail) {
    thread_local std::vector<float> local;
    const bool ordered = canonical_first(a, b);
    const CylinderView& first = ordered ? a : b;
    const CylinderView& second = ordered ? b : a;
    if (detail) detail->swapped = !ordered;
    local_similarities(first, second, local);
    AnchorPairs anchors;
    const float lssr = consolidate(first, second, local, &anchors, detail ? &detail->local : nullptr);
    if (detail) detail->lssr = lssr;
    if (!(lssr > 0)) return 0;
    const float pairing = global_pairing(first, second, anchors, detail ? &detail->global : nullptr);
    if (detail) detail->pairing = pairing, detail->pairing_ran = true;
    if (!(pairing > 0)) return 0;
    return std::pow(lssr, match_params::LSSR_WEIGHT) * std::pow(pairing, 1.0f - match_params::LSSR_WEIGHT);
}

}  // namespace

float compare(const CylinderView& a, const CylinderView& b) { return compare_impl(a, b, nullptr); }

float compare_explained(const CylinderView& a, const CylinderView& b, ComparisonDetail& detail) {
    detail = ComparisonDetail{};
    detail.score = compare_impl(a, b, &detail);
    return detail.score;
}

}  // namespace afis
