// Singular points by Poincare index: walking the eight blocks around a block of a strongly
// smoothed orientation field, the orientation turns by +pi around a core (loop) and by
// -pi around a delta. Neighbouring detections of the same type are merged.
#include <cmath>

#include "afis/common/util.hpp"
#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

std::vector<SingularPoint> singular_points(const OrientationField& field,
                                           const Segmentation& segmentation) {
    // Ring in image coordinates, clockwise as displayed (y down).
    constexpr int RX[8] = {-1, 0, 1, 1, 1, 0, -1, -1};
    constexpr int RY[8] = {-1, -1, -1, 0, 1, 1, 1, 0};
    const BlockField<std::uint8_t>& mask = segmentation.blocks;
    const int margin = params::SINGULAR_BORDER_BLOCKS;
    struct Cluster {
        float x = 0, y = 0;
        int count = 0;
        SingularType type;
    };
    std::vector<Cluster> clusters;
    const int block = field.angle.block;
    for (int by = 1; by < field.angle.height - 1; ++by)
        for (int bx = 1; bx < field.angle.width - 1; ++bx) {
            bool inside = true;
            for (int dy = -margin; dy <= margin && inside; ++dy)
                for (int dx = -margin; dx <= margin && inside; ++dx)
                    inside = mask.contains(bx + dx, by + dy) && mask.at(bx + dx, by + dy);
            if (!inside) continue;
            float turn = 0;
            for (int k = 0; k < 8; ++k) {
                const float a = field.angle.at(bx + RX[k], by + RY[k]);
                const float b = field.angle.at(bx + RX[(k + 1) % 8], by + RY[(k + 1) % 8]);
                float d = b - a;
                if (d > 0.5f * PI) d -= PI;
                if (d < -0.5f * PI) d += PI;
                turn += d;
            }
            SingularType type;
            if (turn > 0.75f * PI) type = SingularType::Core;
            else if (turn < -0.75f * PI) type = SingularType::Delta;
            else continue;
            const float px = (bx + 0.5f) * block, py = (by + 0.5f) * block;
            bool merged = false;
            for (Cluster& c : clusters) {
                if (c.type != type) continue;
                if (std::hypot(c.x / c.count - px, c.y / c.count - py) > params::SINGULAR_MERGE_DISTANCE) continue;
                c.x += px;
                c.y += py;
                ++c.count;
                merged = true;
                break;
            }
            if (!merged) clusters.push_back({px, py, 1, type});
        }
    std::vector<SingularPoint> out;
    for (const Cluster& c : clusters)
        out.push_back({static_cast<int>(std::lround(c.x / c.count)), static_cast<int>(std::lround(c.y / c.count)), c.type});
    return out;
}

}  // namespace afis
