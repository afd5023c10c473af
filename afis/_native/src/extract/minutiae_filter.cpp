// False-minutiae removal. On the ridge graph: loops that close on one ridge (pores, lakes),
// gaps between endings that face each other (broken ridges), short spurs from a ridge
// (tails), short free-floating ridges (fragments) and short ridges that join two
// bifurcations (bridges). On the minutiae: those near the foreground border and those in
// dense clusters (scars, noise).
#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "afis/common/util.hpp"
#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

namespace {

int other_end(const Ridge& r, int node) { return r.start == node ? r.end : r.start; }

void remove_holes(RidgeGraph& g) {
    for (int r = 0; r < static_cast<int>(g.ridges.size()); ++r) {
        const Ridge& ridge = g.ridges[r];
        if (ridge.alive && ridge.start == ridge.end && ridge.length() < params::MAX_HOLE_LENGTH)
            g.remove_ridge(r);
    }
    // Two short ridges between the same two nodes: a lake; keep the shorter path.
    for (int n = 0; n < static_cast<int>(g.nodes.size()); ++n) {
        if (!g.nodes[n].alive) continue;
        const auto list = g.nodes[n].ridges;
        for (std::size_t i = 0; i < list.size(); ++i)
            for (std::size_t j = i + 1; j < list.size(); ++j) {
                const Ridge &a = g.ridges[list[i]], &b = g.ridges[list[j]];
                if (!a.alive || !b.alive || a.start == a.end) continue;
                if (other_end(a, n) != other_end(b, n)) continue;
                if (a.length() + b.length() > 2 * params::MAX_HOLE_LENGTH) continue;
                g.remove_ridge(a.length() >= b.length() ? list[i] : list[j]);
            }
    }
}

// Outward direction (unit vector) of an ending node.
std::pair<float, float> ending_direction(const RidgeGraph& g, int n) {
    const Point p = g.nodes[n].at;
    const Point q = g.point_along(g.nodes[n].ridges[0], n, params::DIRECTION_TRACE_LENGTH);
    const float dx = static_cast<float>(p.x - q.x), dy = static_cast<float>(p.y - q.y);
    const float len = std::hypot(dx, dy);
    return len > 0 ? std::make_pair(dx / len, dy / len) : std::make_pair(0.0f, 0.0f);
}

void join_gaps(RidgeGraph& g) {
    std::vector<int> endings;
    for (int n = 0; n < static_cast<int>(g.nodes.size()); ++n)
        if (g.nodes[n].alive && g.degree(n) == 1) endings.push_back(n);
    const float cos_limit = std::cos(params::MAX_GAP_ANGLE);
    std::vector<std::tuple<float, int, int>> candidates;
    for (std::size_t i = 0; i < endings.size(); ++i)
        for (std::size_t j = i + 1; j < endings.size(); ++j) {
            const int a = endings[i], b = endings[j];
            if (g.nodes[a].ridges[0] == g.nodes[b].ridges[0]) continue;  // ends of one ridge
            const Point pa = g.nodes[a].at, pb = g.nodes[b].at;
            const float dx = static_cast<float>(pb.x - pa.x), dy = static_cast<float>(pb.y - pa.y);
            const float d = std::hypot(dx, dy);
            if (d > params::MAX_GAP_DISTANCE || d == 0) continue;
            const auto [ax, ay] = ending_direction(g, a);
            const auto [bx, by] = ending_direction(g, b);
            if ((ax * dx + ay * dy) / d < cos_limit || -(bx * dx + by * dy) / d < cos_limit) continue;
            candidates.emplace_back(d, a, b);
        }
    std::sort(candidates.begin(), candidates.end());
    for (const auto& [d, a, b] : candidates) {
        if (!g.nodes[a].alive || !g.nodes[b].alive || g.degree(a) != 1 || g.degree(b) != 1) continue;
        Ridge bridge;
        bridge.start = a;
        bridge.end = b;
        const Point pa = g.nodes[a].at, pb = g.nodes[b].at;
        const int steps = std::max(std::abs(pb.x - pa.x), std::abs(pb.y - pa.y));
        for (int s = 0; s <= steps; ++s)
            bridge.points.push_back({pa.x + static_cast<int>(std::lround((pb.x - pa.x) * s / static_cast<float>(steps))),
                                     pa.y + static_cast<int>(std::lround((pb.y - pa.y) * s / static_cast<float>(steps)))});
        const int id = static_cast<int>(g.ridges.size());
        g.ridges.push_back(std::move(bridge));
        g.nodes[a].ridges.push_back(id);
        g.nodes[b].ridges.push_back(id);
    }
}

// Removes ridges chosen by `doomed(ridge, degree_start, degree_end)`, decided for all
// ridges before any is removed so one pass does not cascade.
template <typename Pred>
void remove_ridges_where(RidgeGraph& g, Pred doomed) {
    std::vector<int> victims;
    for (int r = 0; r < static_cast<int>(g.ridges.size()); ++r) {
        const Ridge& ridge = g.ridges[r];
        if (!ridge.alive || ridge.start == ridge.end) continue;
        if (doomed(ridge, g.degree(ridge.start), g.degree(ridge.end))) victims.push_back(r);
    }
    for (int r : victims) g.remove_ridge(r);
}

void remove_tails(RidgeGraph& g) {
    remove_ridges_where(g, [](const Ridge& r, int da, int db) {
        return r.length() < params::MIN_TAIL_LENGTH && ((da == 1 && db >= 3) || (db == 1 && da >= 3));
    });
}

void remove_fragments(RidgeGraph& g) {
    remove_ridges_where(g, [](const Ridge& r, int da, int db) {
        return da == 1 && db == 1 && r.length() < params::MIN_FRAGMENT_LENGTH;
    });
}

void remove_bridges(RidgeGraph& g) {
    remove_ridges_where(g, [](const Ridge& r, int da, int db) {
        return da >= 3 && db >= 3 && r.length() <= params::MAX_BRIDGE_LENGTH;
    });
}

}  // namespace

void filter_ridge_graph(RidgeGraph& graph) {
    remove_holes(graph);
    graph.splice_pass_through_nodes();
    join_gaps(graph);
    graph.splice_pass_through_nodes();
    remove_tails(graph);
    graph.splice_pass_through_nodes();
    remove_fragments(graph);
    remove_bridges(graph);
    graph.splice_pass_through_nodes();
    remove_holes(graph);
    remove_tails(graph);
    graph.splice_pass_through_nodes();
    remove_fragments(graph);
}

std::vector<Minutia> filter_minutiae(std::vector<Minutia> minutiae,
                                     const Segmentation& segmentation) {
    std::vector<Minutia> inside;
    for (const Minutia& m : minutiae)
        if (segmentation.border_distance.at(m.x, m.y) >= params::BORDER_DISTANCE) inside.push_back(m);
    const float r2 = params::CLUSTER_RADIUS * params::CLUSTER_RADIUS;
    std::vector<Minutia> kept;
    for (std::size_t i = 0; i < inside.size(); ++i) {
        int neighbours = 0;
        for (std::size_t j = 0; j < inside.size(); ++j) {
            if (i == j) continue;
            const float dx = static_cast<float>(inside[i].x - inside[j].x);
            const float dy = static_cast<float>(inside[i].y - inside[j].y);
            if (dx * dx + dy * dy <= r2) ++neighbours;
        }
        if (neighbours <= params::CLUSTER_MAX_NEIGHBOURS) kept.push_back(inside[i]);
    }
    return kept;
}

}  // namespace afis
