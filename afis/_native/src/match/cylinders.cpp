// Minutia Cylinder-Code: around every minutia, a cylinder of Ns x Ns x Nd cells aligned with
// the minutia's direction records where the neighbouring minutiae are and how they are
// turned relative to it (Gaussian spatial and directional contributions, thresholded to
// bits). Cells outside the radius or far outside the convex hull of the minutiae carry no
// information and are marked invalid so partial prints compare fairly.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "afis/common/util.hpp"
#include "afis/match/match.hpp"

namespace afis {

namespace {

namespace mp = match_params;
constexpr float PI_F = 3.14159265358979323846f;

struct P {
    float x, y;
};

float cross(const P& o, const P& a, const P& b) {
    return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

// Andrew's monotone chain; counter-clockwise in a y-up sense (any consistent orientation
// works for the tests below).
std::vector<P> convex_hull(std::vector<P> pts) {
    std::sort(pts.begin(), pts.end(), [](const P& a, const P& b) { return a.x != b.x ? a.x < b.x : a.y < b.y; });
    pts.erase(std::unique(pts.begin(), pts.end(), [](const P& a, const P& b) { return a.x == b.x && a.y == b.y; }), pts.end());
    if (pts.size() < 3) return pts;
    std::vector<P> hull(2 * pts.size());
    std::size_t k = 0;
    for (const P& p : pts) {
        while (k >= 2 && cross(hull[k - 2], hull[k - 1], p) <= 0) --k;
        hull[k++] = p;
    }
    for (std::size_t i = pts.size() - 1, t = k + 1; i-- > 0;) {
        while (k >= t && cross(hull[k - 2], hull[k - 1], pts[i]) <= 0) --k;
        hull[k++] = pts[i];
    }
    hull.resize(k - 1);
    return hull;
}

float segment_distance_sq(const P& a, const P& b, float x, float y) {
    const float dx = b.x - a.x, dy = b.y - a.y;
    const float len = dx * dx + dy * dy;
    float t = len > 0 ? ((x - a.x) * dx + (y - a.y) * dy) / len : 0.0f;
    t = std::clamp(t, 0.0f, 1.0f);
    const float ex = a.x + t * dx - x, ey = a.y + t * dy - y;
    return ex * ex + ey * ey;
}

bool near_hull(const std::vector<P>& hull, float x, float y, float offset) {
    if (hull.empty()) return false;
    if (hull.size() == 1) return (hull[0].x - x) * (hull[0].x - x) + (hull[0].y - y) * (hull[0].y - y) <= offset * offset;
    if (hull.size() >= 3) {  // inside the polygon: no distances needed
        bool inside = true;
        for (std::size_t i = 0; i < hull.size() && inside; ++i)
            inside = cross(hull[i], hull[(i + 1) % hull.size()], {x, y}) >= 0;
        if (inside) return true;
    }
    for (std::size_t i = 0; i < hull.size(); ++i)
        if (segment_distance_sq(hull[i], hull[(i + 1) % hull.size()], x, y) <= offset * offset) return true;
    return false;
}

// A disc well inside a convex hull (centred on its vertices' mean, one pixel short of the
// nearest edge): points in it are inside the hull, so near_hull() would say yes after testing
// every edge. Only for moderate coordinates, where float rounding is far below that pixel.
struct Disc {
    float x = 0, y = 0, r2 = -1;
    bool contains(float px, float py) const { return (px - x) * (px - x) + (py - y) * (py - y) <= r2; }
};

Disc inner_disc(const std::vector<P>& hull) {
    constexpr float MARGIN = 1.0f, MODERATE = 1e5f;
    Disc d;
    if (hull.size() < 3) return d;
    for (const P& p : hull) {
        if (!(std::fabs(p.x) < MODERATE && std::fabs(p.y) < MODERATE)) return d;
        d.x += p.x / hull.size();
        d.y += p.y / hull.size();
    }
    float r = std::numeric_limits<float>::max();
    for (std::size_t i = 0; i < hull.size(); ++i) {
        const P &a = hull[i], &b = hull[(i + 1) % hull.size()];
        const float length = std::hypot(b.x - a.x, b.y - a.y);
        if (!(length > 0)) return d;
        r = std::min(r, cross(a, b, {d.x, d.y}) / length);
    }
    if (r > 2 * MARGIN) d.r2 = (r - MARGIN) * (r - MARGIN);
    return d;
}

}  // namespace

CylinderSet build_cylinders(const std::vector<MatchMinutia>& minutiae) {
    constexpr int NS = mp::SPATIAL_CELLS, ND = mp::DIRECTION_CELLS;
    const float cell = 2 * mp::RADIUS / NS;
    const float dir_cell = 2 * PI_F / ND;
    const float reach = 3 * mp::SIGMA_SPATIAL;
    const float neighbourhood = mp::RADIUS + reach;
    const float spatial_norm = 1.0f / (mp::SIGMA_SPATIAL * std::sqrt(2 * PI_F));
    const float erf_scale = 1.0f / (mp::SIGMA_DIRECTION * std::sqrt(2.0f));

    CylinderSet set;
    set.minutiae = minutiae;
    const int n = set.size();
    set.bits.assign(static_cast<std::size_t>(n) * CYLINDER_WORDS, 0);
    set.valid.assign(static_cast<std::size_t>(n) * CYLINDER_WORDS, 0);
    set.usable.assign(n, 0);

    std::vector<P> points;
    for (const MatchMinutia& m : minutiae) points.push_back({m.x, m.y});
    const std::vector<P> hull = convex_hull(points);
    const Disc inner = inner_disc(hull);

    std::array<float, NS> offset{};
    for (int i = 0; i < NS; ++i) offset[i] = cell * (i - 0.5f * (NS - 1));
    std::vector<float> values(static_cast<std::size_t>(NS) * NS * ND);

    for (int c = 0; c < n; ++c) {
        const MatchMinutia& m = minutiae[c];
        const float cs = std::cos(m.angle), sn = std::sin(m.angle);
        std::uint64_t* valid = &set.valid[static_cast<std::size_t>(c) * CYLINDER_WORDS];
        std::uint64_t* bits = &set.bits[static_cast<std::size_t>(c) * CYLINDER_WORDS];
        int in_radius = 0, valid_cells = 0;
        std::array<std::uint8_t, NS * NS> cell_valid{};
        for (int j = 0; j < NS; ++j)
            for (int i = 0; i < NS; ++i) {
                const float u = offset[i], v = offset[j];
                if (u * u + v * v > mp::RADIUS * mp::RADIUS) continue;
                ++in_radius;
                const float px = m.x + u * cs - v * sn, py = m.y + u * sn + v * cs;
                if (!inner.contains(px, py) && !near_hull(hull, px, py, mp::HULL_OFFSET)) continue;
                cell_valid[j * NS + i] = 1;
                ++valid_cells;
            }
        std::fill(values.begin(), values.end(), 0.0f);
        int neighbours = 0;
        for (int t = 0; t < n; ++t) {
            if (t == c) continue;
            const float dx = minutiae[t].x - m.x, dy = minutiae[t].y - m.y;
            if (dx * dx + dy * dy > neighbourhood * neighbourhood) continue;
            ++neighbours;
            const float lu = dx * cs + dy * sn, lv = -dx * sn + dy * cs;  // in the cylinder frame
            const float dtheta = wrap_pi(minutiae[t].angle - m.angle);
            float directional[ND];
            for (int k = 0; k < ND; ++k) {
                const float centre = -PI_F + (k + 0.5f) * dir_cell;
                const float alpha = wrap_pi(centre - dtheta);
                directional[k] = 0.5f * (std::erf((alpha + 0.5f * dir_cell) * erf_scale) -
                                         std::erf((alpha - 0.5f * dir_cell) * erf_scale));
            }
            const int i0 = std::max(0, static_cast<int>(std::ceil((lu - reach) / cell + 0.5f * (NS - 1))));
            const int i1 = std::min(NS - 1, static_cast<int>(std::floor((lu + reach) / cell + 0.5f * (NS - 1))));
            const int j0 = std::max(0, static_cast<int>(std::ceil((lv - reach) / cell + 0.5f * (NS - 1))));
            const int j1 = std::min(NS - 1, static_cast<int>(std::floor((lv + reach) / cell + 0.5f * (NS - 1))));
            for (int j = j0; j <= j1; ++j)
                for (int i = i0; i <= i1; ++i) {
                    const float du = offset[i] - lu, dv = offset[j] - lv;
                    const float d2 = du * du + dv * dv;
                    if (d2 > reach * reach) continue;
                    const float spatial = spatial_norm * std::exp(-0.5f * d2 / (mp::SIGMA_SPATIAL * mp::SIGMA_SPATIAL));
                    float* cellv = &values[static_cast<std::size_t>(j * NS + i) * ND];
                    for (int k = 0; k < ND; ++k) cellv[k] += spatial * directional[k];
                }
        }
        for (int s = 0; s < NS * NS; ++s) {
            if (!cell_valid[s]) continue;
            for (int k = 0; k < ND; ++k) {
                const int bit = s * ND + k;
                valid[bit >> 6] |= std::uint64_t{1} << (bit & 63);
                if (values[static_cast<std::size_t>(s) * ND + k] >= mp::CONTRIBUTION_THRESHOLD)
                    bits[bit >> 6] |= std::uint64_t{1} << (bit & 63);
            }
        }
        set.usable[c] = (in_radius > 0 && valid_cells >= mp::MIN_VALID_CELLS * in_radius &&
                         neighbours >= mp::MIN_NEIGHBOURS)
                            ? 1
                            : 0;
    }
    return set;
}

}  // namespace afis
