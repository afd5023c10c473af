// One pass over the image: per-block grey-level mean and contrast, and the summed gradient
// structure tensor (Sobel gradients) that orientation and segmentation are built on.
#include <cmath>

#include "afis/extract/stages.hpp"

namespace afis {

BlockStatistics block_statistics(const ByteGrid& image, int block) {
    const int w = image.width, h = image.height;
    BlockStatistics s;
    s.mean = BlockField<float>(w, h, block);
    s.contrast = BlockField<float>(w, h, block);
    s.gxx = BlockField<float>(w, h, block);
    s.gyy = BlockField<float>(w, h, block);
    s.gxy = BlockField<float>(w, h, block);
    BlockField<float> sum_sq(w, h, block), count(w, h, block);

    for (int y = 0; y < h; ++y) {
        const std::uint8_t* row = image.row(y);
        const std::uint8_t* up = image.row(y > 0 ? y - 1 : y);
        const std::uint8_t* down = image.row(y + 1 < h ? y + 1 : y);
        const int by = y / block;
        for (int x = 0; x < w; ++x) {
            const int bx = x / block;
            const float v = row[x];
            s.mean.at(bx, by) += v;
            sum_sq.at(bx, by) += v * v;
            count.at(bx, by) += 1;
            if (x == 0 || x == w - 1 || y == 0 || y == h - 1) continue;
            const float gx = (up[x + 1] + 2.0f * row[x + 1] + down[x + 1]) -
                             (up[x - 1] + 2.0f * row[x - 1] + down[x - 1]);
            const float gy = (down[x - 1] + 2.0f * down[x] + down[x + 1]) -
                             (up[x - 1] + 2.0f * up[x] + up[x + 1]);
            s.gxx.at(bx, by) += gx * gx;
            s.gyy.at(bx, by) += gy * gy;
            s.gxy.at(bx, by) += gx * gy;
        }
    }
    for (std::size_t i = 0; i < s.mean.size(); ++i) {
        const float n = count.data[i];
        const float mean = s.mean.data[i] / n;
        s.mean.data[i] = mean;
        s.contrast.data[i] = std::sqrt(std::max(0.0f, sum_sq.data[i] / n - mean * mean));
    }
    return s;
}

}  // namespace afis
