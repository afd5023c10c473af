// The skeleton as a graph. Pixels with one neighbour are endings, pixels with three or
// more are junctions (adjacent junction pixels form one node); ridges are traced pixel by
// pixel between nodes. Closed loops without any node carry no minutia and are skipped.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "afis/extract/ridge_graph.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

namespace {

constexpr int DX[8] = {0, 1, 1, 1, 0, -1, -1, -1};
constexpr int DY[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

}  // namespace

int RidgeGraph::degree(int node) const { return static_cast<int>(nodes[node].ridges.size()); }

void RidgeGraph::remove_ridge(int r) {
    Ridge& ridge = ridges[r];
    if (!ridge.alive) return;
    ridge.alive = false;
    for (int n : {ridge.start, ridge.end}) {
        auto& list = nodes[n].ridges;
        auto it = std::find(list.begin(), list.end(), r);
        if (it != list.end()) list.erase(it);
        if (list.empty()) nodes[n].alive = false;
    }
}

Point RidgeGraph::point_along(int r, int node, int steps) const {
    const Ridge& ridge = ridges[r];
    const int last = ridge.length() - 1;
    const int k = std::min(steps, last);
    return node == ridge.start ? ridge.points[k] : ridge.points[last - k];
}

void RidgeGraph::splice_pass_through_nodes() {
    for (int n = 0; n < static_cast<int>(nodes.size()); ++n) {
        RidgeNode& node = nodes[n];
        if (!node.alive || node.ridges.size() != 2) continue;
        const int r1 = node.ridges[0], r2 = node.ridges[1];
        if (r1 == r2) {  // a closed loop hanging on this node alone
            remove_ridge(r1);
            continue;
        }
        // Orient r1 to end at n and r2 to start at n, then concatenate.
        std::vector<Point> a = ridges[r1].points, b = ridges[r2].points;
        int from = ridges[r1].start, to = ridges[r2].end;
        if (ridges[r1].start == n && ridges[r1].end != n) {
            std::reverse(a.begin(), a.end());
            from = ridges[r1].end;
        }
        if (ridges[r2].end == n && ridges[r2].start != n) {
            std::reverse(b.begin(), b.end());
            to = ridges[r2].start;
        }
        remove_ridge(r1);
        remove_ridge(r2);
        Ridge joined;
        joined.start = from;
        joined.end = to;
        joined.points = std::move(a);
        joined.points.insert(joined.points.end(), b.begin() + 1, b.end());
        const int id = static_cast<int>(ridges.size());
        ridges.push_back(std::move(joined));
        nodes[from].alive = true;
        nodes[to].alive = true;
        nodes[from].ridges.push_back(id);
        nodes[to].ridges.push_back(id);
        nodes[n].alive = false;
        nodes[n].ridges.clear();
    }
}

RidgeGraph trace_ridges(const ByteGrid& skeleton) {
    const int w = skeleton.width, h = skeleton.height;
    RidgeGraph graph;
    graph.width = w;
    graph.height = h;
    // The skeleton with a one-pixel empty frame, so neighbours need no bounds tests.
    const int pw = w + 2;
    std::vector<std::uint8_t> framed(static_cast<std::size_t>(pw) * (h + 2), 0);
    for (int y = 0; y < h; ++y) {
        const std::uint8_t* src = skeleton.row(y);
        std::uint8_t* dst = &framed[static_cast<std::size_t>(y + 1) * pw + 1];
        for (int x = 0; x < w; ++x) dst[x] = src[x] != 0;
    }
    auto on = [&](int x, int y) { return framed[static_cast<std::size_t>(y + 1) * pw + x + 1] != 0; };
    auto neighbours = [&](int x, int y) {
        const std::uint8_t* p = &framed[static_cast<std::size_t>(y + 1) * pw + x + 1];
        return p[-pw - 1] + p[-pw] + p[-pw + 1] + p[-1] + p[1] + p[pw - 1] + p[pw] + p[pw + 1];
    };

    // Node of every node pixel, -1 elsewhere; the node pixels (as y * w + x).
    Grid<int> node_of(w, h, -1);
    std::vector<int> node_pixels;
    std::vector<Point> stack;
    for (int y = 0; y < h; ++y) {
        const std::uint8_t* row = skeleton.row(y);
        for (int x = 0; x < w; ++x) {
            if (x + 8 <= w) {  // the skeleton is sparse: skip empty runs of eight pixels
                std::uint64_t eight;
                std::memcpy(&eight, row + x, sizeof eight);
                if (eight == 0) {
                    x += 7;
                    continue;
                }
            }
            if (!row[x] || node_of.at(x, y) >= 0) continue;
            const int n = neighbours(x, y);
            if (n == 2) continue;
            const int id = static_cast<int>(graph.nodes.size());
            graph.nodes.emplace_back();
            node_of.at(x, y) = id;
            node_pixels.push_back(y * w + x);
            if (n != 2 && n < 3) {  // ending (1) or isolated dot (0)
                graph.nodes[id].at = {x, y};
                continue;
            }
            // Flood the cluster of adjacent junction pixels; the node sits at the pixel
            // nearest to the cluster's centroid.
            std::vector<Point> cluster;
            stack.assign(1, {x, y});
            while (!stack.empty()) {
                const Point p = stack.back();
                stack.pop_back();
                cluster.push_back(p);
                for (int k = 0; k < 8; ++k) {
                    const int nx = p.x + DX[k], ny = p.y + DY[k];
                    if (on(nx, ny) && node_of.at(nx, ny) < 0 && neighbours(nx, ny) >= 3) {
                        node_of.at(nx, ny) = id;
                        node_pixels.push_back(ny * w + nx);
                        stack.push_back({nx, ny});
                    }
                }
            }
            float cx = 0, cy = 0;
            for (const Point& p : cluster) {
                cx += p.x;
                cy += p.y;
            }
            cx /= cluster.size();
            cy /= cluster.size();
            Point best = cluster.front();
            float best_d = 1e30f;
            for (const Point& p : cluster) {
                const float d = (p.x - cx) * (p.x - cx) + (p.y - cy) * (p.y - cy);
                if (d < best_d) {
                    best_d = d;
                    best = p;
                }
            }
            graph.nodes[id].at = best;
        }
    }

    // Trace every ridge leaving every node pixel, in raster order.
    std::sort(node_pixels.begin(), node_pixels.end());
    ByteGrid visited(w, h);
    for (const int i : node_pixels) {
        const int x = i % w, y = i / w;
        const int a = node_of.at(x, y);
        for (int k = 0; k < 8; ++k) {
            int cx = x + DX[k], cy = y + DY[k];
            if (!on(cx, cy)) continue;
            const int b = node_of.at(cx, cy);
            if (b == a) continue;
            Ridge ridge;
            ridge.start = a;
            ridge.points.push_back(graph.nodes[a].at);
            if (b >= 0) {  // two nodes touching: a ridge without interior pixels
                if (b < a) continue;
                const auto& mine = graph.nodes[a].ridges;
                if (std::any_of(mine.begin(), mine.end(), [&](int r) {
                        return graph.ridges[r].end == b && graph.ridges[r].length() == 2;
                    }))
                    continue;
                ridge.end = b;
            } else {
                if (visited.at(cx, cy)) continue;
                int px = x, py = y;
                while (true) {
                    const int here = node_of.at(cx, cy);
                    if (here >= 0) {
                        ridge.end = here;
                        break;
                    }
                    visited.at(cx, cy) = 1;
                    ridge.points.push_back({cx, cy});
                    int nx = -1, ny = -1;
                    for (int j = 0; j < 8; ++j) {
                        const int tx = cx + DX[j], ty = cy + DY[j];
                        if (!on(tx, ty) || (tx == px && ty == py)) continue;
                        if (node_of.at(tx, ty) >= 0 && node_of.at(tx, ty) == a &&
                            ridge.points.size() < 3)
                            continue;  // do not fall straight back into the start node
                        if (node_of.at(tx, ty) < 0 && visited.at(tx, ty)) continue;
                        nx = tx;
                        ny = ty;
                        if (node_of.at(tx, ty) >= 0) break;  // prefer arriving at a node
                    }
                    if (nx < 0) break;  // dead end inside a broken loop
                    px = cx;
                    py = cy;
                    cx = nx;
                    cy = ny;
                }
                if (ridge.end < 0) continue;
            }
            ridge.points.push_back(graph.nodes[ridge.end].at);
            const int id = static_cast<int>(graph.ridges.size());
            graph.nodes[a].ridges.push_back(id);
            graph.nodes[ridge.end].ridges.push_back(id);
            graph.ridges.push_back(std::move(ridge));
        }
    }
    for (RidgeNode& node : graph.nodes)
        if (node.ridges.empty()) node.alive = false;
    return graph;
}

}  // namespace afis
