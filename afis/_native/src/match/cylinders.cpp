// Minutia Cylinder-Code: around every minutia, a cylinder of Ns x Ns x Nd cells aligned with
// the minutia's direction records where the neighbouring minutiae are and how they are
// turned relative to it (Gaussian spatial and directional contributions, thresholded to
// bits). Cells outside the radius or far outside the convex hull of the minutiae carry no
// information and are marked invalid so partial prints compare fairly.
//
// Built fast, to the very bits of the original arithmetic (cylinders_exact.cpp, which stays
// the reference): a cell bit only says whether a value is at or above a threshold and a
// validity bit whether a point lies within a distance of the hull, so both are decided here
// with cheaper arithmetic whose error is bounded, and the few cells whose cheap answer lies
// within that bound of the threshold are asked of the exact code. Every quantity that
// decides *which* terms a value sums (a neighbour's frame, its box of cells, a cell's squared
// distance against the reach) is computed with the original operations, so only the size of
// each term is approximated:
//  - values: the spatial Gaussian separably (one exponential per column and per row of a
//    neighbour's box instead of one per cell, by a polynomial), the six directional terms
//    from a table of quadratics in the neighbour's turn, eight cells at a time; the sum of a
//    cell's spatial weights (its "mass", bounded by the sum of its six values) bounds how far
//    the cheap value can lie from the original one (see VALUE_* below);
//  - validity: the distance of a cell centre from the hull polygon, from the hull edges that
//    can reach the cylinder, bounded below by the largest signed distance to an edge's line
//    and above by the distance to the nearest edge segment (exact for points outside a convex
//    polygon), against the offset with a margin far above float rounding (HULL_MARGIN).
// The kernels are plain C++ with GCC vector types (eight lanes), compiled twice: for the base
// instruction set and for AVX2, chosen at run time; both give the same bits.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "afis/common/simd.hpp"
#include "afis/common/vec8.hpp"
#include "afis/common/x86.hpp"
#include "afis/match/cylinders_exact.hpp"
#include "afis/match/match.hpp"

// 32-byte vectors are passed between always-inlined helpers only: no ABI to keep.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace afis {

namespace {

namespace mp = match_params;
namespace ex = cylinder_exact;
using ex::Point;

constexpr int NS = mp::SPATIAL_CELLS, ND = mp::DIRECTION_CELLS, CELLS = NS * NS;
constexpr int LANES = 8, GROUPS = CELLS / LANES;
static_assert(NS == 16 && CELLS % LANES == 0, "the kernels take a row of the base in two groups of 8");
// A neighbour's box of cells spans at most 2 x reach / cell + 1 columns and rows: eight lanes.
static_assert(2 * 3 * mp::SIGMA_SPATIAL / (2 * mp::RADIUS / NS) < LANES - 1, "a neighbour's box exceeds 8 cells");
constexpr float PI_F = 3.14159265358979323846f;

using namespace vec8;
#define AFIS_INLINE inline __attribute__((always_inline))

// exp(x) for x <= 0 (Cephes' single-precision polynomial, relative error below 3e-7 over the
// range the spatial terms use; clamped below where 2^n would leave the normal floats).
template <class F>
AFIS_INLINE F exp_neg(F x) {
    x = maximum(x, splat<F>(-87.0f));
    const F fx = x * 1.44269504088896341f - 0.5f;  // <= -0.5: truncation rounds it up
    const auto n = to_int(fx);
    const F nf = to_float(n);
    const F r = x - nf * 0.693359375f - nf * -2.12194440e-4f;
    F p = splat<F>(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const F y = p * (r * r) + r + 1.0f;
    return y * as_float((n + 127) << 23);  // times 2^n
}

// --- error bounds ---------------------------------------------------------------------------
// A cell value is a float sum over the cell's neighbours of spatial x directional terms. The
// cheap spatial term lies within 1e-5 (relative) of the original (both ~3e-6 from the exact
// Gaussian of the same squared distance: argument rounding, expf or the polynomial, products)
// and the cheap directional term within 1e-5 (absolute; the original is <= 1 and ~2e-6 from
// the exact integral, the table 1.4e-7 from it, the angle's rounding a few 1e-7); the
// two float sums add at most 2 x N x 2^-24 of the mass each. So the original value lies within
// mass x (VALUE_RELATIVE + N x VALUE_PER_TERM) + VALUE_ABSOLUTE of the cheap one (twice the
// sum of those bounds, and the last term covers rounding of the thresholds themselves).
constexpr float VALUE_RELATIVE = 4e-5f;
constexpr float VALUE_PER_TERM = 2.5e-7f;
constexpr float VALUE_ABSOLUTE = 1e-9f;
constexpr float MASS_FROM_VALUES = 1.001f;  // >= 1 / 0.99991

// Validity: a cell is valid when its centre lies within HULL_OFFSET of the hull (the original
// test errs by a few float ulps of the coordinates, as does this one); a centre whose bounds
// fall within HULL_MARGIN x (largest coordinate + HULL_MARGIN_BASE) of the offset goes to the
// exact test. Past MODERATE (huge, hostile coordinates) every cell goes to the exact test.
constexpr float HULL_MARGIN = 1.0f / 16384.0f;
constexpr float HULL_MARGIN_BASE = 128.0f;
constexpr float MODERATE = 1e5f;

// The directional terms of the six sections as functions of a neighbour's turn |dtheta| in
// [0, pi] (a turn of -dtheta gives them in reverse section order: the sections are symmetric
// about 0), one quadratic per row of DIRECTION_ROWS: a multiple of 6, so that the kinks of the
// terms (where a section's turn wraps, at odd multiples of pi / 6) fall on row boundaries.
// Error 1.4e-7 (quadratic through both ends and the middle of rows of pi / 192; measured).
constexpr int DIRECTION_ROWS = 192;
constexpr float DIRECTION_SCALE = DIRECTION_ROWS / PI_F;  // rows per radian

struct Tables {
    alignas(32) float u[CELLS];  // cell centres relative to the minutia, cylinder frame
    alignas(32) float v[CELLS];
    alignas(32) float offset[NS];
    std::uint8_t in_radius[GROUPS];  // per group of 8 cells, the cells within the radius
    int in_radius_count = 0;
    alignas(32) float direction[DIRECTION_ROWS][3][LANES];  // value, slope, curvature per section
    std::uint64_t spread[256];  // bit l of the index at bit l x ND
};

Tables make_tables() {
    const ex::Constants& k = ex::constants();
    Tables t{};
    for (int i = 0; i < NS; ++i) t.offset[i] = k.offset[i];
    for (int j = 0; j < NS; ++j)
        for (int i = 0; i < NS; ++i) {
            const int s = j * NS + i;
            const float u = k.offset[i], v = k.offset[j];
            t.u[s] = u;
            t.v[s] = v;
            if (u * u + v * v > mp::RADIUS * mp::RADIUS) continue;  // as the original
            t.in_radius[s / LANES] |= static_cast<std::uint8_t>(1u << (s % LANES));
            ++t.in_radius_count;
        }
    const double h = 0.5 * static_cast<double>(k.dir_cell), scale = k.erf_scale;
    const auto term = [&](int d, double turn) {  // the original's directional term, exactly
        const double centre = -PI_F + (d + 0.5f) * k.dir_cell;
        double alpha = std::fabs(std::remainder(centre - turn, 2 * 3.14159265358979323846));
        return 0.5 * (std::erf((alpha + h) * scale) - std::erf((alpha - h) * scale));
    };
    for (int q = 0; q < DIRECTION_ROWS; ++q) {
        const double x0 = q / static_cast<double>(DIRECTION_SCALE), x1 = (q + 1) / static_cast<double>(DIRECTION_SCALE);
        for (int d = 0; d < ND; ++d) {
            const double f0 = term(d, x0), fm = term(d, 0.5 * (x0 + x1)), f1 = term(d, x1);
            t.direction[q][0][d] = static_cast<float>(f0);
            t.direction[q][1][d] = static_cast<float>(4 * fm - 3 * f0 - f1);
            t.direction[q][2][d] = static_cast<float>(2 * f0 + 2 * f1 - 4 * fm);
        }
    }
    for (unsigned b = 0; b < 256; ++b)
        for (int l = 0; l < LANES; ++l)
            if (b >> l & 1) t.spread[b] |= std::uint64_t{1} << (l * ND);
    return t;
}

const Tables& tables() {
    static const Tables t = make_tables();
    return t;
}

// The hull as the fast validity test sees it: edges in normal form and as segments.
struct Edge {
    float nx, ny, c;        // outward unit normal and offset: signed distance nx x + ny y - c
    float ax, ay, dx, dy;   // segment from (ax, ay) along (dx, dy)
    float inv_len2;
};

struct Shape {
    std::vector<Point> hull;
    ex::Disc inner;
    std::vector<Edge> edges;
    bool fast = false;  // false: every cell goes to the exact test
    float margin = 0;
};

Shape make_shape(const std::vector<MatchMinutia>& minutiae) {
    Shape shape;
    std::vector<Point> points;
    points.reserve(minutiae.size());
    float largest = 0;
    for (const MatchMinutia& m : minutiae) {
        points.push_back({m.x, m.y});
        largest = std::max({largest, std::fabs(m.x), std::fabs(m.y)});
    }
    shape.hull = ex::convex_hull(points);
    shape.inner = ex::inner_disc(shape.hull);
    const std::size_t h = shape.hull.size();
    if (h < 3 || !(largest < MODERATE)) return shape;
    shape.margin = HULL_MARGIN * (largest + mp::RADIUS + HULL_MARGIN_BASE);
    for (std::size_t e = 0; e < h; ++e) {
        const Point &a = shape.hull[e], &b = shape.hull[(e + 1) % h];
        const double dx = static_cast<double>(b.x) - a.x, dy = static_cast<double>(b.y) - a.y;
        const double len2 = dx * dx + dy * dy, len = std::sqrt(len2);
        if (!(len > 0)) return shape;
        // Inside is where cross(a, b, p) >= 0 (the original's test): the normal points away.
        const double nx = dy / len, ny = -dx / len;
        shape.edges.push_back({static_cast<float>(nx), static_cast<float>(ny),
                               static_cast<float>(nx * a.x + ny * a.y), a.x, a.y, static_cast<float>(dx),
                               static_cast<float>(dy), static_cast<float>(1.0 / len2)});
    }
    shape.fast = true;
    return shape;
}

// Place the 6-bit groups of eight consecutive cells (48 bits) at cell `first`.
AFIS_INLINE void place(std::uint64_t* words, int first, std::uint64_t group) {
    const int bit = first * ND, w = bit >> 6, shift = bit & 63;
    words[w] |= group << shift;
    if (shift > 64 - LANES * ND) words[w + 1] |= group >> (64 - shift);
}

// A neighbour reaching some cell of a cylinder: its frame and its terms along the columns and
// rows of its box (from column min(i0, NS - 8), row min(j0, NS - 8)).
struct Near {
    alignas(32) float gx[LANES], gy[LANES], du2[LANES], dv2[LANES], dir[LANES];
    ex::Neighbour nb;
};

// A template's minutiae by coordinate, padded to whole groups of eight lanes.
struct Columns {
    std::vector<float> x, y, angle;
    explicit Columns(const std::vector<MatchMinutia>& minutiae) {
        const std::size_t padded = (minutiae.size() + LANES - 1) / LANES * LANES;
        x.assign(padded, 0.0f);
        y.assign(padded, 0.0f);
        angle.assign(padded, 0.0f);
        for (std::size_t i = 0; i < minutiae.size(); ++i) {
            x[i] = minutiae[i].x;
            y[i] = minutiae[i].y;
            angle[i] = minutiae[i].angle;
        }
    }
};

struct ColumnsView {
    const float *x, *y, *angle;
};

// One cylinder: its validity mask and cell bits, and whether it is usable.
template <class F, class I>
AFIS_INLINE void build_one(const std::vector<MatchMinutia>& minutiae, const Shape& shape, int c,
                           std::uint64_t* bits, std::uint64_t* valid, std::uint8_t& usable, Near* scratch,
                           ColumnsView soa) {
    const Tables& tb = tables();
    const ex::Constants& k = ex::constants();
    const int n = static_cast<int>(minutiae.size());
    const MatchMinutia& m = minutiae[c];
    const float cs = std::cos(m.angle), sn = std::sin(m.angle);

    // --- validity -----------------------------------------------------------------------
    alignas(32) float px[CELLS], py[CELLS];
    for (int s = 0; s < CELLS; s += LANES) {  // the cell centres, as the original computes them
        const F u = load<F>(tb.u + s), v = load<F>(tb.v + s);
        store(px + s, m.x + u * cs - v * sn);
        store(py + s, m.y + u * sn + v * cs);
    }
    std::uint8_t ok[GROUPS];
    int relevant[MAX_MINUTIAE + 1];  // hull edges (at most one per minutia)
    int nrel = 0;
    bool all_inside = false;
    if (shape.fast) {
        // Edges whose line lies farther than the radius inside from the minutia cannot bring
        // any cell near the hull's outside.
        const float reach = mp::RADIUS + 1.0f + shape.margin;
        for (int e = 0; e < static_cast<int>(shape.edges.size()); ++e) {
            const Edge& g = shape.edges[e];
            if (g.nx * m.x + g.ny * m.y - g.c > -reach) relevant[nrel++] = e;
        }
        all_inside = nrel == 0;
    }
    const float offset = mp::HULL_OFFSET;
    const float lo2 = (offset - shape.margin) * (offset - shape.margin);
    const float hi2 = (offset + shape.margin) * (offset + shape.margin);
    int valid_cells = 0;
    for (int g = 0; g < GROUPS; ++g) {
        const unsigned want = tb.in_radius[g];
        unsigned yes = 0, unsure = want;
        if (want && all_inside) {
            yes = want;
            unsure = 0;
        } else if (want && shape.fast) {
            const F x = load<F>(px + g * LANES), y = load<F>(py + g * LANES);
            F top = splat<F>(-std::numeric_limits<float>::infinity());
            for (int r = 0; r < nrel; ++r) {
                const Edge& e = shape.edges[relevant[r]];
                const F sd = x * e.nx + y * e.ny - e.c;
                top = maximum(sd, top);
            }
            const I inside = top <= -shape.margin, far = top > offset + shape.margin;
            I near = inside, open = ~(inside | far);
            if (lane_bits(open) & want) {
                F best = splat<F>(std::numeric_limits<float>::infinity());
                for (int r = 0; r < nrel; ++r) {
                    const Edge& e = shape.edges[relevant[r]];
                    F t = ((x - e.ax) * e.dx + (y - e.ay) * e.dy) * e.inv_len2;
                    t = select(t < 0.0f, splat<F>(0.0f), select(t > 1.0f, splat<F>(1.0f), t));
                    const F ex_ = e.ax + t * e.dx - x, ey_ = e.ay + t * e.dy - y;
                    const F d2 = ex_ * ex_ + ey_ * ey_;
                    best = select(d2 < best, d2, best);
                }
                near |= open & (best < lo2);
                open &= (best >= lo2) & (best <= hi2);
            }
            yes = lane_bits(near) & want;
            unsure = lane_bits(open) & want;
        }
        for (unsigned rest = unsure; rest; rest &= rest - 1) {
            const int s = g * LANES + __builtin_ctz(rest);
            if (ex::cell_valid(shape.hull, shape.inner, px[s], py[s])) yes |= 1u << (s % LANES);
        }
        ok[g] = static_cast<std::uint8_t>(yes);
        valid_cells += __builtin_popcount(yes);
    }

    // --- values ---------------------------------------------------------------------------
    alignas(32) float plane[ND][CELLS];
    std::memset(plane, 0, sizeof plane);
    const float sigma2 = mp::SIGMA_SPATIAL * mp::SIGMA_SPATIAL;
    const float reach2 = k.reach * k.reach;
    const I lanes = iota<I>();
    // Every neighbour's frame first, eight minutiae at a time (the operations of
    // ex::neighbour_frame, lane by lane), then their terms (independent: the processor overlaps
    // them), then the sums.
    Near* near = scratch;
    int neighbours = 0, reaching = 0;
    const float nb2 = k.neighbourhood * k.neighbourhood, half = 0.5f * (NS - 1);
    for (int t0 = 0; t0 < n; t0 += LANES) {
        const F dx = load<F>(soa.x + t0) - m.x, dy = load<F>(soa.y + t0) - m.y;
        const I index = lanes + t0;
        const unsigned found = lane_bits((dx * dx + dy * dy <= nb2) & (index != c) & (index < n));
        if (!found) continue;
        neighbours += __builtin_popcount(found);
        const F lu = dx * cs + dy * sn, lv = -dx * sn + dy * cs;
        F turn = load<F>(soa.angle + t0) - m.angle;  // wrap_pi: at most four steps either way
        for (int step = 0; step < 4; ++step) turn = select(turn > PI_F, turn - 2 * PI_F, turn);
        for (int step = 0; step < 4; ++step) turn = select(turn <= -PI_F, turn + 2 * PI_F, turn);
        alignas(32) int box[4][LANES];
        alignas(32) float frame[3][LANES];
        store(box[0], maximum(ceil_int((lu - k.reach) / k.cell + half), I{}));
        store(box[1], minimum(floor_int((lu + k.reach) / k.cell + half), I{} + (NS - 1)));
        store(box[2], maximum(ceil_int((lv - k.reach) / k.cell + half), I{}));
        store(box[3], minimum(floor_int((lv + k.reach) / k.cell + half), I{} + (NS - 1)));
        store(frame[0], lu);
        store(frame[1], lv);
        store(frame[2], turn);
        for (unsigned rest = found; rest; rest &= rest - 1) {
            const int l = __builtin_ctz(rest);
            if (box[0][l] > box[1][l] || box[2][l] > box[3][l]) continue;
            near[reaching++].nb = {frame[0][l], frame[1][l], frame[2][l], box[0][l], box[1][l], box[2][l], box[3][l]};
        }
    }
    for (int r = 0; r < reaching; ++r) {
        Near& e = near[r];
        const float turn = std::fabs(e.nb.dtheta) * DIRECTION_SCALE;
        const int q = std::min(static_cast<int>(turn), DIRECTION_ROWS - 1);
        const float f = turn - q;
        const auto& row = tb.direction[q];
        const F dir = load<F>(row[0]) + f * (load<F>(row[1]) + f * load<F>(row[2]));
        if (e.nb.dtheta >= 0) {
            store(e.dir, dir);
        } else {
            alignas(32) float reversed[LANES];
            store(reversed, dir);
            for (int d = 0; d < ND; ++d) e.dir[d] = reversed[ND - 1 - d];
        }
        const int is = std::min(e.nb.i0, NS - LANES), js = std::min(e.nb.j0, NS - LANES);
        const F du = load<F>(tb.offset + is) - e.nb.lu, du2 = du * du;
        const F dv = load<F>(tb.offset + js) - e.nb.lv, dv2 = dv * dv;
        store(e.du2, du2);
        store(e.dv2, dv2);
        store(e.gx, exp_neg(-0.5f * du2 / sigma2) * k.spatial_norm);
        store(e.gy, exp_neg(-0.5f * dv2 / sigma2));
    }
    for (int r = 0; r < reaching; ++r) {
        const Near& e = near[r];
        const int is = std::min(e.nb.i0, NS - LANES), js = std::min(e.nb.j0, NS - LANES);
        const I columns = (lanes + is >= e.nb.i0) & (lanes + is <= e.nb.i1);
        const F du2 = load<F>(e.du2), gx = load<F>(e.gx);
        for (int j = e.nb.j0; j <= e.nb.j1; ++j) {
            const int row = j - js;
            const F d2 = du2 + e.dv2[row];  // the original's squared distance, bit for bit
            const F w = select(columns & (d2 <= reach2), gx * e.gy[row], splat<F>(0.0f));
            const int at = j * NS + is;
            for (int d = 0; d < ND; ++d) store(plane[d] + at, load<F>(plane[d] + at) + w * e.dir[d]);
        }
    }

    // --- bits -------------------------------------------------------------------------------
    // A cell's terms sum spatial weights times directional terms whose sum over the sections is
    // at least 0.99991 (the Gaussian's mass within a turn, less the table's error): the sum of a
    // cell's values over its sections bounds its mass.
    const float threshold = mp::CONTRIBUTION_THRESHOLD;
    const float spread = (VALUE_RELATIVE + VALUE_PER_TERM * neighbours) * MASS_FROM_VALUES;
    for (int g = 0; g < GROUPS; ++g) {
        if (!ok[g]) continue;
        const int first = g * LANES;
        F value[ND];
        F total = splat<F>(0.0f);
        for (int d = 0; d < ND; ++d) {
            value[d] = load<F>(plane[d] + first);
            total = total + value[d];
        }
        const F bound = total * spread + VALUE_ABSOLUTE;
        const F high = threshold + bound, low = threshold - bound;
        I code = {}, near = {};
        for (int d = 0; d < ND; ++d) {
            const I above = value[d] >= high;
            code |= above & (1 << d);
            near |= (value[d] >= low) & ~above;
        }
        alignas(32) int codes[LANES];
        store(codes, code);
        std::uint64_t cell_bits = 0;
        for (int l = 0; l < LANES; ++l) cell_bits |= static_cast<std::uint64_t>(codes[l]) << (l * ND);
        const std::uint64_t valid_bits = tb.spread[ok[g]] * ((1u << ND) - 1);
        cell_bits &= valid_bits;
        for (unsigned u = lane_bits(near) & ok[g]; u; u &= u - 1) {  // within the bound: ask the original
            const int l = __builtin_ctz(u), s = first + l;
            for (int d = 0; d < ND; ++d) {
                const float v = lane(value[d], l);
                if (v >= lane(low, l) && !(v >= lane(high, l)) &&
                    ex::cell_value(minutiae, c, cs, sn, s % NS, s / NS, d) >= threshold)
                    cell_bits |= std::uint64_t{1} << (l * ND + d);
            }
        }
        place(bits, first, cell_bits);
        place(valid, first, valid_bits);
    }
    usable = (tb.in_radius_count > 0 && valid_cells >= mp::MIN_VALID_CELLS * tb.in_radius_count &&
              neighbours >= mp::MIN_NEIGHBOURS)
                 ? 1
                 : 0;
}

template <class F, class I>
AFIS_INLINE void build_all(const std::vector<MatchMinutia>& minutiae, const Shape& shape, CylinderSet& set) {
    std::vector<Near> scratch(minutiae.size());
    const Columns columns(minutiae);
    const ColumnsView soa{columns.x.data(), columns.y.data(), columns.angle.data()};
    for (int c = 0; c < set.size(); ++c)
        build_one<F, I>(minutiae, shape, c, &set.bits[static_cast<std::size_t>(c) * CYLINDER_WORDS],
                        &set.valid[static_cast<std::size_t>(c) * CYLINDER_WORDS], set.usable[c], scratch.data(),
                        soa);
}

void build_plain(const std::vector<MatchMinutia>& minutiae, const Shape& shape, CylinderSet& set) {
    build_all<F4x2, I4x2>(minutiae, shape, set);
}

#ifdef AFIS_X86
__attribute__((target("avx2"))) void build_avx2(const std::vector<MatchMinutia>& minutiae, const Shape& shape,
                                                CylinderSet& set) {
    build_all<F8, I8>(minutiae, shape, set);
}
#endif

}  // namespace

CylinderSet build_cylinders(const std::vector<MatchMinutia>& minutiae) {
    CylinderSet set;
    set.minutiae = minutiae;
    const int n = set.size();
    set.bits.assign(static_cast<std::size_t>(n) * CYLINDER_WORDS, 0);
    set.valid.assign(static_cast<std::size_t>(n) * CYLINDER_WORDS, 0);
    set.usable.assign(n, 0);
    if (n == 0) return set;
    const Shape shape = make_shape(minutiae);
#ifdef AFIS_X86
    if (simd_level() >= SimdLevel::AVX2) {
        build_avx2(minutiae, shape, set);
        return set;
    }
#endif
    build_plain(minutiae, shape, set);
    return set;
}

}  // namespace afis
