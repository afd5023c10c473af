// Ridge orientation: each block's gradient tensor becomes a doubled-angle vector whose
// length is the block's coherence; the vectors are Gaussian-smoothed over the foreground
// (normalised convolution), so strong blocks do not drown their neighbours and noise
// averages out. Ridges run perpendicular to the dominant gradient.
#include <cmath>

#include "afis/common/util.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

OrientationField orientation_field(const BlockStatistics& stats,
                                   const BlockField<std::uint8_t>& mask, float sigma_blocks) {
    const int bw = stats.gxx.width, bh = stats.gxx.height;
    Grid<float> vx(bw, bh), vy(bw, bh), weight(bw, bh);
    for (std::size_t i = 0; i < vx.size(); ++i) {
        const float gxx = stats.gxx.data[i], gyy = stats.gyy.data[i], gxy = stats.gxy.data[i];
        const float energy = gxx + gyy;
        if (energy > 0) {
            vx.data[i] = (gxx - gyy) / energy;
            vy.data[i] = 2 * gxy / energy;
        }
        weight.data[i] = mask.data[i] ? 1.0f : 0.0f;
    }
    smooth_weighted(vx, &weight, sigma_blocks);
    smooth_weighted(vy, &weight, sigma_blocks);

    OrientationField field;
    field.angle = BlockField<float>::like(stats.gxx);
    field.coherence = BlockField<float>::like(stats.gxx);
    for (std::size_t i = 0; i < vx.size(); ++i) {
        const float gradient_angle = 0.5f * std::atan2(vy.data[i], vx.data[i]);
        field.angle.data[i] = wrap_angle(gradient_angle + 0.5f * PI, PI);
        field.coherence.data[i] = std::min(1.0f, std::hypot(vx.data[i], vy.data[i]));
    }
    return field;
}

}  // namespace afis
