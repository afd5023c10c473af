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

// consolidation.cpp: the global score from the local similarities (LSS-R); fills `anchors`
// when given.
float consolidate(const CylinderView& a, const CylinderView& b, const std::vector<float>& local,
                  AnchorPairs* anchors = nullptr);

// global_pairing.cpp: the pairing score of the anchors' alignments, in [0, 1].
float global_pairing(const CylinderView& a, const CylinderView& b, const AnchorPairs& anchors);

// matcher.cpp: the whole comparison, symmetric, in [0, 1].
float compare(const CylinderView& a, const CylinderView& b);

}  // namespace afis
