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
    // Mean and contrast interpolated at every pixel a row at a time (see BlockUpsampling).
    const BlockUpsampling m(mean, image.width, image.height), c(contrast, image.width, image.height);
    FloatGrid out(image.width + 2 * pad, image.height + 2 * pad);
    // Background is normalised too: the filters reach a little outside the mask.
    for (int y = 0; y < image.height; ++y) {
        float* dst = out.row(y + pad) + pad;
        const std::uint8_t* src = image.row(y);
        const float *ma = m.across.row(m.lo[y]), *mb = m.across.row(m.hi[y]);
        const float *ca = c.across.row(c.lo[y]), *cb = c.across.row(c.hi[y]);
        const float mt = m.t[y], ct = c.t[y];
        for (int x = 0; x < image.width; ++x) {
            const float mr = ma[x] + (mb[x] - ma[x]) * mt, cr = ca[x] + (cb[x] - ca[x]) * ct;
            dst[x] = (src[x] - mr) / std::max(4.0f, cr);
        }
    }
    return out;
}

}  // namespace afis
