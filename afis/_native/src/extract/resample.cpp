// Rescaling to the processing resolution. Shrinking averages the source area each output
// pixel covers (no aliasing of fine ridges); enlarging interpolates bilinearly.
#include <algorithm>
#include <cmath>

#include "afis/extract/stages.hpp"

namespace afis {

namespace {

// For each output index, the source interval [lo, hi) it covers, as weights per source cell.
struct AreaWeights {
    std::vector<int> first;           // first source index per output index
    std::vector<std::vector<float>> w;  // weights of consecutive source indices
};

AreaWeights area_weights(int src, int dst) {
    AreaWeights a;
    a.first.resize(dst);
    a.w.resize(dst);
    const double step = static_cast<double>(src) / dst;
    for (int i = 0; i < dst; ++i) {
        const double lo = i * step, hi = std::min<double>(src, (i + 1) * step);
        const int first = static_cast<int>(std::floor(lo));
        a.first[i] = first;
        for (int s = first; s < hi; ++s) {
            const double cover = std::min<double>(s + 1, hi) - std::max<double>(s, lo);
            if (cover > 0) a.w[i].push_back(static_cast<float>(cover / step));
        }
    }
    return a;
}

ByteGrid shrink(const ByteGrid& image, int out_w, int out_h) {
    const AreaWeights ax = area_weights(image.width, out_w), ay = area_weights(image.height, out_h);
    Grid<float> rows(out_w, image.height);
    for (int y = 0; y < image.height; ++y) {
        const std::uint8_t* src = image.row(y);
        for (int x = 0; x < out_w; ++x) {
            float acc = 0;
            for (std::size_t k = 0; k < ax.w[x].size(); ++k) acc += ax.w[x][k] * src[ax.first[x] + k];
            rows.at(x, y) = acc;
        }
    }
    ByteGrid out(out_w, out_h);
    for (int y = 0; y < out_h; ++y) {
        for (int x = 0; x < out_w; ++x) {
            float acc = 0;
            for (std::size_t k = 0; k < ay.w[y].size(); ++k) acc += ay.w[y][k] * rows.at(x, ay.first[y] + k);
            out.at(x, y) = static_cast<std::uint8_t>(std::clamp(std::lround(acc), 0L, 255L));
        }
    }
    return out;
}

ByteGrid enlarge(const ByteGrid& image, int out_w, int out_h) {
    ByteGrid out(out_w, out_h);
    const double sx = static_cast<double>(image.width) / out_w;
    const double sy = static_cast<double>(image.height) / out_h;
    for (int y = 0; y < out_h; ++y) {
        const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, image.height - 1.0);
        const int y0 = static_cast<int>(fy), y1 = std::min(y0 + 1, image.height - 1);
        const float ty = static_cast<float>(fy - y0);
        for (int x = 0; x < out_w; ++x) {
            const double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, image.width - 1.0);
            const int x0 = static_cast<int>(fx), x1 = std::min(x0 + 1, image.width - 1);
            const float tx = static_cast<float>(fx - x0);
            const float top = image.at(x0, y0) * (1 - tx) + image.at(x1, y0) * tx;
            const float bottom = image.at(x0, y1) * (1 - tx) + image.at(x1, y1) * tx;
            out.at(x, y) = static_cast<std::uint8_t>(std::lround(top * (1 - ty) + bottom * ty));
        }
    }
    return out;
}

}  // namespace

ByteGrid resample(const ByteGrid& image, double scale) {
    if (!(scale > 0) || !std::isfinite(scale)) throw std::invalid_argument("scale must be a positive finite number");
    if (image.width == 0 || image.height == 0) throw std::invalid_argument("cannot resample an empty image");
    if (std::fabs(scale - 1.0) < 1e-9) return image;
    const double w = std::round(image.width * scale), h = std::round(image.height * scale);
    constexpr double LIMIT = 1 << 16;
    if (w > LIMIT || h > LIMIT)
        throw std::invalid_argument("resampled image would be larger than 65536 pixels per side");
    const int out_w = std::max(1, static_cast<int>(w));
    const int out_h = std::max(1, static_cast<int>(h));
    return scale < 1.0 ? shrink(image, out_w, out_h) : enlarge(image, out_w, out_h);
}

}  // namespace afis
