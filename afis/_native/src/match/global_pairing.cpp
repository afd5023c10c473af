// Global pairing: how many minutiae agree under the alignments of the best local pairs.
// See match_params.hpp ("global pairing") for the definition and its constants.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "afis/common/util.hpp"
#include "afis/common/x86.hpp"
#include "afis/match/match.hpp"

namespace afis {

namespace {

namespace mp = match_params;

// Coordinate of the padding minutiae: squared distances to real ones stay finite (coordinates
// are bounded by MAX_COORDINATE) and far above any tolerance.
constexpr float FAR_AWAY = 1e15f;

struct Candidate {
    float key;  // (distance / tolerance)^2, in [0, 1)
    int a, b;
    bool operator<(const Candidate& o) const {
        return key != o.key ? key < o.key : (a != o.a ? a < o.a : b < o.b);
    }
};

struct Scratch {
    std::vector<float> bx, by, rb;
    std::vector<std::uint32_t> overlap_b;  // all-ones where the minutia of b overlaps a
    std::vector<unsigned char> paired_a, paired_b;
    std::vector<Candidate> candidates;
};

// Candidates of row p (minutia m of a, tolerance `base` + rb[q]) among the aligned minutiae
// of b; marks the overlaps. Returns whether m overlaps b. Arrays are padded to a multiple of 4
// with far-away minutiae that never pair or overlap.
inline bool scan_pairs(const MatchMinutia& m, int p, float base, const CylinderView& b, float turn, int nb_padded,
                       Scratch& s) {
    const float overlap2 = mp::PAIRING_OVERLAP_DISTANCE * mp::PAIRING_OVERLAP_DISTANCE;
    const float* bx = s.bx.data();
    const float* by = s.by.data();
    const float* rb = s.rb.data();
    std::uint32_t* overlap_b = s.overlap_b.data();
    const auto consider = [&](int q, float dd, float tt) {
        if (q < b.size() && std::fabs(wrap_pi(m.angle - (b.minutiae[q].angle + turn))) < mp::PAIRING_MAX_ANGLE)
            s.candidates.push_back({dd / tt, p, q});
    };
#ifdef AFIS_X86
    const __m128 mx = _mm_set1_ps(m.x), my = _mm_set1_ps(m.y), vbase = _mm_set1_ps(base);
    const __m128 vover = _mm_set1_ps(overlap2);
    __m128 any = _mm_setzero_ps();
    for (int q = 0; q < nb_padded; q += 4) {
        const __m128 dx = _mm_sub_ps(mx, _mm_loadu_ps(bx + q)), dy = _mm_sub_ps(my, _mm_loadu_ps(by + q));
        const __m128 dd = _mm_add_ps(_mm_mul_ps(dx, dx), _mm_mul_ps(dy, dy));
        const __m128 t = _mm_add_ps(vbase, _mm_loadu_ps(rb + q));
        const __m128 tt = _mm_mul_ps(t, t);
        const __m128 near = _mm_cmplt_ps(dd, tt);
        const __m128 overlaps = _mm_or_ps(near, _mm_cmplt_ps(dd, vover));
        auto* flags = reinterpret_cast<__m128i*>(overlap_b + q);
        _mm_storeu_si128(flags, _mm_or_si128(_mm_loadu_si128(flags), _mm_castps_si128(overlaps)));
        any = _mm_or_ps(any, overlaps);
        if (int mask = _mm_movemask_ps(near)) {
            alignas(16) float d[4], e[4];
            _mm_store_ps(d, dd);
            _mm_store_ps(e, tt);
            for (; mask; mask &= mask - 1) {
                const int lane = __builtin_ctz(static_cast<unsigned>(mask));
                consider(q + lane, d[lane], e[lane]);
            }
        }
    }
    return _mm_movemask_ps(any) != 0;
#else
    bool any = false;
    for (int q = 0; q < nb_padded; ++q) {
        const float dx = m.x - bx[q], dy = m.y - by[q];
        const float dd = dx * dx + dy * dy;
        const float t = base + rb[q];
        const float tt = t * t;
        const bool near = dd < tt;
        if (near || dd < overlap2) {
            overlap_b[q] = ~0u;
            any = true;
        }
        if (near) consider(q, dd, tt);
    }
    return any;
#endif
}

// Pairing score of one alignment: minutia `i` of a on minutia `j` of b. Records the alignment
// and its pairs in `detail` when given (explanations: the hot path passes null).
float pairing_score(const CylinderView& a, const CylinderView& b, int i, int j, Scratch& s,
                    PairingDetail* detail = nullptr) {
    const int na = a.size(), nb = b.size();
    const int nb_padded = (nb + 3) & ~3;
    const MatchMinutia &ai = a.minutiae[i], &bj = b.minutiae[j];
    const float turn = wrap_pi(ai.angle - bj.angle);
    const float c = std::cos(turn), sn = std::sin(turn);
    const float growth = 0.5f * mp::PAIRING_TOLERANCE_GROWTH;  // per pixel of each template
    for (int q = 0; q < nb; ++q) {
        const float x = b.minutiae[q].x - bj.x, y = b.minutiae[q].y - bj.y;
        s.bx[q] = c * x - sn * y + ai.x;
        s.by[q] = sn * x + c * y + ai.y;
        s.rb[q] = growth * std::sqrt(x * x + y * y);
    }
    for (int q = nb; q < nb_padded; ++q) {  // padding: never near anything
        s.bx[q] = s.by[q] = FAR_AWAY;
        s.rb[q] = 0;
    }
    std::fill(s.overlap_b.begin(), s.overlap_b.begin() + nb_padded, 0u);
    s.candidates.clear();
    int overlap_a = 0;
    for (int p = 0; p < na; ++p) {
        const MatchMinutia& m = a.minutiae[p];
        const float dx = m.x - ai.x, dy = m.y - ai.y;
        const float base = mp::PAIRING_TOLERANCE + growth * std::sqrt(dx * dx + dy * dy);
        overlap_a += scan_pairs(m, p, base, b, turn, nb_padded, s);
    }
    if (detail) {
        detail->anchor_a = i, detail->anchor_b = j;
        detail->rotation = turn;
        detail->translation_x = ai.x - (c * bj.x - sn * bj.y);
        detail->translation_y = ai.y - (sn * bj.x + c * bj.y);
        detail->overlap_a = overlap_a;
        for (int q = 0; q < nb; ++q) detail->overlap_b += s.overlap_b[q] != 0;
    }
    if (s.candidates.empty()) return 0;
    std::sort(s.candidates.begin(), s.candidates.end());
    std::fill(s.paired_a.begin(), s.paired_a.begin() + na, 0);
    std::fill(s.paired_b.begin(), s.paired_b.begin() + nb, 0);
    float mates = 0;
    for (const Candidate& e : s.candidates) {
        if (s.paired_a[e.a] || s.paired_b[e.b]) continue;
        s.paired_a[e.a] = s.paired_b[e.b] = 1;
        const float weight = 1.0f - mp::PAIRING_DISTANCE_DISCOUNT * std::sqrt(e.key);
        mates += weight;
        if (detail) {
            detail->a.push_back(e.a);
            detail->b.push_back(e.b);
            detail->weight.push_back(weight);
        }
    }
    int overlap_b = 0;
    for (int q = 0; q < nb; ++q) overlap_b += s.overlap_b[q] != 0;
    if (detail) detail->mates = mates;
    const float score = mates * mates / (std::max(static_cast<float>(overlap_a), mp::PAIRING_MIN_OVERLAP) *
                                         std::max(static_cast<float>(overlap_b), mp::PAIRING_MIN_OVERLAP));
    return std::min(score, 1.0f);
}

}  // namespace

float global_pairing(const CylinderView& a, const CylinderView& b, const AnchorPairs& anchors,
                     PairingDetail* detail) {
    const int na = a.size(), nb = b.size();
    if (na == 0 || nb == 0) return 0;
    thread_local Scratch s;
    const int nb_padded = (nb + 3) & ~3;
    for (auto* v : {&s.bx, &s.by, &s.rb}) fit(*v, nb_padded);
    fit(s.overlap_b, nb_padded);
    fit(s.paired_b, nb);
    fit(s.paired_a, na);
    float best = 0;
    int best_anchor = -1;
    for (int k = 0; k < anchors.count; ++k) {
        const float score = pairing_score(a, b, anchors.a[k], anchors.b[k], s);
        if (detail && (best_anchor < 0 || score > best)) best_anchor = k;  // the first of the best
        best = std::max(best, score);
    }
    if (detail && best_anchor >= 0) {  // the best alignment again, recording its pairs
        *detail = PairingDetail{};
        detail->anchor = best_anchor;
        detail->score = pairing_score(a, b, anchors.a[best_anchor], anchors.b[best_anchor], s, detail);
    }
    return best;
}

}  // namespace afis
