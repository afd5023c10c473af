// Minutia direction refinement: a direction measured along the skeleton (a chord of
// DIRECTION_TRACE_LENGTH pixels) jitters by several degrees with the ridge's pixel steps and
// small breaks, and the matcher's scores vary with it. The smoothed orientation field at
// the minutia, which averages the gradients of many ridges, is the steadier estimate of the
// axis; the skeleton still decides the sense (an orientation has none). Where the two
// disagree by more than DIRECTION_FIELD_MAX_DEVIATION (cores, deltas, a minutia on a ridge
// crossing the flow) the skeleton's direction is kept.
#include <algorithm>
#include <cmath>

#include "afis/common/util.hpp"
#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

namespace {

// Ridge axis at pixel (x, y), image coordinates, in [0, pi): the coherence-weighted mean
// of the doubled-angle vectors of the four nearest block centres, bilinear. False where
// those blocks hold no orientation (zero coherence).
bool field_axis(const OrientationField& field, int x, int y, float& axis) {
    const int block = field.angle.block;
    const float fx = (static_cast<float>(x) + 0.5f) / static_cast<float>(block) - 0.5f;
    const float fy = (static_cast<float>(y) + 0.5f) / static_cast<float>(block) - 0.5f;
    const int x0 = static_cast<int>(std::floor(fx)), y0 = static_cast<int>(std::floor(fy));
    const float tx = fx - static_cast<float>(x0), ty = fy - static_cast<float>(y0);
    float vx = 0.0f, vy = 0.0f;
    for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) {
            const int bx = std::clamp(x0 + dx, 0, field.angle.width - 1);
            const int by = std::clamp(y0 + dy, 0, field.angle.height - 1);
            const float w = (dx ? tx : 1.0f - tx) * (dy ? ty : 1.0f - ty) * field.coherence.at(bx, by);
            const float a = 2.0f * field.angle.at(bx, by);
            vx += w * std::cos(a);
            vy += w * std::sin(a);
        }
    if (!(std::hypot(vx, vy) > 1e-6f)) return false;
    axis = wrap_angle(0.5f * std::atan2(vy, vx), PI);
    return true;
}

}  // namespace

void refine_minutia_directions(std::vector<Minutia>& minutiae, const OrientationField& orientation) {
    if (orientation.angle.width <= 0 || orientation.angle.height <= 0) return;
    for (Minutia& m : minutiae) {
        float axis = 0.0f;
        if (!field_axis(orientation, m.x, m.y, axis)) continue;
        // the field's two senses in the template convention (counter-clockwise, y up)
        float along = wrap_angle(-axis, 2 * PI);
        float turn = wrap_pi(m.direction - along);
        if (std::fabs(turn) > 0.5f * PI) {
            along = wrap_angle(along + PI, 2 * PI);
            turn = wrap_pi(m.direction - along);
        }
        if (std::fabs(turn) > params::DIRECTION_FIELD_MAX_DEVIATION) continue;
        m.direction = wrap_angle(along + (1.0f - params::DIRECTION_FIELD_WEIGHT) * turn, 2 * PI);
    }
}

}  // namespace afis
