// One pass over the image: per-block grey-level mean and contrast, and the summed gradient
// structure tensor (Sobel gradients) that orientation and segmentation are built on.
//
// Every term is an integer (grey levels, their squares, Sobel gradients and their products),
// so the sums are taken in integers, eight pixels a vector. The float sums they replace are
// the same numbers whenever no partial sum passes 2^24 (below it every integer is a float):
// always true of the grey-level sums (64 x 255^2 < 2^24 for 8-pixel blocks, checked below),
// and true of the tensor sums when gxx and gyy end at or below 2^24 (their partial sums
// grow monotonically, and |gx gy| <= (gx^2 + gy^2) / 2 bounds those of gxy). A block past
// that is summed again in floats, in the original order.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "afis/common/x86.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

namespace {

constexpr std::int64_t EXACT = std::int64_t{1} << 24;  // every integer up to this is a float

// The gradient tensor sums of one block, in floats, pixel by pixel in raster order.
void float_tensor(const ByteGrid& image, int bx, int by, int block, float& gxx, float& gyy, float& gxy) {
    const int w = image.width, h = image.height;
    gxx = gyy = gxy = 0;
    for (int y = by * block; y < std::min(h, (by + 1) * block); ++y) {
        if (y == 0 || y == h - 1) continue;
        const std::uint8_t* row = image.row(y);
        const std::uint8_t* up = image.row(y - 1);
        const std::uint8_t* down = image.row(y + 1);
        for (int x = bx * block; x < std::min(w, (bx + 1) * block); ++x) {
            if (x == 0 || x == w - 1) continue;
            const float gx = (up[x + 1] + 2.0f * row[x + 1] + down[x + 1]) -
                             (up[x - 1] + 2.0f * row[x - 1] + down[x - 1]);
            const float gy = (down[x - 1] + 2.0f * down[x] + down[x + 1]) -
                             (up[x - 1] + 2.0f * up[x] + up[x + 1]);
            gxx += gx * gx;
            gyy += gy * gy;
            gxy += gx * gy;
        }
    }
}

// Integer sums per block (row-major over the block lattice): grey levels, their squares and
// the gradient tensor. The rows of a block row add into per-column sums (vector adds), which
// are then added up per block. Compiled for AVX2 and the base instruction set; integers give
// the same sums on both.
#ifdef AFIS_X86
__attribute__((target_clones("avx2", "default")))
#endif
void integer_sums(const ByteGrid& image, int block, int bw, std::int64_t* sum, std::int64_t* sum_sq,
                  std::int64_t* sxx, std::int64_t* syy, std::int64_t* sxy) {
    const int w = image.width, h = image.height;
    // Column sums over at most `block` rows: below 2^31 for blocks up to 2,000 pixels.
    std::vector<std::int32_t> cs(w), cq(w), cxx(w), cyy(w), cxy(w);
    for (int y0 = 0, by = 0; y0 < h; y0 += block, ++by) {
        std::fill(cs.begin(), cs.end(), 0);
        std::fill(cq.begin(), cq.end(), 0);
        std::fill(cxx.begin(), cxx.end(), 0);
        std::fill(cyy.begin(), cyy.end(), 0);
        std::fill(cxy.begin(), cxy.end(), 0);
        for (int y = y0; y < std::min(h, y0 + block); ++y) {
            const std::uint8_t* row = image.row(y);
            for (int x = 0; x < w; ++x) {
                const std::int32_t v = row[x];
                cs[x] += v;
                cq[x] += v * v;
            }
            if (y == 0 || y == h - 1) continue;
            const std::uint8_t* up = image.row(y - 1);
            const std::uint8_t* down = image.row(y + 1);
            // Columns 0 and w - 1 have no gradient.
            for (int x = 1; x < w - 1; ++x) {
                const std::int32_t gx = (up[x + 1] + 2 * row[x + 1] + down[x + 1]) - (up[x - 1] + 2 * row[x - 1] + down[x - 1]);
                const std::int32_t gy = (down[x - 1] + 2 * down[x] + down[x + 1]) - (up[x - 1] + 2 * up[x] + up[x + 1]);
                cxx[x] += gx * gx;
                cyy[x] += gy * gy;
                cxy[x] += gx * gy;
            }
        }
        const std::size_t at = static_cast<std::size_t>(by) * bw;
        for (int bx = 0; bx < bw; ++bx) {
            std::int64_t a = 0, b = 0, c = 0, d = 0, e = 0;
            for (int x = bx * block; x < std::min(w, (bx + 1) * block); ++x) {
                a += cs[x];
                b += cq[x];
                c += cxx[x];
                d += cyy[x];
                e += cxy[x];
            }
            sum[at + bx] = a;
            sum_sq[at + bx] = b;
            sxx[at + bx] = c;
            syy[at + bx] = d;
            sxy[at + bx] = e;
        }
    }
}

}  // namespace

BlockStatistics block_statistics(const ByteGrid& image, int block) {
    const int w = image.width, h = image.height;
    BlockStatistics s;
    s.mean = BlockField<float>(w, h, block);
    s.contrast = BlockField<float>(w, h, block);
    s.gxx = BlockField<float>(w, h, block);
    s.gyy = BlockField<float>(w, h, block);
    s.gxy = BlockField<float>(w, h, block);
    const int bw = s.mean.width, bh = s.mean.height;
    const std::size_t cells = s.mean.size();
    std::vector<std::int64_t> sum(cells, 0), sum_sq(cells, 0), sxx(cells, 0), syy(cells, 0), sxy(cells, 0);
    integer_sums(image, block, bw, sum.data(), sum_sq.data(), sxx.data(), syy.data(), sxy.data());
    for (int by = 0; by < bh; ++by)
        for (int bx = 0; bx < bw; ++bx) {
            const std::size_t i = static_cast<std::size_t>(by) * bw + bx;
            const int n = (std::min(w, (bx + 1) * block) - bx * block) * (std::min(h, (by + 1) * block) - by * block);
            float mean_sum = static_cast<float>(sum[i]), sq_sum = static_cast<float>(sum_sq[i]);
            if (sum_sq[i] > EXACT) {  // blocks above 8 x 8 pixels: the float sums in raster order
                mean_sum = sq_sum = 0;
                for (int y = by * block; y < std::min(h, (by + 1) * block); ++y)
                    for (int x = bx * block; x < std::min(w, (bx + 1) * block); ++x) {
                        const float v = image.at(x, y);
                        mean_sum += v;
                        sq_sum += v * v;
                    }
            }
            const float count = static_cast<float>(n);
            const float mean = mean_sum / count;
            s.mean.data[i] = mean;
            s.contrast.data[i] = std::sqrt(std::max(0.0f, sq_sum / count - mean * mean));
            if (sxx[i] <= EXACT && syy[i] <= EXACT) {
                s.gxx.data[i] = static_cast<float>(sxx[i]);
                s.gyy.data[i] = static_cast<float>(syy[i]);
                s.gxy.data[i] = static_cast<float>(sxy[i]);
            } else {
                float_tensor(image, bx, by, block, s.gxx.data[i], s.gyy.data[i], s.gxy.data[i]);
            }
        }
    return s;
}

}  // namespace afis
