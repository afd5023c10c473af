// Local similarity of two cylinders (bit version): over the cells valid in both,
// 1 - |a xor b| / (|a| + |b|) with |.| the square root of the bit count. Pairs whose
// minutiae differ in direction by more than delta_theta, or that share too few valid cells,
// score zero.
//
// Only integer counts decide the score, so the work can be arranged freely without changing
// a bit of it:
// - the direction test runs first, on a whole row at once, so only the pairs that pass it
//   reach the popcounts;
// - about half the cylinders lie wholly inside the print (every cell of the disk valid).
//   When one cylinder of a pair is such a full disk and the other's valid cells lie within
//   the disk, the common cells are the other's valid cells, whose count and bit count are
//   known beforehand: two popcounts instead of four;
// - the popcounts use the best instruction set present (plain popcnt, AVX2 nibble tables,
//   AVX-512 VPOPCNTDQ; chosen at run time).
#include <array>
#include <cmath>

#include "afis/common/simd.hpp"
#include "afis/common/x86.hpp"
#include "afis/match/match.hpp"

namespace afis {

namespace {

namespace mp = match_params;
constexpr float PI_F = 3.14159265358979323846f;
constexpr int MIN_CELLS = static_cast<int>(mp::MIN_MATCHABLE_CELLS * CYLINDER_CELLS);
constexpr int PAD = 16;  // widest vector of column indices or angles
constexpr int W = CYLINDER_WORDS;
static_assert(W % 8 == 0, "the vector kernels take cylinders in 512-bit chunks");
static_assert(CYLINDER_CELLS < 0x10000, "counts are packed in 16-bit fields");

using Words = std::array<std::uint64_t, W>;

// The cells of a cylinder inside its radius (all directions): the valid cells of a cylinder
// whose whole disk lies in the print. Built as cylinders.cpp builds validity; were it to
// differ, only the share of pairs taking the short path would change, never a score.
const Words DISK = [] {
    constexpr int NS = mp::SPATIAL_CELLS, ND = mp::DIRECTION_CELLS;
    const float cell = 2 * mp::RADIUS / NS;
    Words m{};
    for (int j = 0; j < NS; ++j)
        for (int i = 0; i < NS; ++i) {
            const float u = cell * (i - 0.5f * (NS - 1)), v = cell * (j - 0.5f * (NS - 1));
            if (u * u + v * v > mp::RADIUS * mp::RADIUS) continue;
            for (int k = 0; k < ND; ++k) {
                const int bit = (j * NS + i) * ND + k;
                m[bit >> 6] |= std::uint64_t{1} << (bit & 63);
            }
        }
    return m;
}();

float angle_difference(float a, float b) {
    float d = std::fabs(a - b);
    // fmod is exact and the identity below its period: call it only where it can matter.
    if (!(d < 2 * PI_F)) d = std::fmod(d, 2 * PI_F);
    return d > PI_F ? 2 * PI_F - d : d;
}

inline bool directions_agree(float a, float b) {
    return !(angle_difference(a, b) > mp::MAX_DIRECTION_DIFFERENCE);
}

// Square roots of the possible counts (the same values std::sqrt gives, looked up: three per
// pair would otherwise keep the divider busy longer than the popcounts take).
const std::array<float, CYLINDER_CELLS + 1> ROOTS = [] {
    std::array<float, CYLINDER_CELLS + 1> r{};
    for (int i = 0; i <= CYLINDER_CELLS; ++i) r[i] = std::sqrt(static_cast<float>(i));
    return r;
}();

// The similarity from the four counts (0 where the pair is not comparable), without
// branches: whether a pair is comparable is data, and mispredictions cost more than the
// division.
inline float similarity(int common, int count_a, int count_b, int differ) {
    const float norm = ROOTS[count_a] + ROOTS[count_b];
    const bool ok = (common >= MIN_CELLS) & (norm > 0);
    const float value = 1.0f - ROOTS[differ] / (ok ? norm : 1.0f);
    return ok ? value : 0.0f;
}

// Kernels return counts packed in 16-bit fields: (common, a, b, differ) for the general case,
// (first, differ) for the short one.
inline float similarity_packed(std::uint64_t s) {
    return similarity(static_cast<int>(s & 0xFFFF), static_cast<int>((s >> 16) & 0xFFFF),
                      static_cast<int>((s >> 32) & 0xFFFF), static_cast<int>(s >> 48));
}

// What is known of a cylinder before comparing it: whether its valid cells are the whole disk
// or lie within it, how many there are and how many of them are set.
enum Shape : std::uint8_t { OTHER = 0, INSIDE = 1, FULL = 2 };
struct Info {
    std::uint8_t shape;
    std::uint16_t valid, set;
};

AFIS_PLAIN Info describe_scalar(const std::uint64_t* bits, const std::uint64_t* valid) {
    bool full = true, inside = true;
    int n_valid = 0, n_set = 0;
    for (int w = 0; w < W; ++w) {
        full &= valid[w] == DISK[w];
        inside &= (valid[w] & ~DISK[w]) == 0;
        n_valid += __builtin_popcountll(valid[w]);
        n_set += __builtin_popcountll(bits[w] & valid[w]);
    }
    return {static_cast<std::uint8_t>(full ? FULL : inside ? INSIDE : OTHER), static_cast<std::uint16_t>(n_valid),
            static_cast<std::uint16_t>(n_set)};
}

// One comparison's inputs. B's usable cylinders are listed by shape (FULL, then INSIDE, then
// OTHER) with their minutiae's directions, padded by PAD; `found` is scratch for one row.
struct Rows {
    const CylinderView& a;
    const CylinderView& b;
    float* out;
    const Info* info_a;
    const Info* info_b;
    const int* columns;
    const float* angles;
    int full, inside, usable;  // ends of the three groups
    int* found;
};

// Which columns of a row take which kernel: [0, fast) the short one, [fast, usable) the
// general one.
inline int fast_end(const Rows& r, int i) {
    switch (r.info_a[i].shape) {
        case FULL: return r.inside;  // B full or inside: the common cells are B's valid cells
        case INSIDE: return r.full;  // B full: the common cells are A's valid cells
        default: return 0;
    }
}

// The candidate columns among [from, to) of the lists: directions within delta_theta.
int candidates_scalar(const Rows& r, float angle, int from, int to, int* out) {
    int m = 0;
    for (int c = from; c < to; ++c) {
        out[m] = r.columns[c];
        m += directions_agree(angle, r.angles[c]);
    }
    return m;
}

AFIS_PLAIN void rows_scalar(const Rows& r) {
    for (int i = 0; i < r.a.n; ++i) {
        if (!r.a.usable[i]) continue;
        const std::uint64_t* ca = r.a.bits + static_cast<std::size_t>(i) * W;
        const std::uint64_t* va = r.a.valid + static_cast<std::size_t>(i) * W;
        const Info ia = r.info_a[i];
        const bool on_b = ia.shape == FULL;
        float* out = r.out + static_cast<std::size_t>(i) * r.b.n;
        const float angle = r.a.minutiae[i].angle;
        const int split = fast_end(r, i);
        int m = candidates_scalar(r, angle, 0, split, r.found);
        for (int c = 0; c < m; ++c) {
            const int j = r.found[c];
            const std::uint64_t* cb = r.b.bits + static_cast<std::size_t>(j) * W;
            const std::uint64_t* vb = r.b.valid + static_cast<std::size_t>(j) * W;
            const std::uint64_t* mask = on_b ? vb : va;    // the common cells
            const std::uint64_t* first = on_b ? ca : cb;   // the other cylinder's bits
            int n_first = 0, differ = 0;
            for (int w = 0; w < W; ++w) {
                n_first += __builtin_popcountll(first[w] & mask[w]);
                differ += __builtin_popcountll((ca[w] ^ cb[w]) & mask[w]);
            }
            const Info known = on_b ? r.info_b[j] : ia;
            out[j] = on_b ? similarity(known.valid, n_first, known.set, differ)
                          : similarity(known.valid, known.set, n_first, differ);
        }
        m = candidates_scalar(r, angle, split, r.usable, r.found);
        for (int c = 0; c < m; ++c) {
            const int j = r.found[c];
            const std::uint64_t* cb = r.b.bits + static_cast<std::size_t>(j) * W;
            const std::uint64_t* vb = r.b.valid + static_cast<std::size_t>(j) * W;
            int common = 0, count_a = 0, count_b = 0, differ = 0;
            for (int w = 0; w < W; ++w) {
                const std::uint64_t both = va[w] & vb[w];
                const std::uint64_t xa = ca[w] & both, xb = cb[w] & both;
                common += __builtin_popcountll(both);
                count_a += __builtin_popcountll(xa);
                count_b += __builtin_popcountll(xb);
                differ += __builtin_popcountll(xa ^ xb);
            }
            out[j] = similarity(common, count_a, count_b, differ);
        }
    }
}

#ifdef AFIS_X86

// --- AVX2 ------------------------------------------------------------------------------------

// For each 8-bit mask, the lanes set in it in order (then zeros): a compress by permutation.
const std::array<std::array<std::uint8_t, 8>, 256> COMPRESS = [] {
    std::array<std::array<std::uint8_t, 8>, 256> t{};
    for (unsigned mask = 0; mask < 256; ++mask)
        for (unsigned lane = 0, k = 0; lane < 8; ++lane)
            if (mask >> lane & 1) t[mask][k++] = static_cast<std::uint8_t>(lane);
    return t;
}();

// Directions tested eight columns at a time, with angle_difference's operations; lanes
// whose difference reaches 2 pi (never for directions in [0, 2 pi)) take the scalar path.
__attribute__((target("popcnt,avx2"))) int candidates_avx2(const Rows& r, float angle, int from, int to, int* out) {
    const __m256 a = _mm256_set1_ps(angle), sign = _mm256_set1_ps(-0.0f);
    const __m256 pi = _mm256_set1_ps(PI_F), turn = _mm256_set1_ps(2 * PI_F);
    const __m256 limit = _mm256_set1_ps(mp::MAX_DIRECTION_DIFFERENCE);
    int m = 0;
    for (int c = from; c < to; c += 8) {
        const __m256 d = _mm256_andnot_ps(sign, _mm256_sub_ps(a, _mm256_loadu_ps(r.angles + c)));
        const unsigned live = to - c >= 8 ? 0xFFu : (1u << (to - c)) - 1;
        if (static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(d, turn, _CMP_NLT_UQ))) & live) {
            m += candidates_scalar(r, angle, c, std::min(c + 8, to), out + m);
            continue;
        }
        const __m256 e = _mm256_blendv_ps(d, _mm256_sub_ps(turn, d), _mm256_cmp_ps(d, pi, _CMP_GT_OQ));
        const unsigned keep = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(e, limit, _CMP_NGT_UQ))) & live;
        // Compress the kept lanes' column indices to the front: a permutation per mask.
        const __m256i order = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(&COMPRESS[keep])));
        const __m256i columns = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.columns + c));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + m), _mm256_permutevar8x32_epi32(columns, order));
        m += __builtin_popcount(keep);
    }
    return m;
}

// The popcount of every byte, by a table of nibble counts.
__attribute__((target("avx2"), always_inline)) inline __m256i byte_counts(__m256i v) {
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                           0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i lo = _mm256_and_si256(v, nibble);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
    return _mm256_add_epi8(_mm256_shuffle_epi8(table, lo), _mm256_shuffle_epi8(table, hi));
}

// Sum of the bytes of each count (each below 256: at most 8 per chunk, 6 chunks), packed.
__attribute__((target("avx2"), always_inline)) inline std::uint64_t pack_avx2(__m256i c0, __m256i c1, __m256i c2,
                                                                             __m256i c3) {
    const __m256i zero = _mm256_setzero_si256();
    __m256i packed = _mm256_sad_epu8(c0, zero);
    packed = _mm256_add_epi64(packed, _mm256_slli_epi64(_mm256_sad_epu8(c1, zero), 16));
    packed = _mm256_add_epi64(packed, _mm256_slli_epi64(_mm256_sad_epu8(c2, zero), 32));
    packed = _mm256_add_epi64(packed, _mm256_slli_epi64(_mm256_sad_epu8(c3, zero), 48));
    const __m128i half = _mm_add_epi64(_mm256_castsi256_si128(packed), _mm256_extracti128_si256(packed, 1));
    return static_cast<std::uint64_t>(_mm_cvtsi128_si64(half)) + static_cast<std::uint64_t>(_mm_extract_epi64(half, 1));
}

__attribute__((target("popcnt,avx2"))) void rows_avx2(const Rows& r) {
    constexpr int CHUNKS = W / 4;
    for (int i = 0; i < r.a.n; ++i) {
        if (!r.a.usable[i]) continue;
        const auto* ca = reinterpret_cast<const __m256i*>(r.a.bits + static_cast<std::size_t>(i) * W);
        const auto* va = reinterpret_cast<const __m256i*>(r.a.valid + static_cast<std::size_t>(i) * W);
        const Info ia = r.info_a[i];
        const bool on_b = ia.shape == FULL;
        __m256i a_bits[CHUNKS], a_valid[CHUNKS];
        for (int k = 0; k < CHUNKS; ++k) {
            a_bits[k] = _mm256_loadu_si256(ca + k);
            a_valid[k] = _mm256_loadu_si256(va + k);
        }
        const int nb = r.b.n;
        float* out = r.out + static_cast<std::size_t>(i) * nb;
        const float angle = r.a.minutiae[i].angle;
        const int split = fast_end(r, i);
        int m = candidates_avx2(r, angle, 0, split, r.found);
        for (int c = 0; c < m; ++c) {
            const int j = r.found[c];
            const auto* cb = reinterpret_cast<const __m256i*>(r.b.bits + static_cast<std::size_t>(j) * W);
            const auto* vb = reinterpret_cast<const __m256i*>(r.b.valid + static_cast<std::size_t>(j) * W);
            __m256i n_first = _mm256_setzero_si256(), n_differ = n_first;
            for (int k = 0; k < CHUNKS; ++k) {
                const __m256i b_bits = _mm256_loadu_si256(cb + k);
                const __m256i mask = on_b ? _mm256_loadu_si256(vb + k) : a_valid[k];
                const __m256i first = on_b ? a_bits[k] : b_bits;
                n_first = _mm256_add_epi8(n_first, byte_counts(_mm256_and_si256(first, mask)));
                n_differ = _mm256_add_epi8(n_differ, byte_counts(_mm256_and_si256(_mm256_xor_si256(a_bits[k], b_bits), mask)));
            }
            const __m256i zero = _mm256_setzero_si256();
            const std::uint64_t s = pack_avx2(zero, n_first, zero, n_differ);
            const int n1 = static_cast<int>((s >> 16) & 0xFFFF), differ = static_cast<int>(s >> 48);
            const Info known = on_b ? r.info_b[j] : ia;
            out[j] = on_b ? similarity(known.valid, n1, known.set, differ) : similarity(known.valid, known.set, n1, differ);
        }
        m = candidates_avx2(r, angle, split, r.usable, r.found);
        for (int c = 0; c < m; ++c) {
            const int j = r.found[c];
            const auto* cb = reinterpret_cast<const __m256i*>(r.b.bits + static_cast<std::size_t>(j) * W);
            const auto* vb = reinterpret_cast<const __m256i*>(r.b.valid + static_cast<std::size_t>(j) * W);
            __m256i n_common = _mm256_setzero_si256(), n_a = n_common, n_b = n_common, n_differ = n_common;
            for (int k = 0; k < CHUNKS; ++k) {
                const __m256i both = _mm256_and_si256(a_valid[k], _mm256_loadu_si256(vb + k));
                const __m256i xa = _mm256_and_si256(a_bits[k], both);
                const __m256i xb = _mm256_and_si256(_mm256_loadu_si256(cb + k), both);
                n_common = _mm256_add_epi8(n_common, byte_counts(both));
                n_a = _mm256_add_epi8(n_a, byte_counts(xa));
                n_b = _mm256_add_epi8(n_b, byte_counts(xb));
                n_differ = _mm256_add_epi8(n_differ, byte_counts(_mm256_xor_si256(xa, xb)));
            }
            out[j] = similarity_packed(pack_avx2(n_common, n_a, n_b, n_differ));
        }
    }
}

__attribute__((target("popcnt,avx2"))) Info describe_avx2(const std::uint64_t* bits, const std::uint64_t* valid) {
    __m256i differs = _mm256_setzero_si256(), outside = differs, n_valid = differs, n_set = differs;
    for (int k = 0; k < W / 4; ++k) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(valid) + k);
        const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits) + k);
        const __m256i disk = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(DISK.data()) + k);
        differs = _mm256_or_si256(differs, _mm256_xor_si256(v, disk));
        outside = _mm256_or_si256(outside, _mm256_andnot_si256(disk, v));
        n_valid = _mm256_add_epi8(n_valid, byte_counts(v));
        n_set = _mm256_add_epi8(n_set, byte_counts(_mm256_and_si256(c, v)));
    }
    const std::uint64_t s = pack_avx2(n_valid, n_set, _mm256_setzero_si256(), _mm256_setzero_si256());
    const bool full = _mm256_testz_si256(differs, differs), inside = _mm256_testz_si256(outside, outside);
    return {static_cast<std::uint8_t>(full ? FULL : inside ? INSIDE : OTHER), static_cast<std::uint16_t>(s & 0xFFFF),
            static_cast<std::uint16_t>((s >> 16) & 0xFFFF)};
}

// --- AVX-512 ---------------------------------------------------------------------------------

#define AFIS_AVX512 "popcnt,avx2,avx512f,avx512vpopcntdq"

__attribute__((target(AFIS_AVX512))) int candidates_avx512(const Rows& r, float angle, int from, int to, int* out) {
    const __m512 a = _mm512_set1_ps(angle);
    const __m512 pi = _mm512_set1_ps(PI_F), turn = _mm512_set1_ps(2 * PI_F);
    const __m512 limit = _mm512_set1_ps(mp::MAX_DIRECTION_DIFFERENCE);
    int m = 0;
    for (int c = from; c < to; c += 16) {
        const __mmask16 live = to - c >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (to - c)) - 1);
        const __m512 d = _mm512_abs_ps(_mm512_sub_ps(a, _mm512_loadu_ps(r.angles + c)));
        if (_mm512_mask_cmp_ps_mask(live, d, turn, _CMP_NLT_UQ)) {
            m += candidates_scalar(r, angle, c, std::min(c + 16, to), out + m);
            continue;
        }
        const __m512 e = _mm512_mask_sub_ps(d, _mm512_cmp_ps_mask(d, pi, _CMP_GT_OQ), turn, d);
        const __mmask16 keep = _mm512_mask_cmp_ps_mask(live, e, limit, _CMP_NGT_UQ);
        _mm512_storeu_si512(out + m, _mm512_maskz_compress_epi32(keep, _mm512_loadu_si512(r.columns + c)));
        m += __builtin_popcount(keep);
    }
    return m;
}

// Sum of the eight lanes of packed counts, by halves (the zero-masked forms: GCC 12 warns
// about the undefined temporaries of the plain ones).
__attribute__((target(AFIS_AVX512), always_inline)) inline std::uint64_t sum_avx512(__m512i packed) {
    const __m256i quarter = _mm256_add_epi64(_mm512_maskz_extracti64x4_epi64(0xF, packed, 0),
                                             _mm512_maskz_extracti64x4_epi64(0xF, packed, 1));
    const __m128i half = _mm_add_epi64(_mm256_castsi256_si128(quarter), _mm256_extracti128_si256(quarter, 1));
    return static_cast<std::uint64_t>(_mm_cvtsi128_si64(half)) + static_cast<std::uint64_t>(_mm_extract_epi64(half, 1));
}

__attribute__((target(AFIS_AVX512))) Info describe_avx512(const std::uint64_t* bits, const std::uint64_t* valid) {
    __m512i differs = _mm512_setzero_si512(), outside = differs, n_valid = differs, n_set = differs;
    for (int k = 0; k < W / 8; ++k) {
        const __m512i v = _mm512_loadu_si512(valid + 8 * k);
        const __m512i c = _mm512_loadu_si512(bits + 8 * k);
        const __m512i disk = _mm512_loadu_si512(DISK.data() + 8 * k);
        differs = _mm512_or_si512(differs, _mm512_xor_si512(v, disk));
        outside = _mm512_or_si512(outside, _mm512_and_si512(v, _mm512_xor_si512(disk, _mm512_set1_epi64(-1))));
        n_valid = _mm512_add_epi64(n_valid, _mm512_popcnt_epi64(v));
        n_set = _mm512_add_epi64(n_set, _mm512_popcnt_epi64(_mm512_and_si512(c, v)));
    }
    const std::uint64_t s = sum_avx512(_mm512_add_epi64(n_valid, _mm512_maskz_slli_epi64(0xFF, n_set, 16)));
    const bool full = _mm512_test_epi64_mask(differs, differs) == 0;
    const bool inside = _mm512_test_epi64_mask(outside, outside) == 0;
    return {static_cast<std::uint8_t>(full ? FULL : inside ? INSIDE : OTHER), static_cast<std::uint16_t>(s & 0xFFFF),
            static_cast<std::uint16_t>((s >> 16) & 0xFFFF)};
}

__attribute__((target(AFIS_AVX512))) void rows_avx512(const Rows& r) {
    constexpr int CHUNKS = W / 8;
    for (int i = 0; i < r.a.n; ++i) {
        if (!r.a.usable[i]) continue;
        const std::uint64_t* ca = r.a.bits + static_cast<std::size_t>(i) * W;
        const std::uint64_t* va = r.a.valid + static_cast<std::size_t>(i) * W;
        const Info ia = r.info_a[i];
        const bool on_b = ia.shape == FULL;
        __m512i a_bits[CHUNKS], a_valid[CHUNKS];
        for (int k = 0; k < CHUNKS; ++k) {
            a_bits[k] = _mm512_loadu_si512(ca + 8 * k);
            a_valid[k] = _mm512_loadu_si512(va + 8 * k);
        }
        const int nb = r.b.n;
        float* out = r.out + static_cast<std::size_t>(i) * nb;
        const float angle = r.a.minutiae[i].angle;
        const int split = fast_end(r, i);
        int m = candidates_avx512(r, angle, 0, split, r.found);
        for (int c = 0; c < m; ++c) {
            const int j = r.found[c];
            const std::uint64_t* cb = r.b.bits + static_cast<std::size_t>(j) * W;
            const std::uint64_t* vb = r.b.valid + static_cast<std::size_t>(j) * W;
            __m512i n_first = _mm512_setzero_si512(), n_differ = n_first;
            for (int k = 0; k < CHUNKS; ++k) {
                const __m512i b_bits = _mm512_loadu_si512(cb + 8 * k);
                const __m512i mask = on_b ? _mm512_loadu_si512(vb + 8 * k) : a_valid[k];
                const __m512i first = on_b ? a_bits[k] : b_bits;
                n_first = _mm512_add_epi64(n_first, _mm512_popcnt_epi64(_mm512_and_si512(first, mask)));
                n_differ = _mm512_add_epi64(n_differ, _mm512_popcnt_epi64(_mm512_and_si512(_mm512_xor_si512(a_bits[k], b_bits), mask)));
            }
            const std::uint64_t s = sum_avx512(_mm512_add_epi64(n_first, _mm512_maskz_slli_epi64(0xFF, n_differ, 32)));
            const int n1 = static_cast<int>(s & 0xFFFFFFFF), differ = static_cast<int>(s >> 32);
            const Info known = on_b ? r.info_b[j] : ia;
            out[j] = on_b ? similarity(known.valid, n1, known.set, differ) : similarity(known.valid, known.set, n1, differ);
        }
        m = candidates_avx512(r, angle, split, r.usable, r.found);
        for (int c = 0; c < m; ++c) {
            const int j = r.found[c];
            const std::uint64_t* cb = r.b.bits + static_cast<std::size_t>(j) * W;
            const std::uint64_t* vb = r.b.valid + static_cast<std::size_t>(j) * W;
            __m512i n_common = _mm512_setzero_si512(), n_a = n_common, n_b = n_common, n_differ = n_common;
            for (int k = 0; k < CHUNKS; ++k) {
                const __m512i both = _mm512_and_si512(a_valid[k], _mm512_loadu_si512(vb + 8 * k));
                const __m512i xa = _mm512_and_si512(a_bits[k], both);
                const __m512i xb = _mm512_and_si512(_mm512_loadu_si512(cb + 8 * k), both);
                n_common = _mm512_add_epi64(n_common, _mm512_popcnt_epi64(both));
                n_a = _mm512_add_epi64(n_a, _mm512_popcnt_epi64(xa));
                n_b = _mm512_add_epi64(n_b, _mm512_popcnt_epi64(xb));
                n_differ = _mm512_add_epi64(n_differ, _mm512_popcnt_epi64(_mm512_xor_si512(xa, xb)));
            }
            __m512i packed = n_common;
            packed = _mm512_add_epi64(packed, _mm512_maskz_slli_epi64(0xFF, n_a, 16));
            packed = _mm512_add_epi64(packed, _mm512_maskz_slli_epi64(0xFF, n_b, 32));
            packed = _mm512_add_epi64(packed, _mm512_maskz_slli_epi64(0xFF, n_differ, 48));
            out[j] = similarity_packed(sum_avx512(packed));
        }
    }
}

#endif  // AFIS_X86

}  // namespace

void local_similarities(const CylinderView& a, const CylinderView& b, std::vector<float>& out) {
    out.assign(static_cast<std::size_t>(a.n) * b.n, 0.0f);
    thread_local std::vector<Info> info_a, info_b;
    thread_local std::vector<int> columns, found;
    thread_local std::vector<float> angles;
    if (info_a.size() < static_cast<std::size_t>(a.n)) info_a.resize(a.n);
    const std::size_t padded = static_cast<std::size_t>(b.n) + PAD;
    if (columns.size() < padded) {
        info_b.resize(b.n);
        columns.resize(padded);
        found.resize(padded);
        angles.resize(padded);
    }
    const SimdLevel level = simd_level();
    const auto describe = [level](const CylinderView& v, int i) {
        const std::uint64_t* bits = v.bits + static_cast<std::size_t>(i) * W;
        const std::uint64_t* valid = v.valid + static_cast<std::size_t>(i) * W;
#ifdef AFIS_X86
        if (level == SimdLevel::AVX512) return describe_avx512(bits, valid);
        if (level == SimdLevel::AVX2) return describe_avx2(bits, valid);
#endif
        return describe_scalar(bits, valid);
    };
    for (int i = 0; i < a.n; ++i)
        if (a.usable[i]) info_a[i] = describe(a, i);
    // B's usable cylinders grouped by shape: full disks, then the rest inside the disk, then
    // any other.
    int counts[3] = {0, 0, 0};
    for (int j = 0; j < b.n; ++j)
        if (b.usable[j]) {
            info_b[j] = describe(b, j);
            ++counts[info_b[j].shape];
        }
    int next[3] = {0, counts[FULL], counts[FULL] + counts[INSIDE]};  // slots of FULL, INSIDE, OTHER
    const int slot_of[3] = {2, 1, 0};                                  // shape -> group
    for (int j = 0; j < b.n; ++j) {
        if (!b.usable[j]) continue;
        const int at = next[slot_of[info_b[j].shape]]++;
        columns[at] = j;
        angles[at] = b.minutiae[j].angle;
    }
    const int usable = counts[0] + counts[1] + counts[2];
    for (int p = usable; p < usable + PAD; ++p) columns[p] = 0, angles[p] = 0.0f;
    const Rows rows{a,
                    b,
                    out.data(),
                    info_a.data(),
                    info_b.data(),
                    columns.data(),
                    angles.data(),
                    counts[FULL],
                    counts[FULL] + counts[INSIDE],
                    usable,
                    found.data()};
#ifdef AFIS_X86
    switch (level) {
        case SimdLevel::AVX512: return rows_avx512(rows);
        case SimdLevel::AVX2: return rows_avx2(rows);
        case SimdLevel::SCALAR: break;
    }
#endif
    rows_scalar(rows);
}

}  // namespace afis
