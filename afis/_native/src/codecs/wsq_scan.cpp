// WSQ structural scan: marker segments, subband geometry and Huffman category decoding.
// See afis/wsq.hpp for why the decoder's input is checked first.
#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "afis/codecs/wsq.hpp"

namespace afis {

namespace {

// Markers (the second byte after 0xFF).
constexpr std::uint8_t SOI = 0xA0, EOI = 0xA1, SOF = 0xA2, SOB = 0xA3, DTT = 0xA4, DQT = 0xA5,
                       DHT = 0xA6, COM = 0xA8;
constexpr int HUFFMAN_TABLES = 8;
constexpr int MAX_CODE_LENGTH = 16;
constexpr int MAX_CODES = 256;
constexpr int LOOKUP_BITS = 8;
// Huffman categories of the coded subband data.
constexpr int MAX_SHORT_ZERO_RUN = 100;  // 1..100: a run of that many zeros
constexpr int POSITIVE_8 = 101, NEGATIVE_8 = 102, POSITIVE_16 = 103, NEGATIVE_16 = 104;
constexpr int ZERO_RUN_8 = 105, ZERO_RUN_16 = 106;
constexpr int MIN_SMALL_VALUE = 107, MAX_SMALL_VALUE = 254;  // value + 180

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument(what); }

struct Halves {
    int low, high;
};

// Splits a length into its low-pass and high-pass halves. An odd length gives the extra sample
// to the low half, or, where the specification inverts the spectrum, to the high half.
Halves halves(int n, bool inverted) { return inverted ? Halves{n / 2, (n + 1) / 2} : Halves{(n + 1) / 2, n / 2}; }

struct Size {
    int x, y;
};

using SubbandSizes = std::array<Size, WSQ_SUBBANDS>;

// Four subbands first..first+3 from one split of `region` (low/high in x, then in y).
void split_four(SubbandSizes& out, int first, Size region) {
    const Halves x = halves(region.x, false), y = halves(region.y, false);
    out[first] = {x.low, y.low};
    out[first + 1] = {x.high, y.low};
    out[first + 2] = {x.low, y.high};
    out[first + 3] = {x.high, y.high};
}

// Sixteen subbands first..first+15 from two splits of `region`: four quadrants, each split in
// four. The second halves of the first split are split with inverted spectrum.
void split_sixteen(SubbandSizes& out, int first, Size region, bool invert_rows, bool invert_columns) {
    const Halves qx = halves(region.x, invert_columns), qy = halves(region.y, invert_rows);
    const Halves lx = halves(qx.low, false), hx = halves(qx.high, true);
    const Halves ly = halves(qy.low, false), hy = halves(qy.high, true);
    const int xs[4] = {lx.low, lx.high, hx.low, hx.high};
    const int ys[4] = {ly.low, ly.high, hy.low, hy.high};
    for (int quadrant = 0; quadrant < 4; ++quadrant) {
        const int cx = quadrant % 2, cy = quadrant / 2;
        for (int band = 0; band < 4; ++band) {
            const int bx = band % 2, by = band / 2;
            out[first + 4 * quadrant + band] = {xs[2 * cx + bx], ys[2 * cy + by]};
        }
    }
}

// Bounds-checked reading of the file.
class Reader {
public:
    Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    std::size_t position() const { return pos_; }
    std::size_t size() const { return size_; }
    void seek(std::size_t pos) { pos_ = pos; }

    std::uint8_t byte(const char* what) {
        if (pos_ >= size_) fail(std::string("file ends inside the ") + what);
        return data_[pos_++];
    }
    unsigned u16(const char* what) {
        const unsigned hi = byte(what);
        return hi << 8 | byte(what);
    }
    std::uint8_t at(std::size_t pos) const { return data_[pos]; }

    std::uint8_t marker(const char* expected) {
        const std::size_t where = pos_;
        if (byte(expected) != 0xFF) fail(std::string("expected ") + expected + " at byte " + std::to_string(where));
        return byte(expected);
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

struct HuffmanTable {
    bool defined = false;
    std::array<std::uint8_t, MAX_CODE_LENGTH + 1> counts{};
    std::vector<std::uint8_t> values;
    // Canonical decoding: for each length, the first and last code and the index of the
    // first value of that length.
    std::array<std::int32_t, MAX_CODE_LENGTH + 1> min_code{}, max_code{}, first_value{};
    // Codes of up to LOOKUP_BITS bits: (length << 8 | value) by their bits, 0 if longer.
    std::array<std::uint16_t, 1 << LOOKUP_BITS> lookup{};

    void build() {
        std::int32_t code = 0;
        int index = 0;
        lookup.fill(0);
        for (int length = 1; length <= MAX_CODE_LENGTH; ++length) {
            const int n = counts[length];
            if (code + n > (1 << length))
                fail("a Huffman table has more codes of length " + std::to_string(length) + " than that length allows");
            first_value[length] = index;
            min_code[length] = code;
            max_code[length] = n ? code + n - 1 : -1;
            for (int i = 0; i < n; ++i, ++code, ++index) {
                if (length <= LOOKUP_BITS) {
                    const int shift = LOOKUP_BITS - length;
                    for (int fill = 0; fill < 1 << shift; ++fill)
                        lookup[(code << shift) | fill] = static_cast<std::uint16_t>(length << 8 | values[index]);
                }
            }
            code <<= 1;
        }
        defined = true;
    }
};

// Bits of one block's entropy-coded data (byte stuffing already removed), most significant
// bit first.
class BitReader {
public:
    explicit BitReader(const std::vector<std::uint8_t>& bytes) : bytes_(bytes) {}

    std::int64_t remaining() const { return static_cast<std::int64_t>(bytes_.size()) * 8 - bit_; }

    // The next `n` (<= 16) bits without consuming them, zero-padded past the end.
    unsigned peek(int n) const {
        std::uint32_t window = 0;
        const std::size_t byte = static_cast<std::size_t>(bit_ >> 3);
        for (std::size_t i = 0; i < 3; ++i)
            window = window << 8 | (byte + i < bytes_.size() ? bytes_[byte + i] : 0u);
        return (window << (bit_ & 7) >> (24 - n)) & ((1u << n) - 1);
    }
    void skip(int n) { bit_ += n; }

private:
    const std::vector<std::uint8_t>& bytes_;
    std::int64_t bit_ = 0;
};

// Reads a block's entropy-coded bytes (up to the next marker), undoing byte stuffing.
void read_entropy_data(Reader& in, std::vector<std::uint8_t>& out, int block) {
    out.clear();
    for (;;) {
        if (in.position() >= in.size())
            fail("file ends inside block " + std::to_string(block) + " (no end-of-image marker)");
        const std::uint8_t b = in.at(in.position());
        if (b != 0xFF) {
            out.push_back(b);
            in.seek(in.position() + 1);
            continue;
        }
        if (in.position() + 1 >= in.size())
            fail("file ends inside block " + std::to_string(block) + " (no end-of-image marker)");
        if (in.at(in.position() + 1) != 0x00) return;  // a marker: the block ends
        out.push_back(0xFF);
        in.seek(in.position() + 2);
    }
}

// Decodes the Huffman categories of one block and adds its coefficients to `coded`.
void count_block(const std::vector<std::uint8_t>& bytes, const HuffmanTable& table, int block,
                 std::int64_t needed, std::int64_t& coded) {
    BitReader bits(bytes);
    const auto extra = [&](int n) -> unsigned {
        if (bits.remaining() < n)
            fail("block " + std::to_string(block) + " ends inside a coefficient");
        const unsigned v = bits.peek(n);
        bits.skip(n);
        return v;
    };
    for (;;) {
        const std::int64_t left = bits.remaining();
        if (left <= 0) return;
        int length = 0, value = -1;
        const std::uint16_t hit = table.lookup[bits.peek(LOOKUP_BITS)];
        if (hit && (hit >> 8) <= left) {
            length = hit >> 8;
            value = hit & 0xFF;
        } else {
            const int limit = static_cast<int>(std::min<std::int64_t>(left, MAX_CODE_LENGTH));
            for (int n = 1; n <= limit; ++n) {
                const auto code = static_cast<std::int32_t>(bits.peek(n));
                if (code <= table.max_code[n] && code >= table.min_code[n]) {  // (canonical: always both)
                    length = n;
                    value = table.values[table.first_value[n] + code - table.min_code[n]];
                    break;
                }
            }
            if (value < 0) {
                if (left < MAX_CODE_LENGTH) return;  // padding bits before the next marker
                fail("block " + std::to_string(block) + " holds a bit sequence that is no Huffman code");
            }
        }
        bits.skip(length);
        std::int64_t count;
        if (value >= 1 && value <= MAX_SHORT_ZERO_RUN) {
            count = value;
        } else if (value >= MIN_SMALL_VALUE && value <= MAX_SMALL_VALUE) {
            count = 1;
        } else if (value == POSITIVE_8 || value == NEGATIVE_8) {
            extra(8);
            count = 1;
        } else if (value == POSITIVE_16 || value == NEGATIVE_16) {
            extra(16);
            count = 1;
        } else if (value == ZERO_RUN_8) {
            count = extra(8);
        } else if (value == ZERO_RUN_16) {
            count = extra(16);
        } else {
            fail("block " + std::to_string(block) + " holds the invalid Huffman category " + std::to_string(value));
        }
        coded += count;
        if (coded > needed)
            fail("block " + std::to_string(block) + " holds more coefficients than the " + std::to_string(needed) +
                 " the frame needs");
    }
}

void read_huffman_tables(Reader& in, std::size_t end, std::array<HuffmanTable, HUFFMAN_TABLES>& tables) {
    do {
        const int id = in.byte("Huffman table");
        if (id >= HUFFMAN_TABLES) fail("Huffman table id " + std::to_string(id) + " is not 0..7");
        HuffmanTable table;
        int total = 0;
        for (int length = 1; length <= MAX_CODE_LENGTH; ++length) {
            table.counts[length] = in.byte("Huffman table");
            total += table.counts[length];
        }
        if (total > MAX_CODES)  // an empty table is allowed: NBIS writes one for an empty block
            fail("Huffman table " + std::to_string(id) + " has " + std::to_string(total) + " codes (256 at most)");
        if (in.position() + total > end) fail("Huffman table " + std::to_string(id) + " runs past its segment");
        table.values.resize(total);
        for (auto& v : table.values) v = in.byte("Huffman table");
        table.build();
        tables[id] = std::move(table);
    } while (in.position() < end);
}

}  // namespace

std::array<std::int64_t, WSQ_SUBBANDS> wsq_subband_areas(int width, int height) {
    if (width < 1 || height < 1) fail("WSQ frame of " + std::to_string(width) + "x" + std::to_string(height));
    // The decomposition tree's regions that the subbands are cut from.
    const Size image{width, height};
    const Halves x1 = halves(width, false), y1 = halves(height, false);
    const Halves x2 = halves(x1.low, false), y2 = halves(y1.low, false);
    const Size low_low{x2.low, y2.low}, high_low{x2.high, y2.low}, low_high{x2.low, y2.high};
    const Size deeper{halves(low_low.x, false).low, halves(low_low.y, false).low};
    const Size deepest{halves(deeper.x, false).low, halves(deeper.y, false).low};
    SubbandSizes sizes{};
    // Later splits overwrite the entries of the regions that earlier ones leave undivided.
    split_sixteen(sizes, 3, low_low, false, false);
    split_sixteen(sizes, 19, high_low, false, true);
    split_sixteen(sizes, 48, image, false, false);
    split_sixteen(sizes, 35, low_high, true, false);
    split_four(sizes, 0, deepest);
    std::array<std::int64_t, WSQ_SUBBANDS> areas{};
    for (int i = 0; i < WSQ_SUBBANDS; ++i) areas[i] = static_cast<std::int64_t>(sizes[i].x) * sizes[i].y;
    return areas;
}

WsqScan wsq_scan(const std::uint8_t* data, std::size_t size) {
    Reader in(data, size);
    if (in.marker("the start-of-image marker") != SOI) fail("not a WSQ file (no start-of-image marker)");

    std::array<HuffmanTable, HUFFMAN_TABLES> tables;
    std::array<bool, WSQ_SUBBANDS> coded_subband{};
    bool have_quantization = false, have_frame = false, counted = false;
    WsqScan scan;
    std::vector<std::uint8_t> entropy;

    for (;;) {
        const std::size_t where = in.position();
        const std::uint8_t marker = in.marker("a marker");
        if (marker == EOI) {
            if (!have_frame) fail("end-of-image marker before the frame header");
            if (scan.blocks == 0) fail("no coded block before the end-of-image marker");
            return scan;
        }
        if (marker != SOF && marker != SOB && marker != DTT && marker != DQT && marker != DHT && marker != COM)
            fail("unexpected marker FF" + std::string(1, "0123456789ABCDEF"[marker >> 4]) +
                 "0123456789ABCDEF"[marker & 15] + " at byte " + std::to_string(where));
        const unsigned length = in.u16("segment length");
        if (length < 2) fail("segment at byte " + std::to_string(where) + " has length " + std::to_string(length));
        const std::size_t end = where + 2 + length;
        if (end > size) fail("segment at byte " + std::to_string(where) + " runs past the end of the file");

        switch (marker) {
        case SOF: {
            if (have_frame) fail("second frame header at byte " + std::to_string(where));
            if (length < 17) fail("frame header too short");
            in.seek(where + 6);
            scan.height = static_cast<int>(in.u16("frame header"));
            scan.width = static_cast<int>(in.u16("frame header"));
            if (scan.width == 0 || scan.height == 0)
                fail("frame of " + std::to_string(scan.width) + "x" + std::to_string(scan.height) + " pixels");
            have_frame = true;
            break;
        }
        case DQT: {
            if (length < 2 + 3 + WSQ_SUBBANDS * 6) fail("quantization table too short");
            for (int band = 0; band < WSQ_SUBBANDS; ++band) {
                in.seek(where + 4 + 3 + 6 * band + 1);  // past the bin width's scale byte
                coded_subband[band] = in.u16("quantization table") != 0;
            }
            have_quantization = true;
            break;
        }
        case DHT:
            in.seek(where + 4);
            if (length > 2) read_huffman_tables(in, end, tables);
            break;
        case SOB: {
            if (!have_frame) fail("coded block before the frame header");
            if (!have_quantization) fail("coded block before the quantization table");
            if (length < 3) fail("block header too short");
            in.seek(where + 4);
            const int id = in.byte("block header");
            ++scan.blocks;
            if (id >= HUFFMAN_TABLES || !tables[id].defined)
                fail("block " + std::to_string(scan.blocks) + " uses undefined Huffman table " + std::to_string(id));
            if (!counted) {  // the quantization in force at the first block decides
                const auto areas = wsq_subband_areas(scan.width, scan.height);
                for (int band = 0; band < WSQ_SUBBANDS; ++band)
                    if (coded_subband[band]) scan.coefficients_needed += areas[band];
                counted = true;
            }
            in.seek(end);
            read_entropy_data(in, entropy, scan.blocks);
            count_block(entropy, tables[id], scan.blocks, scan.coefficients_needed, scan.coefficients_coded);
            continue;  // `in` is at the marker after the block
        }
        default:  // DTT and COM: nothing here depends on them
            break;
        }
        in.seek(end);
    }
}

}  // namespace afis
