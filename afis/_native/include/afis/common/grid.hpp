// Plain 2-D raster used between pipeline stages. Knows nothing of Python.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace afis {

// Row-major raster of width x height values.
template <typename T>
struct Grid {
    int width = 0;
    int height = 0;
    std::vector<T> data;

    Grid() = default;
    Grid(int w, int h, T fill = T{}) : width(w), height(h), data(checked_size(w, h), fill) {}

    T& at(int x, int y) { return data[static_cast<std::size_t>(y) * width + x]; }
    const T& at(int x, int y) const { return data[static_cast<std::size_t>(y) * width + x]; }
    T* row(int y) { return data.data() + static_cast<std::size_t>(y) * width; }
    const T* row(int y) const { return data.data() + static_cast<std::size_t>(y) * width; }
    bool contains(int x, int y) const { return x >= 0 && y >= 0 && x < width && y < height; }
    std::size_t size() const { return data.size(); }
    bool empty() const { return data.empty(); }

  private:
    static std::size_t checked_size(int w, int h) {
        if (w < 0 || h < 0) throw std::invalid_argument("grid dimensions must be non-negative");
        return static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
    }
};

using ByteGrid = Grid<std::uint8_t>;
using FloatGrid = Grid<float>;

// A field sampled on a regular block lattice over an image: cell (bx, by) covers pixels
// [bx*block, (bx+1)*block) x [by*block, (by+1)*block).
template <typename T>
struct BlockField : Grid<T> {
    int block = 1;
    BlockField() = default;
    BlockField(int image_w, int image_h, int block_size, T fill = T{})
        : Grid<T>((image_w + block_size - 1) / block_size, (image_h + block_size - 1) / block_size,
                  fill),
          block(block_size) {}

    // A field on the same lattice as `other`, every cell set to `fill`.
    template <typename U>
    static BlockField like(const BlockField<U>& other, T fill = T{}) {
        BlockField f;
        f.width = other.width;
        f.height = other.height;
        f.block = other.block;
        f.data.assign(other.data.size(), fill);
        return f;
    }
};

}  // namespace afis
