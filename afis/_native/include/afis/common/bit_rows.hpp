// Rows of a byte image as bits, 64 pixels a word, for stages that decide many pixels at once
// with word operations. Knows nothing of Python.
#pragma once
#include <algorithm>
#include <cstdint>

#include "afis/common/x86.hpp"

namespace afis {

// Words of a row of w pixels.
inline int bit_words(int w) { return (w + 63) / 64; }

// Bit x % 64 of words[x / 64] is set where row[x] == value (x < w; the bits past w are clear).
inline void row_bits(const std::uint8_t* row, int w, std::uint8_t value, std::uint64_t* words) {
    std::fill(words, words + bit_words(w), 0);
    int x = 0;
#ifdef AFIS_X86
    const __m128i v = _mm_set1_epi8(static_cast<char>(value));
    for (; x + 16 <= w; x += 16) {
        const __m128i p = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x));
        const auto m = static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(p, v))));
        words[x / 64] |= m << (x % 64);
    }
#endif
    for (; x < w; ++x)
        if (row[x] == value) words[x / 64] |= std::uint64_t{1} << (x % 64);
}

// The same where row[x] != 0.
inline void row_bits_nonzero(const std::uint8_t* row, int w, std::uint64_t* words) {
    row_bits(row, w, 0, words);
    const int n = bit_words(w);
    for (int k = 0; k < n; ++k) words[k] = ~words[k];
    if (w % 64) words[n - 1] &= (std::uint64_t{1} << (w % 64)) - 1;
}

}  // namespace afis
