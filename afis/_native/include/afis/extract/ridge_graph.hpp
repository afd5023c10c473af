// Skeleton ridges as a graph: nodes are endings and junctions, edges are pixel paths.
#pragma once

#include <vector>

#include "afis/extract/types.hpp"

namespace afis {

struct RidgeNode {
    Point at;
    std::vector<int> ridges;  // indices of incident ridges (a loop appears twice)
    bool alive = true;
};

struct Ridge {
    int start = -1;
    int end = -1;
    std::vector<Point> points;  // from the start node's pixel to the end node's pixel
    bool alive = true;
    int length() const { return static_cast<int>(points.size()); }
};

struct RidgeGraph {
    int width = 0;
    int height = 0;
    std::vector<RidgeNode> nodes;
    std::vector<Ridge> ridges;

    int degree(int node) const;
    // Detaches and kills a ridge; nodes left with no ridge die too.
    void remove_ridge(int ridge);
    // Joins the two ridges of every live node of degree two into one ridge.
    void splice_pass_through_nodes();
    // The point `steps` pixels along `ridge` away from `node` (clamped to its length).
    Point point_along(int ridge, int node, int steps) const;
};

}  // namespace afis
