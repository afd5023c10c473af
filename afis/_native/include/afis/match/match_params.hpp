// Tuned constants of the matcher (Minutia Cylinder-Code, bit version, with LSS-R
// consolidation: Cappelli, Ferrara & Maltoni, IEEE TPAMI 32(12), 2010). Lengths in pixels
// of the 500 ppi grid, angles in radians.
#pragma once

namespace afis::match_params {

// --- cylinders ------------------------------------------------------------------------------
constexpr float RADIUS = 70.0f;           // R: cylinder radius
constexpr int SPATIAL_CELLS = 16;         // Ns: cells along each side of the cylinder base
constexpr int DIRECTION_CELLS = 6;        // Nd: angular sections
constexpr float SIGMA_SPATIAL = 28.0f / 3.0f;     // sigma_S
constexpr float SIGMA_DIRECTION = 2.0f * 3.14159265f / 9.0f;  // sigma_D
constexpr float CONTRIBUTION_THRESHOLD = 0.01f;   // mu_psi: a cell bit is set at or above it
constexpr float HULL_OFFSET = 50.0f;      // Omega: cells this far outside the hull stay valid
constexpr float MIN_VALID_CELLS = 0.75f;  // min_VC: share of the base that must be valid
constexpr int MIN_NEIGHBOURS = 2;         // min_M: minutiae a cylinder must see

// --- local similarity -------------------------------------------------------------------
constexpr float MAX_DIRECTION_DIFFERENCE = 3.14159265f / 2.0f;  // delta_theta
constexpr float MIN_MATCHABLE_CELLS = 0.6f;                      // min_ME

// --- consolidation (LSS-R) ------------------------------------------------------------------
constexpr int MIN_PAIRS = 4;      // min_nP
constexpr int MAX_PAIRS = 12;     // max_nP
constexpr float PAIRS_MU = 20.0f; // mu_P
constexpr float PAIRS_TAU = 0.4f; // tau_P
constexpr int RELAXATION_ITERATIONS = 5;
constexpr float RELAXATION_WEIGHT = 0.5f;  // w_R
constexpr float DISTANCE_MU = 5.0f, DISTANCE_TAU = -8.0f / 5.0f;            // rho_1
constexpr float DIRECTION_MU = 3.14159265f / 12.0f, DIRECTION_TAU = -30.0f;  // rho_2
constexpr float RADIAL_MU = 3.14159265f / 12.0f, RADIAL_TAU = -30.0f;        // rho_3

// --- global pairing, fused with LSS-R ----------------------------------------------------------
// LSS-R scores local structures and their mutual compatibility but never asks how many of all
// the minutiae agree under one alignment. The pairing step does: each of the PAIRING_ANCHORS
// pairs that LSS-R's relaxation trusts most aligns the second template on the first (rotation
// and translation), minutiae are paired one-to-one within a distance that grows away from the
// anchor (skin distortion) and an angle limit, and the weighted pair count m scores
// m^2 / (overlap_a * overlap_b), the overlaps being the minutiae of each template near any
// minutia of the other (at least PAIRING_MIN_OVERLAP). Final score: lssr^LSSR_WEIGHT *
// pairing^(1 - LSSR_WEIGHT). Measured in benchmarks/EXPERIMENTS.md ("Global pairing").
constexpr int PAIRING_ANCHORS = 2;
constexpr float PAIRING_TOLERANCE = 10.0f;         // pair distance at the anchor
constexpr float PAIRING_TOLERANCE_GROWTH = 0.08f;  // added per pixel of distance to the anchor
constexpr float PAIRING_MAX_ANGLE = 2.0f * 3.14159265f / 9.0f;
constexpr float PAIRING_OVERLAP_DISTANCE = 55.0f;
constexpr float PAIRING_MIN_OVERLAP = 15.0f;
constexpr float PAIRING_DISTANCE_DISCOUNT = 0.5f;  // a pair at the distance limit counts 1 - this
constexpr float LSSR_WEIGHT = 0.7f;

}  // namespace afis::match_params
