// Global score by Local Similarity Sort with Relaxation (LSS-R): the best n_R minutia pairs
// by local similarity are relaxed against each other, so a pair keeps its weight only if
// other pairs agree with it geometrically (distances, relative directions and radial
// angles consistent in both prints). The n_P pairs that gained the most are averaged.
//
// Speed without changing a bit of the result: the greedy pair selection keeps each row's
// best free column instead of sorting every candidate; the compatibilities of all pairs of
// pairs are computed eight at a time with AVX2 (same operations in the same order as the
// scalar code, no fused multiply-add); denormals are flushed while consolidating; all
// scratch memory is reused per thread.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "afis/common/simd.hpp"
#include "afis/common/util.hpp"
#include "afis/common/x86.hpp"
#include "afis/match/match.hpp"

namespace afis {

namespace {

namespace mp = match_params;
constexpr float PI_F = 3.14159265358979323846f;
constexpr int LANES = 8;  // vector width of the AVX2 kernel; arrays are padded to it

float sigmoid(float v, float mu, float tau) { return 1.0f / (1.0f + std::exp(-tau * (v - mu))); }

// Sigmoids by table: the relaxation evaluates three of them for every pair of pairs.
// `delta[i]` = values[i + 1] - values[i], the same subtraction the lookup would do.
struct SigmoidTable {
    static constexpr int SIZE = 1024;
    float limit = 1, step = 1;
    std::array<float, SIZE + 1> values{};
    std::array<float, SIZE + 1> delta{};
    SigmoidTable(float mu, float tau, float lim) : limit(lim), step(lim / SIZE) {
        for (int i = 0; i <= SIZE; ++i) values[i] = sigmoid(i * step, mu, tau);
        for (int i = 0; i < SIZE; ++i) delta[i] = values[i + 1] - values[i];
    }
    float operator()(float v) const {
        const float f = v / step;
        if (f >= SIZE) return values[SIZE];
        const int i = static_cast<int>(f);
        return values[i] + delta[i] * (f - i);
    }
};

// Built when the library loads, under the default floating-point mode (never inside the
// denormal flush below).
const SigmoidTable RHO_DISTANCE(mp::DISTANCE_MU, mp::DISTANCE_TAU, 4 * mp::RADIUS);
const SigmoidTable RHO_DIRECTION(mp::DIRECTION_MU, mp::DIRECTION_TAU, PI_F);
const SigmoidTable RHO_RADIAL(mp::RADIAL_MU, mp::RADIAL_TAU, PI_F);
const SigmoidTable& rho_distance() { return RHO_DISTANCE; }
const SigmoidTable& rho_direction() { return RHO_DIRECTION; }
const SigmoidTable& rho_radial() { return RHO_RADIAL; }

float wrap_abs(float a) { return std::fabs(wrap_pi(a)); }

// Sigmoid values and their products reach far below FLT_MIN (3 sigmoids of down to e^-86
// each), where every operation on a denormal costs a microcode assist of ~100 cycles. Such
// terms (< 2^-126) join weights of at least 2^-30 (a positive similarity is at least 2^-24,
// halved at most five times), some 2^-70 of an ulp: flushing them to zero could only change
// a sum that falls exactly on a rounding tie, which no score of the reference tests or of
// the FVC all-pairs runs did. The guard sets flush-to-zero and denormals-are-zero for one
// consolidation and restores the caller's mode.
struct FlushDenormals {
#ifdef AFIS_X86
    unsigned int saved = _mm_getcsr();
    FlushDenormals() { _mm_setcsr(saved | 0x8040u); }  // FTZ (bit 15) | DAZ (bit 6)
    ~FlushDenormals() { _mm_setcsr(saved); }
#else
    FlushDenormals() = default;
#endif
    FlushDenormals(const FlushDenormals&) = delete;
    FlushDenormals& operator=(const FlushDenormals&) = delete;
};

// Per-thread scratch, grown as needed and never shrunk (bounded by the largest templates
// seen: at most 1000 minutiae each).
struct Scratch {
    std::vector<float> work;       // the similarity matrix, taken columns zeroed
    std::vector<int> best_column;  // per row of the similarity matrix
    std::vector<float> best_value;
    std::vector<int> rows;         // rows to scan
    // The selected pairs, structure of arrays padded to LANES: minutiae of A and of B.
    std::vector<int> ia, ib;
    std::vector<float> ax, ay, aa, bx, by, ba;
    std::vector<float> lambda0, lambda, next, efficiency;
    std::vector<float> rho;  // n x stride
    std::vector<int> order;
};

// The largest positive value of v[0, n) and its first index; {0, -1} when none is positive.
struct Best {
    float value;
    int index;
};

inline Best first_max_scalar(const float* v, int n) {
    Best b{0.0f, -1};
    for (int j = 0; j < n; ++j)
        if (v[j] > b.value) b = {v[j], j};
    return b;
}

// The best free column of each listed row of the (zeroed where taken) matrix: its value and
// index go to value[row] and column[row].
void scan_rows_scalar(const float* work, int nb, const int* rows, int count, float* value, int* column) {
    for (int r = 0; r < count; ++r) {
        const Best b = first_max_scalar(work + static_cast<std::size_t>(rows[r]) * nb, nb);
        value[rows[r]] = b.value;
        column[rows[r]] = b.index;
    }
}

#ifdef AFIS_X86
// The same, eight at a time: the maximum first, then the first lane equal to it. Reads up to
// seven floats past v + n (callers pad), which are masked out.
__attribute__((target("avx2"), always_inline)) inline Best first_max_avx2(const float* v, int n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 last = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n - ((n - 1) & ~7)), lane));
    __m256 top = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 < n; j += 8) top = _mm256_max_ps(top, _mm256_loadu_ps(v + j));
    top = _mm256_max_ps(top, _mm256_and_ps(_mm256_loadu_ps(v + j), last));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(top), _mm256_extractf128_ps(top, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    const float value = _mm_cvtss_f32(m);
    if (!(value > 0)) return {0.0f, -1};
    // The maximum is positive, so masked-out lanes (zero) never equal it.
    const __m256 target = _mm256_set1_ps(value);
    for (j = 0;; j += 8) {
        __m256 hit = _mm256_cmp_ps(_mm256_loadu_ps(v + j), target, _CMP_EQ_OQ);
        if (j + 8 >= n) hit = _mm256_and_ps(hit, last);
        const int bits = _mm256_movemask_ps(hit);
        if (bits) return {value, j + __builtin_ctz(static_cast<unsigned>(bits))};
    }
}

__attribute__((target("avx2"))) void scan_rows_avx2(const float* work, int nb, const int* rows, int count, float* value,
                                                   int* column) {
    for (int r = 0; r < count; ++r) {
        const Best b = first_max_avx2(work + static_cast<std::size_t>(rows[r]) * nb, nb);
        value[rows[r]] = b.value;
        column[rows[r]] = b.index;
    }
}

__attribute__((target("avx2"))) Best best_row_avx2(const float* value, int na) { return first_max_avx2(value, na); }
#endif

// The n_R best pairs with every minutia used at most once (greedy assignment, a cheap
// stand-in for the optimal assignment of LSA-R): otherwise one distinctive minutia can fill
// the list with pairs that cannot all be right. The greedy order is descending similarity,
// ties by position (row-major). Rather than sorting every candidate (the selection reaches
// most of them: the last minutiae of the smaller template pair late), each row keeps its
// best candidate among the free columns (taken columns are zeroed in a copy of the matrix);
// the next pair is the best of those, and only the rows whose best lost its column are
// scanned again. Same pairs, same order.
int select_pairs(const std::vector<float>& local, int na, int nb, int n_relax, bool vector, Scratch& s) {
    const std::size_t size = static_cast<std::size_t>(na) * nb;
    fit(s.work, size + LANES);
    std::copy(local.begin(), local.begin() + size, s.work.begin());
    fit(s.best_column, static_cast<std::size_t>(na));
    fit(s.best_value, static_cast<std::size_t>(na) + LANES);
    fit(s.rows, static_cast<std::size_t>(na));
    float* value = s.best_value.data();
    int* column = s.best_column.data();
    int* rows = s.rows.data();
    const auto scan = [&](int count) {
#ifdef AFIS_X86
        if (vector) return scan_rows_avx2(s.work.data(), nb, rows, count, value, column);
#endif
        scan_rows_scalar(s.work.data(), nb, rows, count, value, column);
    };
    for (int i = 0; i < na; ++i) rows[i] = i;
    scan(na);
    int n = 0;
    while (n < n_relax) {
#ifdef AFIS_X86
        const Best row = vector ? best_row_avx2(value, na) : first_max_scalar(value, na);
#else
        const Best row = first_max_scalar(value, na);
#endif
        if (row.index < 0) break;
        const int ia = row.index, ib = column[ia];
        value[ia] = 0;
        column[ia] = -1;
        s.ia[n] = ia;
        s.ib[n] = ib;
        s.lambda0[n] = row.value;
        ++n;
        int count = 0;
        for (int i = 0; i < na; ++i) {
            s.work[static_cast<std::size_t>(i) * nb + ib] = 0;
            rows[count] = i;
            count += column[i] == ib;
        }
        if (count) scan(count);
    }
    return n;
}

// rho(t, k) of one pair of pairs: the plain definition, also the reference for the kernel.
inline float compatibility(const Scratch& s, int t, int k) {
    if (s.ia[t] == s.ia[k] || s.ib[t] == s.ib[k]) return 0.0f;
    const float ax = s.ax[k] - s.ax[t], ay = s.ay[k] - s.ay[t];
    const float bx = s.bx[k] - s.bx[t], by = s.by[k] - s.by[t];
    const float da = std::sqrt(ax * ax + ay * ay), db = std::sqrt(bx * bx + by * by);
    const float d1 = std::fabs(da - db);
    const float d2 = wrap_abs(wrap_pi(s.aa[t] - s.aa[k]) - wrap_pi(s.ba[t] - s.ba[k]));
    const float ra = wrap_pi(s.aa[t] - fast_atan2(ay, ax));
    const float rb = wrap_pi(s.ba[t] - fast_atan2(by, bx));
    const float d3 = wrap_abs(ra - rb);
    return rho_distance()(d1) * rho_direction()(d2) * rho_radial()(d3);
}

void compatibilities_scalar(Scratch& s, int n, int stride) {
    for (int t = 0; t < n; ++t) {
        for (int k = t + 1; k < n; ++k) {
            const float r = compatibility(s, t, k);
            s.rho[static_cast<std::size_t>(t) * stride + k] = r;
            s.rho[static_cast<std::size_t>(k) * stride + t] = r;
        }
    }
}

#ifdef AFIS_X86

// The scalar helpers above, lane by lane, with the same operations in the same order.
struct Avx2 {
    __attribute__((target("avx2"), always_inline)) static inline __m256 abs(__m256 v) {
        return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
    }
    __attribute__((target("avx2"), always_inline)) static inline __m256 wrap_pi(__m256 a) {
        const __m256 pi = _mm256_set1_ps(PI_F), minus_pi = _mm256_set1_ps(-PI_F);
        const __m256 turn = _mm256_set1_ps(2 * PI_F);
        // The first step of each loop unconditionally (lanes that need none keep their
        // value), so the branches only test for the rare second step.
        __m256 m = _mm256_cmp_ps(a, pi, _CMP_GT_OQ);
        do a = _mm256_blendv_ps(a, _mm256_sub_ps(a, turn), m);
        while (_mm256_movemask_ps(m = _mm256_cmp_ps(a, pi, _CMP_GT_OQ)));
        m = _mm256_cmp_ps(a, minus_pi, _CMP_LE_OQ);
        do a = _mm256_blendv_ps(a, _mm256_add_ps(a, turn), m);
        while (_mm256_movemask_ps(m = _mm256_cmp_ps(a, minus_pi, _CMP_LE_OQ)));
        return a;
    }
    __attribute__((target("avx2"), always_inline)) static inline __m256 atan2(__m256 y, __m256 x) {
        const __m256 zero = _mm256_setzero_ps();
        const __m256 ax = abs(x), ay = abs(y);
        const __m256 mx = _mm256_max_ps(ax, ay);  // ax > ay ? ax : ay
        const __m256 mn = _mm256_min_ps(ay, ax);  // ay < ax ? ay : ax
        const __m256 a = _mm256_div_ps(mn, mx);
        const __m256 s = _mm256_mul_ps(a, a);
        __m256 r = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(-0.0464964749f), s), _mm256_set1_ps(0.15931422f));
        r = _mm256_sub_ps(_mm256_mul_ps(r, s), _mm256_set1_ps(0.327622764f));
        r = _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(r, s), a), a);
        r = _mm256_blendv_ps(r, _mm256_sub_ps(_mm256_set1_ps(1.57079637f), r), _mm256_cmp_ps(ay, ax, _CMP_GT_OQ));
        r = _mm256_blendv_ps(r, _mm256_sub_ps(_mm256_set1_ps(PI), r), _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
        r = _mm256_blendv_ps(r, _mm256_xor_ps(r, _mm256_set1_ps(-0.0f)), _mm256_cmp_ps(y, zero, _CMP_LT_OQ));
        return _mm256_blendv_ps(r, zero, _mm256_cmp_ps(mx, zero, _CMP_EQ_OQ));
    }
    __attribute__((target("avx2"), always_inline)) static inline __m256 lookup(const SigmoidTable& t, __m256 v) {
        const __m256 size = _mm256_set1_ps(static_cast<float>(SigmoidTable::SIZE));
        const __m256 f = _mm256_div_ps(v, _mm256_set1_ps(t.step));
        const __m256 over = _mm256_cmp_ps(f, size, _CMP_GE_OQ);
        const __m256i i = _mm256_cvttps_epi32(_mm256_min_ps(f, size));
        const __m256 base = _mm256_i32gather_ps(t.values.data(), i, 4);
        const __m256 slope = _mm256_i32gather_ps(t.delta.data(), i, 4);
        const __m256 r = _mm256_add_ps(base, _mm256_mul_ps(slope, _mm256_sub_ps(f, _mm256_cvtepi32_ps(i))));
        return _mm256_blendv_ps(r, _mm256_set1_ps(t.values[SigmoidTable::SIZE]), over);
    }
};

__attribute__((target("avx2"))) void compatibilities_avx2(Scratch& s, int n, int stride) {
    const SigmoidTable &t1 = rho_distance(), &t2 = rho_direction(), &t3 = rho_radial();
    alignas(32) float out[LANES];
    for (int t = 0; t < n; ++t) {
        const __m256 atx = _mm256_set1_ps(s.ax[t]), aty = _mm256_set1_ps(s.ay[t]), ata = _mm256_set1_ps(s.aa[t]);
        const __m256 btx = _mm256_set1_ps(s.bx[t]), bty = _mm256_set1_ps(s.by[t]), bta = _mm256_set1_ps(s.ba[t]);
        const __m256i tia = _mm256_set1_epi32(s.ia[t]), tib = _mm256_set1_epi32(s.ib[t]);
        float* row = &s.rho[static_cast<std::size_t>(t) * stride];
        for (int k = t + 1; k < n; k += LANES) {
            const __m256 ax = _mm256_sub_ps(_mm256_loadu_ps(&s.ax[k]), atx);
            const __m256 ay = _mm256_sub_ps(_mm256_loadu_ps(&s.ay[k]), aty);
            const __m256 bx = _mm256_sub_ps(_mm256_loadu_ps(&s.bx[k]), btx);
            const __m256 by = _mm256_sub_ps(_mm256_loadu_ps(&s.by[k]), bty);
            const __m256 da = _mm256_sqrt_ps(_mm256_add_ps(_mm256_mul_ps(ax, ax), _mm256_mul_ps(ay, ay)));
            const __m256 db = _mm256_sqrt_ps(_mm256_add_ps(_mm256_mul_ps(bx, bx), _mm256_mul_ps(by, by)));
            const __m256 d1 = Avx2::abs(_mm256_sub_ps(da, db));
            const __m256 d2 = Avx2::abs(Avx2::wrap_pi(
                _mm256_sub_ps(Avx2::wrap_pi(_mm256_sub_ps(ata, _mm256_loadu_ps(&s.aa[k]))),
                              Avx2::wrap_pi(_mm256_sub_ps(bta, _mm256_loadu_ps(&s.ba[k]))))));
            const __m256 ra = Avx2::wrap_pi(_mm256_sub_ps(ata, Avx2::atan2(ay, ax)));
            const __m256 rb = Avx2::wrap_pi(_mm256_sub_ps(bta, Avx2::atan2(by, bx)));
            const __m256 d3 = Avx2::abs(Avx2::wrap_pi(_mm256_sub_ps(ra, rb)));
            __m256 r = _mm256_mul_ps(_mm256_mul_ps(Avx2::lookup(t1, d1), Avx2::lookup(t2, d2)), Avx2::lookup(t3, d3));
            const __m256i same = _mm256_or_si256(
                _mm256_cmpeq_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(&s.ia[k])), tia),
                _mm256_cmpeq_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(&s.ib[k])), tib));
            r = _mm256_andnot_ps(_mm256_castsi256_ps(same), r);
            _mm256_store_ps(out, r);
            const int lanes = std::min(LANES, n - k);
            std::memcpy(row + k, out, static_cast<std::size_t>(lanes) * sizeof(float));
            for (int l = 0; l < lanes; ++l) s.rho[static_cast<std::size_t>(k + l) * stride + t] = out[l];
        }
    }
}

#endif  // AFIS_X86

}  // namespace

float consolidate(const CylinderView& a, const CylinderView& b, const std::vector<float>& local,
                  AnchorPairs* anchors, ConsolidationDetail* detail) {
    const int na = a.size(), nb = b.size();
    if (na == 0 || nb == 0) return 0.0f;
    const int n_min = std::min(na, nb);
    const int n_pairs = std::min(
        n_min, mp::MIN_PAIRS + static_cast<int>(std::lround(sigmoid(static_cast<float>(n_min), mp::PAIRS_MU, mp::PAIRS_TAU) *
                                                            (mp::MAX_PAIRS - mp::MIN_PAIRS))));
    const int n_relax = n_min;

    thread_local Scratch s;
    const std::size_t padded = static_cast<std::size_t>(n_relax + LANES);
    for (auto* v : {&s.ia, &s.ib}) fit(*v, padded);
    for (auto* v : {&s.ax, &s.ay, &s.aa, &s.bx, &s.by, &s.ba, &s.lambda0, &s.lambda, &s.next, &s.efficiency})
        fit(*v, padded);
    fit(s.order, padded);

    const bool vector = simd_level() >= SimdLevel::AVX2;
    const int n = select_pairs(local, na, nb, n_relax, vector, s);
    if (anchors) anchors->count = 0;
    [[maybe_unused]] const FlushDenormals flush;
    if (n == 0) return 0.0f;

    // Geometry of the selected pairs; the padding lanes repeat a real pair (finite values,
    // never stored).
    for (int t = 0; t < n + LANES; ++t) {
        const int u = t < n ? t : n - 1;
        if (t >= n) s.ia[t] = s.ia[u], s.ib[t] = s.ib[u];
        const MatchMinutia &ma = a.minutiae[s.ia[u]], &mb = b.minutiae[s.ib[u]];
        s.ax[t] = ma.x, s.ay[t] = ma.y, s.aa[t] = ma.angle;
        s.bx[t] = mb.x, s.by[t] = mb.y, s.ba[t] = mb.angle;
    }
    // Compatibility of every two pairs (zero diagonal).
    const int stride = n + LANES;
    fit(s.rho, static_cast<std::size_t>(n) * stride);
    for (int t = 0; t < n; ++t) s.rho[static_cast<std::size_t>(t) * stride + t] = 0.0f;
#ifdef AFIS_X86
    if (vector)
        compatibilities_avx2(s, n, stride);
    else
#endif
        compatibilities_scalar(s, n, stride);

    float* lambda = s.lambda.data();
    float* next = s.next.data();
    std::copy(s.lambda0.begin(), s.lambda0.begin() + n, lambda);
    const float spread = n > 1 ? (1 - mp::RELAXATION_WEIGHT) / static_cast<float>(n_relax - 1) : 0.0f;
    for (int it = 0; it < mp::RELAXATION_ITERATIONS; ++it) {
        // Support of pair t: the sum of rho(t, k) lambda(k) in four running sums (sum j takes
        // k = j mod 4, the remainder goes to sum 0), added as (s0 + s1) + (s2 + s3): a fixed
        // order, so results are deterministic. With SSE the four sums are the lanes of one
        // register and four rows run side by side, so no row waits on its own additions.
        int t = 0;
#ifdef AFIS_X86
        for (; t + 4 <= n; t += 4) {
            const float* rows[4];
            __m128 sums[4];
            for (int r = 0; r < 4; ++r) {
                rows[r] = &s.rho[static_cast<std::size_t>(t + r) * stride];
                sums[r] = _mm_setzero_ps();
            }
            int k = 0;
            for (; k + 4 <= n; k += 4) {
                const __m128 l = _mm_loadu_ps(lambda + k);
                for (int r = 0; r < 4; ++r) sums[r] = _mm_add_ps(sums[r], _mm_mul_ps(_mm_loadu_ps(rows[r] + k), l));
            }
            for (int r = 0; r < 4; ++r) {
                alignas(16) float lane[4];
                _mm_store_ps(lane, sums[r]);
                for (int q = k; q < n; ++q) lane[0] += rows[r][q] * lambda[q];
                const float support = (lane[0] + lane[1]) + (lane[2] + lane[3]);
                next[t + r] = mp::RELAXATION_WEIGHT * lambda[t + r] + spread * support;
            }
        }
#endif
        for (; t < n; ++t) {
            const float* row = &s.rho[static_cast<std::size_t>(t) * stride];
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            int k = 0;
            for (; k + 4 <= n; k += 4) {
                s0 += row[k] * lambda[k];
                s1 += row[k + 1] * lambda[k + 1];
                s2 += row[k + 2] * lambda[k + 2];
                s3 += row[k + 3] * lambda[k + 3];
            }
            for (; k < n; ++k) s0 += row[k] * lambda[k];
            const float support = (s0 + s1) + (s2 + s3);
            next[t] = mp::RELAXATION_WEIGHT * lambda[t] + spread * support;
        }
        std::swap(lambda, next);
    }
    // The n_P pairs whose weight held up best (efficiency = relaxed / initial), ties by index.
    const int keep = std::min(n_pairs, n);
    for (int t = 0; t < n; ++t) {
        s.efficiency[t] = lambda[t] / s.lambda0[t];
        s.order[t] = t;
    }
    const float* efficiency = s.efficiency.data();
    std::partial_sort(s.order.begin(), s.order.begin() + keep, s.order.begin() + n, [efficiency](int p, int q) {
        return efficiency[p] != efficiency[q] ? efficiency[p] > efficiency[q] : p < q;
    });
    float sum = 0;
    for (int i = 0; i < keep; ++i) sum += lambda[s.order[i]];
    if (anchors) {  // the pairs whose weight held up best
        anchors->count = std::min(keep, mp::PAIRING_ANCHORS);
        for (int i = 0; i < anchors->count; ++i) {
            anchors->a[i] = s.ia[s.order[i]];
            anchors->b[i] = s.ib[s.order[i]];
        }
    }
    if (detail) {  // the pairs summed above, in the same order
        detail->divisor = n_pairs;
        for (int i = 0; i < keep; ++i) {
            const int t = s.order[i];
            detail->a.push_back(s.ia[t]);
            detail->b.push_back(s.ib[t]);
            detail->weight.push_back(lambda[t]);
            detail->similarity.push_back(s.lambda0[t]);
        }
    }
    return sum / n_pairs;
}

}  // namespace afis
