// The arithmetic of the original cylinder builder, operation for operation. The fast builder
// (cylinders.cpp) decides almost every cell with error bounds and asks these functions only for
// the cells it cannot decide, so that its cylinders are the very bits this code gives; the
// whole original builder stays here as the reference the tests compare with. Knows nothing of
// Python.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "afis/common/util.hpp"
#include "afis/match/match.hpp"

namespace afis::cylinder_exact {

struct Point {
    float x, y;
};

// The constants of the builder, computed as the original computed them.
struct Constants {
    static constexpr int NS = match_params::SPATIAL_CELLS, ND = match_params::DIRECTION_CELLS;
    float cell, dir_cell, reach, neighbourhood, spatial_norm, erf_scale;
    std::array<float, NS> offset;  // cell centres along one side, relative to the minutia
};
const Constants& constants();

// Andrew's monotone chain over the minutiae (as the original: the same vertices, same order).
std::vector<Point> convex_hull(std::vector<Point> pts);

// A disc well inside a convex hull; for moderate coordinates only (r2 < 0 otherwise).
struct Disc {
    float x = 0, y = 0, r2 = -1;
    bool contains(float px, float py) const { return (px - x) * (px - x) + (py - y) * (py - y) <= r2; }
};
Disc inner_disc(const std::vector<Point>& hull);

// Whether (x, y) lies within `offset` of the hull (inside it, or near an edge).
bool near_hull(const std::vector<Point>& hull, float x, float y, float offset);

// A cell centre of the cylinder of minutia m (cos/sin of its angle given) in image coordinates.
inline Point cell_centre(const MatchMinutia& m, float cs, float sn, float u, float v) {
    return {m.x + u * cs - v * sn, m.y + u * sn + v * cs};
}

// The original validity test of a cell centre.
inline bool cell_valid(const std::vector<Point>& hull, const Disc& inner, float px, float py) {
    return inner.contains(px, py) || near_hull(hull, px, py, match_params::HULL_OFFSET);
}

// Neighbour t of the cylinder of minutia m: its position in the cylinder frame (lu, lv), its
// direction relative to m and the box of cells its spatial contribution may reach; false when
// t lies beyond the neighbourhood (it does not count as a neighbour).
struct Neighbour {
    float lu, lv, dtheta;
    int i0, i1, j0, j1;
};
inline bool neighbour_frame(const Constants& k, const MatchMinutia& m, const MatchMinutia& t, float cs,
                            float sn, Neighbour& out) {
    constexpr int NS = Constants::NS;
    const float dx = t.x - m.x, dy = t.y - m.y;
    if (dx * dx + dy * dy > k.neighbourhood * k.neighbourhood) return false;
    const float lu = dx * cs + dy * sn, lv = -dx * sn + dy * cs;  // in the cylinder frame
    out.lu = lu;
    out.lv = lv;
    out.dtheta = wrap_pi(t.angle - m.angle);
    out.i0 = std::max(0, static_cast<int>(std::ceil((lu - k.reach) / k.cell + 0.5f * (NS - 1))));
    out.i1 = std::min(NS - 1, static_cast<int>(std::floor((lu + k.reach) / k.cell + 0.5f * (NS - 1))));
    out.j0 = std::max(0, static_cast<int>(std::ceil((lv - k.reach) / k.cell + 0.5f * (NS - 1))));
    out.j1 = std::min(NS - 1, static_cast<int>(std::floor((lv + k.reach) / k.cell + 0.5f * (NS - 1))));
    return true;
}

// The directional contribution of a neighbour turned by dtheta to direction section d.
inline float directional(const Constants& k, float dtheta, int d) {
    constexpr float PI_F = 3.14159265358979323846f;
    const float centre = -PI_F + (d + 0.5f) * k.dir_cell;
    const float alpha = wrap_pi(centre - dtheta);
    return 0.5f * (std::erf((alpha + 0.5f * k.dir_cell) * k.erf_scale) -
                   std::erf((alpha - 0.5f * k.dir_cell) * k.erf_scale));
}

// Whether a neighbour at squared distance d2 from a cell centre reaches it, and how much.
inline bool reaches(const Constants& k, float d2) { return !(d2 > k.reach * k.reach); }
inline float spatial(const Constants& k, float d2) {
    return k.spatial_norm *
           std::exp(-0.5f * d2 / (match_params::SIGMA_SPATIAL * match_params::SIGMA_SPATIAL));
}

// The value of cell (i, j), direction section k, of the cylinder of minutia c: the sum over
// its neighbours, in the original order and arithmetic (compare with CONTRIBUTION_THRESHOLD).
float cell_value(const std::vector<MatchMinutia>& minutiae, int c, float cs, float sn, int i, int j, int k);

// The original builder, whole: the reference of the tests (same cylinders as build_cylinders).
CylinderSet build_cylinders_reference(const std::vector<MatchMinutia>& minutiae);

}  // namespace afis::cylinder_exact
