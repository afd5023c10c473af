// Local normalisation: subtract the smoothed block mean and divide by the smoothed block
// contrast, so enhancement sees ridges of unit amplitude whatever the pressure or sensor
// gain. The result sits on a grid padded by params::PAD zeros on every side.
#include <algorithm>

#include "afis/common/util.hpp"
#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

FloatGrid normalize(const ByteGrid& image, const BlockStatistics& stats) {
    const int pad = params::PAD;
    BlockField<float> mean = stats.mean, contrast = stats.contrast;
    smooth_weighted(mean, nullptr, params::NORMALIZE_SMOOTHING_SIGMA);
    smooth_weighted(contrast, nullptr, params::NORMALIZE_SMOOTHING_SIGMA);
    const FloatGrid m = upsample_block_field(mean, image.width, image.height);
    const FloatGrid c = upsample_block_field(contrast, image.width, image.height);
    FloatGrid out(image.width + 2 * pad, image.height + 2 * pad);
    // Background is normalised too: the filters reach a little outside the mask.
    for (int y = 0; y < image.height; ++y) {
        float* dst = out.row(y + pad) + pad;
        const std::uint8_t* src = image.row(y);
        const float* mr = m.row(y);
        const float* cr = c.row(y);
        for (int x = 0; x < image.width; ++x) dst[x] = (src[x] - mr[x]) / std::max(4.0f, cr[x]);
    }
    return out;
}

}  // namespace afis
