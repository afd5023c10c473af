// Local similarity of two cylinders (bit version): over the cells valid in both,
// 1 - |a xor b| / (|a| + |b|) with |.| the square root of the bit count. Pairs whose
// minutiae differ in direction by more than delta_theta, or that share too few valid cells,
// score zero. The direction test runs first, on a whole row at once, so only the pairs that
// pass it reach the popcounts. Those are integer counts, so the kernels (plain popcnt, AVX2
// nibble tables, AVX-512 VPOPCNTDQ; chosen at run time) give identical scores.
#include <array>
#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AFIS_X86 1
#endif

#include "afis/match.hpp"

namespace afis {

namespace {

namespace mp = match_params;
constexpr float PI_F = 3.14159265358979323846f;
constexpr int MIN_CELLS = static_cast<int>(mp::MIN_MATCHABLE_CELLS * CYLINDER_CELLS);
constexpr int PAD = 16;  // widest vector of column indices or angles
static_assert(CYLINDER_WORDS % 8 == 0, "the vector kernels take cylinders in 512-bit chunks");
static_assert(CYLINDER_CELLS < 0x10000, "counts are packed in 16-bit fields");

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

inline void unpack(std::uint64_t s, int& common, int& count_a, int& count_b, int& differ) {
    common = static_cast<int>(s & 0xFFFF);
    count_a = static_cast<int>((s >> 16) & 0xFFFF);
    count_b = static_cast<int>((s >> 32) & 0xFFFF);
    differ = static_cast<int>(s >> 48);
}

// One comparison's inputs. `columns` and `angles`: B's usable cylinders and their minutiae's
// directions, padded by PAD; `found`: scratch for one row's candidate columns.
struct Rows {
    const CylinderView& a;
    const CylinderView& b;
    float* out;
    const int* columns;
    const float* angles;
    int usable;
    int* found;
};

// Candidate columns of a row: B's usable cylinders whose directions agree with `angle`.
int candidates_scalar(const Rows& r, float angle) {
    int m = 0;
    for (int c = 0; c < r.usable; ++c) {
        r.found[m] = r.columns[c];
        m += directions_agree(angle, r.angles[c]);
    }
    return m;
}

__attribute__((target_clones("popcnt", "default"))) void rows_scalar(const Rows& r) {
    const int nb = r.b.n;
    for (int i = 0; i < r.a.n; ++i) {
        if (!r.a.usable[i]) continue;
        const std::uint64_t* ca = r.a.bits + static_cast<std::size_t>(i) * CYLINDER_WORDS;
        const std::uint64_t* va = r.a.valid + static_cast<std::size_t>(i) * CYLINDER_WORDS;
        const int m = candidates_scalar(r, r.a.minutiae[i].angle);
        for (int c = 0; c < m; ++c) {
            const int j = r.found[c];
            const std::uint64_t* cb = r.b.bits + static_cast<std::size_t>(j) * CYLINDER_WORDS;
            const std::uint64_t* vb = r.b.valid + static_cast<std::size_t>(j) * CYLINDER_WORDS;
            int common = 0, count_a = 0, count_b = 0, differ = 0;
            for (int w = 0; w < CYLINDER_WORDS; ++w) {
                const std::uint64_t both = va[w] & vb[w];
                const std::uint64_t xa = ca[w] & both, xb = cb[w] & both;
                common += __builtin_popcountll(both);
                count_a += __builtin_popcountll(xa);
                count_b += __builtin_popcountll(xb);
                differ += __builtin_popcountll(xa ^ xb);
            }
            r.out[static_cast<std::size_t>(i) * nb + j] = similarity(common, count_a, count_b, differ);
        }
    }
}

#ifdef AFIS_X86

// --- AVX2 ------------------------------------------------------------------------------------

// Directions tested eight columns at a time, with angle_difference's operations; lanes
// whose difference reaches 2 pi (never for directions in [0, 2 pi)) take the scalar path.
__attribute__((target("popcnt,avx2"))) int candidates_avx2(const Rows& r, float angle) {
    const __m256 a = _mm256_set1_ps(angle), sign = _mm256_set1_ps(-0.0f);
    const __m256 pi = _mm256_set1_ps(PI_F), turn = _mm256_set1_ps(2 * PI_F);
    const __m256 limit = _mm256_set1_ps(mp::MAX_DIRECTION_DIFFERENCE);
    int m = 0;
    for (int c = 0; c < r.usable; c += 8) {
        const __m256 d = _mm256_andnot_ps(sign, _mm256_sub_ps(a, _mm256_loadu_ps(r.angles + c)));
        const int live = r.usable - c >= 8 ? 0xFF : (1 << (r.usable - c)) - 1;
        if (_mm256_movemask_ps(_mm256_cmp_ps(d, turn, _CMP_NLT_UQ)) & live) {
            for (int l = c; l < c + 8 && l < r.usable; ++l) {
                r.found[m] = r.columns[l];
                m += directions_agree(angle, r.angles[l]);
            }
            continue;
        }
        const __m256 e = _mm256_blendv_ps(d, _mm256_sub_ps(turn, d), _mm256_cmp_ps(d, pi, _CMP_GT_OQ));
        unsigned bits = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(e, limit, _CMP_NGT_UQ))) & live;
        for (; bits; bits &= bits - 1) r.found[m++] = r.columns[c + __builtin_ctz(bits)];
    }
    return m;
}

// The popcount of every byte, by a table of nibble counts.
__attribute__((target("avx2"), always_inline)) inline __m256i byte_counts(__m256i v, __m256i table,
                                                                           __m256i nibble) {
    const __m256i lo = _mm256_and_si256(v, nibble);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
    return _mm256_add_epi8(_mm256_shuffle_epi8(table, lo), _mm256_shuffle_epi8(table, hi));
}

__attribute__((target("popcnt,avx2"))) void rows_avx2(const Rows& r) {
    constexpr int CHUNKS = CYLINDER_WORDS / 4;
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                           0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const int nb = r.b.n;
    for (int i = 0; i < r.a.n; ++i) {
        if (!r.a.usable[i]) continue;
        const auto* ca = reinterpret_cast<const __m256i*>(r.a.bits + static_cast<std::size_t>(i) * CYLINDER_WORDS);
        const auto* va = reinterpret_cast<const __m256i*>(r.a.valid + static_cast<std::size_t>(i) * CYLINDER_WORDS);
        __m256i a_bits[CHUNKS], a_valid[CHUNKS];
        for (int k = 0; k < CHUNKS; ++k) {
            a_bits[k] = _mm256_loadu_si256(ca + k);
            a_valid[k] = _mm256_loadu_si256(va + k);
        }
        const int m = candidates_avx2(r, r.a.minutiae[i].angle);
        for (int c = 0; c < m; ++c) {
            const int j = r.found[c];
            const auto* cb = reinterpret_cast<const __m256i*>(r.b.bits + static_cast<std::size_t>(j) * CYLINDER_WORDS);
            const auto* vb = reinterpret_cast<const __m256i*>(r.b.valid + static_cast<std::size_t>(j) * CYLINDER_WORDS);
            // Byte counts: at most 8 per chunk, 6 chunks: no byte overflows.
            __m256i n_common = _mm256_setzero_si256(), n_a = n_common, n_b = n_common, n_differ = n_common;
            for (int k = 0; k < CHUNKS; ++k) {
                const __m256i both = _mm256_and_si256(a_valid[k], _mm256_loadu_si256(vb + k));
                const __m256i xa = _mm256_and_si256(a_bits[k], both);
                const __m256i xb = _mm256_and_si256(_mm256_loadu_si256(cb + k), both);
                n_common = _mm256_add_epi8(n_common, byte_counts(both, table, nibble));
                n_a = _mm256_add_epi8(n_a, byte_counts(xa, table, nibble));
                n_b = _mm256_add_epi8(n_b, byte_counts(xb, table, nibble));
                n_differ = _mm256_add_epi8(n_differ, byte_counts(_mm256_xor_si256(xa, xb), table, nibble));
            }
            const __m256i zero = _mm256_setzero_si256();
            __m256i packed = _mm256_sad_epu8(n_common, zero);
            packed = _mm256_add_epi64(packed, _mm256_slli_epi64(_mm256_sad_epu8(n_a, zero), 16));
            packed = _mm256_add_epi64(packed, _mm256_slli_epi64(_mm256_sad_epu8(n_b, zero), 32));
            packed = _mm256_add_epi64(packed, _mm256_slli_epi64(_mm256_sad_epu8(n_differ, zero), 48));
            const __m128i half = _mm_add_epi64(_mm256_castsi256_si128(packed), _mm256_extracti128_si256(packed, 1));
            const std::uint64_t sum = static_cast<std::uint64_t>(_mm_cvtsi128_si64(half)) +
                                      static_cast<std::uint64_t>(_mm_extract_epi64(half, 1));
            int common, count_a, count_b, differ;
            unpack(sum, common, count_a, count_b, differ);
            r.out[static_cast<std::size_t>(i) * nb + j] = similarity(common, count_a, count_b, differ);
        }
    }
}

// --- AVX-512 ---------------------------------------------------------------------------------

#define AFIS_AVX512 "popcnt,avx2,avx512f,avx512vpopcntdq"

__attribute__((target(AFIS_AVX512))) int candidates_avx512(const Rows& r, float angle) {
    const __m512 a = _mm512_set1_ps(angle);
    const __m512 pi = _mm512_set1_ps(PI_F), turn = _mm512_set1_ps(2 * PI_F);
    const __m512 limit = _mm512_set1_ps(mp::MAX_DIRECTION_DIFFERENCE);
    int m = 0;
    for (int c = 0; c < r.usable; c += 16) {
        const __mmask16 live = r.usable - c >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (r.usable - c)) - 1);
        const __m512 d = _mm512_abs_ps(_mm512_sub_ps(a, _mm512_loadu_ps(r.angles + c)));
        if (_mm512_mask_cmp_ps_mask(live, d, turn, _CMP_NLT_UQ)) {
            for (int l = c; l < c + 16 && l < r.usable; ++l) {
                r.found[m] = r.columns[l];
                m += directions_agree(angle, r.angles[l]);
            }
            continue;
        }
        const __m512 e = _mm512_mask_sub_ps(d, _mm512_cmp_ps_mask(d, pi, _CMP_GT_OQ), turn, d);
        const __mmask16 keep = _mm512_mask_cmp_ps_mask(live, e, limit, _CMP_NGT_UQ);
        const __m512i columns = _mm512_loadu_si512(r.columns + c);
        _mm512_storeu_si512(r.found + m, _mm512_maskz_compress_epi32(keep, columns));
        m += __builtin_popcount(keep);
    }
    return m;
}

__attribute__((target(AFIS_AVX512))) void rows_avx512(const Rows& r) {
    constexpr int CHUNKS = CYLINDER_WORDS / 8;
    const int nb = r.b.n;
    for (int i = 0; i < r.a.n; ++i) {
        if (!r.a.usable[i]) continue;
        const std::uint64_t* ca = r.a.bits + static_cast<std::size_t>(i) * CYLINDER_WORDS;
        const std::uint64_t* va = r.a.valid + static_cast<std::size_t>(i) * CYLINDER_WORDS;
        __m512i a_bits[CHUNKS], a_valid[CHUNKS];
        for (int k = 0; k < CHUNKS; ++k) {
            a_bits[k] = _mm512_loadu_si512(ca + 8 * k);
            a_valid[k] = _mm512_loadu_si512(va + 8 * k);
        }
        const int m = candidates_avx512(r, r.a.minutiae[i].angle);
        for (int c = 0; c < m; ++c) {
            const int j = r.found[c];
            const std::uint64_t* cb = r.b.bits + static_cast<std::size_t>(j) * CYLINDER_WORDS;
            const std::uint64_t* vb = r.b.valid + static_cast<std::size_t>(j) * CYLINDER_WORDS;
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
            // Sum of the eight lanes, by halves (the zero-masked forms: GCC 12 warns about
            // the undefined temporaries of the plain ones).
            const __m256i quarter = _mm256_add_epi64(_mm512_maskz_extracti64x4_epi64(0xF, packed, 0), _mm512_maskz_extracti64x4_epi64(0xF, packed, 1));
            const __m128i half = _mm_add_epi64(_mm256_castsi256_si128(quarter), _mm256_extracti128_si256(quarter, 1));
            const std::uint64_t sum = static_cast<std::uint64_t>(_mm_cvtsi128_si64(half)) +
                                      static_cast<std::uint64_t>(_mm_extract_epi64(half, 1));
            int common, count_a, count_b, differ;
            unpack(sum, common, count_a, count_b, differ);
            r.out[static_cast<std::size_t>(i) * nb + j] = similarity(common, count_a, count_b, differ);
        }
    }
}

#endif  // AFIS_X86

}  // namespace

void local_similarities(const CylinderView& a, const CylinderView& b, std::vector<float>& out) {
    out.assign(static_cast<std::size_t>(a.n) * b.n, 0.0f);
    // B's usable cylinders, once per comparison; padded so vector loads and stores of a
    // partial last group stay inside the buffers.
    thread_local std::vector<int> columns, found;
    thread_local std::vector<float> angles;
    const std::size_t padded = static_cast<std::size_t>(b.n) + PAD;
    if (columns.size() < padded) {
        columns.resize(padded);
        found.resize(padded);
        angles.resize(padded);
    }
    int usable = 0;
    for (int j = 0; j < b.n; ++j) {
        columns[usable] = j;
        angles[usable] = b.minutiae[j].angle;
        usable += b.usable[j] != 0;
    }
    for (int p = usable; p < usable + PAD; ++p) columns[p] = 0, angles[p] = 0.0f;
    const Rows rows{a, b, out.data(), columns.data(), angles.data(), usable, found.data()};
#ifdef AFIS_X86
    switch (simd_level()) {
        case SimdLevel::AVX512: return rows_avx512(rows);
        case SimdLevel::AVX2: return rows_avx2(rows);
        case SimdLevel::SCALAR: break;
    }
#endif
    rows_scalar(rows);
}

}  // namespace afis
