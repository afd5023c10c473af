// The original cylinder builder's arithmetic (see cylinders_exact.hpp): the reference that the
// fast builder (cylinders.cpp) must reproduce bit for bit, and the exact answers it asks for the
// few cells its error bounds cannot decide. Change nothing here without regenerating the
// cylinders' reference (tests/test_cylinders.py): every score depends on it.
#include "afis/match/cylinders_exact.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace afis::cylinder_exact {

namespace {

namespace mp = match_params;
constexpr float PI_F = 3.14159265358979323846f;

float cross(const Point& o, const Point& a, const Point& b) {
    return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

float segment_distance_sq(const Point& a, const Point& b, float x, float y) {
    const float dx = b.x - a.x, dy = b.y - a.y;
    const float len = dx * dx + dy * dy;
    float t = len > 0 ? ((x - a.x) * dx + (y - a.y) * dy) / len : 0.0f;
    t = std::clamp(t, 0.0f, 1.0f);
    const float ex = a.x + t * dx - x, ey = a.y + t * dy - y;
    return ex * ex + ey * ey;
}

Constants make_constants() {
    constexpr int NS = Constants::NS, ND = Constants::ND;
    Constants k{};
    k.cell = 2 * mp::RADIUS / NS;
    k.dir_cell = 2 * PI_F / ND;
    k.reach = 3 * mp::SIGMA_SPATIAL;
    k.neighbourhood = mp::RADIUS + k.reach;
    k.spatial_norm = 1.0f / (mp::SIGMA_SPATIAL * std::sqrt(2 * PI_F));
    k.erf_scale = 1.0f / (mp::SIGMA_DIRECTION * std::sqrt(2.0f));
    for (int i = 0; i < NS; ++i) k.offset[i] = k.cell * (i - 0.5f * (NS - 1));
    return k;
}

}  // namespace

const Constants& constants() {
    static const Constants k = make_constants();
    return k;
}

// Andrew's monotone chain; counter-clockwise in a y-up sense (any consistent orientation
// works for the tests below).
std::vector<Point> convex_hull(std::vector<Point> pts) {
    std::sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a.x != b.x ? a.x < b.x : a.y < b.y; });
    pts.erase(std::unique(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a.x == b.x && a.y == b.y; }), pts.end());
    if (pts.size() < 3) return pts;
    std::vector<Point> hull(2 * pts.size());
    std::size_t k = 0;
    for (const Point& p : pts) {
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

bool near_hull(const std::vector<Point>& hull, float x, float y, float offset) {
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
Disc inner_disc(const std::vector<Point>& hull) {
    constexpr float MARGIN = 1.0f, MODERATE = 1e5f;
    Disc d;
    if (hull.size() < 3) return d;
    for (const Point& p : hull) {
        if (!(std::fabs(p.x) < MODERATE && std::fabs(p.y) < MODERATE)) return d;
        d.x += p.x / hull.size();
        d.y += p.y / hull.size();
    }
    float r = std::numeric_limits<float>::max();
    for (std::size_t i = 0; i < hull.size(); ++i) {
        const Point &a = hull[i], &b = hull[(i + 1) % hull.size()];
        const float length = std::hypot(b.x - a.x, b.y - a.y);
        if (!(length > 0)) return d;
        r = std::min(r, cross(a, b, {d.x, d.y}) / length);
    }
    if (r > 2 * MARGIN) d.r2 = (r - MARGIN) * (r - MARGIN);
    return d;
}

float cell_value(const std::vector<MatchMinutia>& minutiae, int c, float cs, float sn, int i, int j, int d) {
    const Constants& k = constants();
    const MatchMinutia& m = minutiae[c];
    float value = 0.0f;
    const int n = static_cast<int>(minutiae.size());
    for (int t = 0; t < n; ++t) {
        Neighbour nb;
        if (t == c || !neighbour_frame(k, m, minutiae[t], cs, sn, nb)) continue;
        if (i < nb.i0 || i > nb.i1 || j < nb.j0 || j > nb.j1) continue;
        const float du = k.offset[i] - nb.lu, dv = k.offset[j] - nb.lv;
        const float d2 = du * du + dv * dv;
        if (!reaches(k, d2)) continue;
        value += spatial(k, d2) * directional(k, nb.dtheta, d);
    }
    return value;
}

CylinderSet build_cylinders_reference(const std::vector<MatchMinutia>& minutiae) {
    constexpr int NS = Constants::NS, ND = Constants::ND;
    const Constants& k = constants();

    CylinderSet set;
    set.minutiae = minutiae;
    const int n = set.size();
    set.bits.assign(static_cast<std::size_t>(n) * CYLINDER_WORDS, 0);
    set.valid.assign(static_cast<std::size_t>(n) * CYLINDER_WORDS, 0);
    set.usable.assign(n, 0);

    std::vector<Point> points;
    for (const MatchMinutia& m : minutiae) points.push_back({m.x, m.y});
    const std::vector<Point> hull = convex_hull(points);
    const Disc inner = inner_disc(hull);
    std::vector<float> values(static_cast<std::size_t>(NS) * NS * ND);

    for (int c = 0; c < n; ++c) {
        const MatchMinutia& m = minutiae[c];
        const float cs = std::cos(m.angle), sn = std::sin(m.angle);
        std::uint64_t* valid = &set.valid[static_cast<std::size_t>(c) * CYLINDER_WORDS];
        std::uint64_t* bits = &set.bits[static_cast<std::size_t>(c) * CYLINDER_WORDS];
        int in_radius = 0, valid_cells = 0;
        std::array<std::uint8_t, NS * NS> cell_ok{};
        for (int j = 0; j < NS; ++j)
            for (int i = 0; i < NS; ++i) {
                const float u = k.offset[i], v = k.offset[j];
                if (u * u + v * v > mp::RADIUS * mp::RADIUS) continue;
                ++in_radius;
                const Point p = cell_centre(m, cs, sn, u, v);
                if (!cell_valid(hull, inner, p.x, p.y)) continue;
                cell_ok[j * NS + i] = 1;
                ++valid_cells;
            }
        std::fill(values.begin(), values.end(), 0.0f);
        int neighbours = 0;
        for (int t = 0; t < n; ++t) {
            Neighbour nb;
            if (t == c || !neighbour_frame(k, m, minutiae[t], cs, sn, nb)) continue;
            ++neighbours;
            float dirs[ND];
            for (int d = 0; d < ND; ++d) dirs[d] = directional(k, nb.dtheta, d);
            for (int j = nb.j0; j <= nb.j1; ++j)
                for (int i = nb.i0; i <= nb.i1; ++i) {
                    const float du = k.offset[i] - nb.lu, dv = k.offset[j] - nb.lv;
                    const float d2 = du * du + dv * dv;
                    if (!reaches(k, d2)) continue;
                    const float s = spatial(k, d2);
                    float* cellv = &values[static_cast<std::size_t>(j * NS + i) * ND];
                    for (int d = 0; d < ND; ++d) cellv[d] += s * dirs[d];
                }
        }
        for (int s = 0; s < NS * NS; ++s) {
            if (!cell_ok[s]) continue;
            for (int d = 0; d < ND; ++d) {
                const int bit = s * ND + d;
                valid[bit >> 6] |= std::uint64_t{1} << (bit & 63);
                if (values[static_cast<std::size_t>(s) * ND + d] >= mp::CONTRIBUTION_THRESHOLD)
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

}  // namespace afis::cylinder_exact
