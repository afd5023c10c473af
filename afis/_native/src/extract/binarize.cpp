// Binarization: after zero-mean band-pass filtering, ridges (dark) are where the response
// is negative. Tiny ridge islands and tiny valley holes are noise (pores, dust) and are
// flipped before thinning, which would otherwise turn them into dots and loops.
#include <algorithm>
#include <vector>

#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"

namespace afis {

namespace {

// Flips 8-connected components of `value` smaller than `min_size` pixels. Works on a
// copy framed by a sentinel so the flood fill needs no bounds tests.
void remove_specks(ByteGrid& image, std::uint8_t value, int min_size) {
    constexpr std::uint8_t FRAME = 2, SEEN = 3;
    const int w = image.width + 2, h = image.height + 2;
    ByteGrid work(w, h, FRAME);
    for (int y = 0; y < image.height; ++y)
        std::copy(image.row(y), image.row(y) + image.width, work.row(y + 1) + 1);
    const std::ptrdiff_t offsets[8] = {-w - 1, -w, -w + 1, -1, 1, w - 1, w, w + 1};
    std::uint8_t* base = work.data.data();
    std::vector<std::ptrdiff_t> stack, members;
    for (int y = 1; y < h - 1; ++y)
        for (int x = 1; x < w - 1; ++x) {
            const std::ptrdiff_t start = static_cast<std::ptrdiff_t>(y) * w + x;
            if (base[start] != value) continue;
            members.clear();
            stack.assign(1, start);
            base[start] = SEEN;
            while (!stack.empty()) {
                const std::ptrdiff_t i = stack.back();
                stack.pop_back();
                if (static_cast<int>(members.size()) < min_size) members.push_back(i);
                for (std::ptrdiff_t o : offsets)
                    if (base[i + o] == value) {
                        base[i + o] = SEEN;
                        stack.push_back(i + o);
                    }
            }
            if (static_cast<int>(members.size()) < min_size)
                for (std::ptrdiff_t i : members) image.data[(i / w - 1) * image.width + (i % w - 1)] = static_cast<std::uint8_t>(1 - value);
        }
}

}  // namespace

ByteGrid binarize(const FloatGrid& enhanced, const ByteGrid& foreground) {
    const int pad = params::PAD;
    ByteGrid out(foreground.width, foreground.height);
    for (int y = 0; y < out.height; ++y) {
        const float* src = enhanced.row(y + pad) + pad;
        const std::uint8_t* fg = foreground.row(y);
        std::uint8_t* dst = out.row(y);
        for (int x = 0; x < out.width; ++x) dst[x] = (fg[x] && src[x] < 0) ? 1 : 0;
    }
    remove_specks(out, 1, params::MIN_BLOB_PIXELS);
    remove_specks(out, 0, params::MIN_BLOB_PIXELS);
    return out;
}

}  // namespace afis
