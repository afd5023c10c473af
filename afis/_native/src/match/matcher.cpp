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

}  // namespace

float compare(const CylinderView& a, const CylinderView& b) {
    thread_local std::vector<float> local;
    const bool ordered = canonical_first(a, b);
    const CylinderView& first = ordered ? a : b;
    const CylinderView& second = ordered ? b : a;
    local_similarities(first, second, local);
    AnchorPairs anchors;
    const float lssr = consolidate(first, second, local, &anchors);
    if (!(lssr > 0)) return 0;
    const float pairing = global_pairing(first, second, anchors);
    if (!(pairing > 0)) return 0;
    return std::pow(lssr, match_params::LSSR_WEIGHT) * std::pow(pairing, 1.0f - match_params::LSSR_WEIGHT);
}

}  // namespace afis
