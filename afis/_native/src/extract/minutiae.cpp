// Minutiae from the ridge graph: nodes of degree one are ridge endings, nodes of degree
// three are bifurcations. Direction convention (same for both types, so that pressure
// turning an ending into a bifurcation keeps the angle): an ending points out of its
// ridge, from the ridge into the end; a bifurcation points along its stem, away from the
// fork. The stem is the branch that points most against the other two.
#include <cmath>

#include "afis/common/util.hpp"
#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

namespace {

// Interchange convention: counter-clockwise from +x with y up, in [0, 2 pi).
float to_template_angle(float dx, float dy) { return wrap_angle(std::atan2(-dy, dx), 2 * PI); }

}  // namespace

std::vector<Minutia> detect_minutiae(const RidgeGraph& graph) {
    std::vector<Minutia> out;
    const int L = params::DIRECTION_TRACE_LENGTH;
    for (int n = 0; n < static_cast<int>(graph.nodes.size()); ++n) {
        const RidgeNode& node = graph.nodes[n];
        if (!node.alive) continue;
        const int degree = graph.degree(n);
        Minutia m;
        m.x = node.at.x;
        m.y = node.at.y;
        if (degree == 1) {
            const Point q = graph.point_along(node.ridges[0], n, L);
            if (q.x == m.x && q.y == m.y) continue;
            m.type = MinutiaType::Ending;
            m.direction = to_template_angle(static_cast<float>(m.x - q.x), static_cast<float>(m.y - q.y));
        } else if (degree == 3) {
            float vx[3], vy[3];
            bool seen_loop = false;
            for (int i = 0; i < 3; ++i) {
                const int r = node.ridges[i];
                const Ridge& ridge = graph.ridges[r];
                Point q;
                if (ridge.start == n && ridge.end == n) {  // loop: one end, then the other
                    const int last = ridge.length() - 1;
                    q = seen_loop ? ridge.points[std::max(0, last - L)] : ridge.points[std::min(L, last)];
                    seen_loop = true;
                } else {
                    q = graph.point_along(r, n, L);
                }
                const float dx = static_cast<float>(q.x - m.x), dy = static_cast<float>(q.y - m.y);
                const float len = std::hypot(dx, dy);
                vx[i] = len > 0 ? dx / len : 0.0f;
                vy[i] = len > 0 ? dy / len : 0.0f;
            }
            int stem = 0;
            float lowest = 1e9f;
            for (int i = 0; i < 3; ++i) {
                float agreement = 0;
                for (int j = 0; j < 3; ++j)
                    if (j != i) agreement += vx[i] * vx[j] + vy[i] * vy[j];
                if (agreement < lowest) {
                    lowest = agreement;
                    stem = i;
                }
            }
            m.type = MinutiaType::Bifurcation;
            m.direction = to_template_angle(vx[stem], vy[stem]);
        } else {
            continue;
        }
        out.push_back(m);
    }
    return out;
}

}  // namespace afis
