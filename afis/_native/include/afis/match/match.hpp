// Pairwise matching of minutiae templates. Knows nothing of Python.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "afis/common/simd.hpp"
#include "afis/match/match_params.hpp"

namespace afis {

// A template's minutiae in matcher form: image coordinates (y down), direction as an image
// angle (vector (cos a, sin a)), which is minus the template's counter-clockwise angle.
struct MatchMinutia {
    float x = 0, y = 0, angle = 0;
};

// What the matcher accepts, checked where data enters (bindings): minutiae per template,
// coordinate magnitude (pixels of the 500 ppi grid) and image-angle magnitude (radians).
// Within these the arithmetic stays finite and every angle wrap takes a few steps.
constexpr int MAX_MINUTIAE = 1000;
constexpr float MAX_COORDINATE = 1e12f;
constexpr float MAX_ANGLE = 4 * 3.14159265f;

// True when a minutia lies within the bounds above (false for NaN and infinities).
inline bool minutia_in_bounds(float x, float y, float angle) {
    return std::fabs(x) <= MAX_COORDINATE && std::fabs(y) <= MAX_COORDINATE && std::fabs(angle) <= MAX_ANGLE;
}

// The most minutiae of a template the matcher uses, those of highest quality: cylinder building
// is quadratic in the count, so the cap keeps a hostile or degenerate template from stalling a
// comparison (real fingers have 20-100).
constexpr int MAX_MATCH_MINUTIAE = 200;

constexpr int CYLINDER_CELLS =
    match_params::SPATIAL_CELLS * match_params::SPATIAL_CELLS * match_params::DIRECTION_CELLS;
constexpr int CYLINDER_WORDS = (CYLINDER_CELLS + 63) / 64;

// Cylinders of one template, ready for comparison: for minutia i, `bits[i]` holds the cell
// values and `valid[i]` which cells lie inside the print; invalid cylinders are skipped.
// A read-only view of one template's cylinders (into a CylinderSet or a packed gallery).
struct CylinderView {
    int n = 0;
    const MatchMinutia* minutiae = nullptr;
    const std::uint64_t* bits = nullptr;    // n * CYLINDER_WORDS
    const std::uint64_t* valid = nullptr;   // n * CYLINDER_WORDS
    const std::uint8_t* usable = nullptr;   // 1 = the cylinder passed the validity tests
    int size() const { return n; }
};

struct CylinderSet {
    std::vector<MatchMinutia> minutiae;
    std::vector<std::uint64_t> bits;
    std::vector<std::uint64_t> valid;
    std::vector<std::uint8_t> usable;
    int size() const { return static_cast<int>(minutiae.size()); }
    CylinderView view() const {
        return {size(), minutiae.data(), bits.data(), valid.data(), usable.data()};
    }
};

// cylinders.cpp
CylinderSet build_cylinders(const std::vector<MatchMinutia>& minutiae);

// local_similarity.cpp: the nA x nB matrix of local similarities, row-major.
void local_similarities(const CylinderView& a, const CylinderView& b, std::vector<float>& out);

// The pairs LSS-R's relaxation trusts most (highest efficiency, ties by selection order): the
// alignments the global pairing tries.
struct AnchorPairs {
    int count = 0;
    int a[match_params::PAIRING_ANCHORS] = {};
    int b[match_params::PAIRING_ANCHORS] = {};
};

// What LSS-R counted (explanations only): the n_P pairs whose weight held up best, in that
// order, with their relaxed weights; the score is the sum of the weights over `divisor` (n_P).
struct ConsolidationDetail {
    int divisor = 0;
    std::vector<int> a, b;         // minutiae of the two templates
    std::vector<float> weight;     // relaxed weight lambda
    std::vector<float> similarity; // initial weight: the local similarity
};

// What the global pairing counted under its best alignment (explanations only): minutia q of b
// goes to (cos r, -sin r; sin r, cos r) q + t on a (image axes); the weight of each pair, summed
// in pair order, is `mates`; the score is min(1, mates^2 / (max(overlap_a, PAIRING_MIN_OVERLAP)
// * max(overlap_b, PAIRING_MIN_OVERLAP))).
struct PairingDetail {
    int anchor = -1;               // index into the AnchorPairs of the best alignment
    int anchor_a = -1, anchor_b = -1;
    float rotation = 0, translation_x = 0, translation_y = 0;
    float mates = 0, score = 0;
    int overlap_a = 0, overlap_b = 0;
    std::vector<int> a, b;         // paired minutiae, greedy order (closest first)
    std::vector<float> weight;     // 1 - PAIRING_DISTANCE_DISCOUNT * distance / tolerance
};

// consolidation.cpp: the global score from the local similarities (LSS-R); fills `anchors`
// and `detail` when given.
float consolidate(const CylinderView& a, const CylinderView& b, const std::vector<float>& local,
                  AnchorPairs* anchors = nullptr, ConsolidationDetail* detail = nullptr);

// global_pairing.cpp: the pairing score of the anchors' alignments, in [0, 1]; fills `detail`
// (the best alignment's pairs, the first anchor on ties) when given.
float global_pairing(const CylinderView& a, const CylinderView& b, const AnchorPairs& anchors,
                     PairingDetail* detail = nullptr);

// matcher.cpp: the whole comparison, symmetric, in [0, 1].
float compare(const CylinderView& a, const CylinderView& b);

// The same comparison (the same code, the same score bit for bit) recording what it counted.
// The stages see the templates in the canonical order: `swapped` when that put b first, and
// then the details' "a" is b. `pairing_ran` is false when LSS-R scored 0 (pairing skipped).
struct ComparisonDetail {
    float score = 0, lssr = 0, pairing = 0;
    bool swapped = false, pairing_ran = false;
    ConsolidationDetail local;
    PairingDetail global;
};
float compare_explained(const CylinderView& a, const CylinderView& b, ComparisonDetail& detail);

}  // namespace afis
