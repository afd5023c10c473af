// The candidate index's scan: the k stored 64-bit codes nearest to a probe code in the lists
// of its nprobe nearest centroids.
//
// faiss's binary IVF search (the faiss-cpu wheel) takes about 1.9 ns per stored code on the
// development machine, heap or no heap (k = 1 costs the same as k = 128), and a probe finger
// visits about 8.5 million codes at 10^6 fingers. Distances take at most 64 values, so no heap
// is needed: one pass writes each distance as a byte (eight codes per instruction with
// AVX-512 VPOPCNTDQ, chosen at run time); counting the bytes at most t (32 per AVX2
// comparison) in a binary search over t finds the distance of the k-th nearest; one more pass
// picks out the positions at most that far, and a counting sort orders them by distance, ties
// in list order. About 2.4 times faster than faiss at 10^6 (benchmarks/INDEX.md).
#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "afis/common/simd.hpp"
#include "afis/common/x86.hpp"
#include "afis/index/hamming.hpp"

#pragma GCC diagnostic ignored "-Wpsabi"  // 32-byte vectors passed by value, always inlined

namespace afis {

namespace {

constexpr int LEVELS = HAMMING_BITS + 1;  // distances 0..64

// The codes are read at any byte address (see CodeList).
inline std::uint64_t code_at(const unsigned char* codes, std::int64_t i) { return load_u64(codes + 8 * i); }

AFIS_PLAIN void distances_plain(const unsigned char* codes, std::int64_t n, std::uint64_t query,
                                std::uint8_t* out) {
    for (std::int64_t i = 0; i < n; ++i)
        out[i] = static_cast<std::uint8_t>(__builtin_popcountll(code_at(codes, i) ^ query));
}

#ifdef AFIS_X86
__attribute__((target("popcnt,avx2,avx512f,avx512vpopcntdq"))) void distances_avx512(
    const unsigned char* codes, std::int64_t n, std::uint64_t query, std::uint8_t* out) {
    const __m512i q = _mm512_set1_epi64(static_cast<long long>(query));
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m512i c = _mm512_loadu_si512(static_cast<const void*>(codes + 8 * i));
        const __m512i d = _mm512_popcnt_epi64(_mm512_xor_si512(c, q));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i),
                         _mm512_mask_cvtepi64_epi8(_mm_setzero_si128(), 0xFF, d));
    }
    for (; i < n; ++i) out[i] = static_cast<std::uint8_t>(__builtin_popcountll(code_at(codes, i) ^ query));
}
#endif

#ifdef AFIS_X86
// The Hamming weight of each 64-bit lane of x (0..64 in each lane): nibble look-ups (Mula's
// popcount) summed per lane by SAD.
__attribute__((target("avx2"))) inline __m256i lane_weights(__m256i x) {
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3,
                                           1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i lo = _mm256_shuffle_epi8(table, _mm256_and_si256(x, nibble));
    const __m256i hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble));
    return _mm256_sad_epu8(_mm256_add_epi8(lo, hi), _mm256_setzero_si256());
}

__attribute__((target("avx2"))) inline __m256i xor_at(const unsigned char* codes, __m256i q) {
    return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes)), q);
}

// Sixteen codes a step: four vectors of lane weights merged into bytes and put back in code
// order by one shuffle and one unpack. About twice the scalar POPCNT loop's rate, whose byte
// stores limit it.
__attribute__((target("popcnt,avx2"))) void distances_avx2(const unsigned char* codes, std::int64_t n,
                                                           std::uint64_t query, std::uint8_t* out) {
    const __m256i q = _mm256_set1_epi64x(static_cast<long long>(query));
    // lane j of the merged vector holds codes j, 4 + j, 8 + j, 12 + j in its bytes 0..3
    const __m256i order = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, -1, -1, -1, -1, -1, -1, -1, -1, 0, 8, 1, 9, 2,
                                           10, 3, 11, -1, -1, -1, -1, -1, -1, -1, -1);
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const unsigned char* at = codes + 8 * i;
        __m256i merged = lane_weights(xor_at(at, q));
        merged = _mm256_or_si256(merged, _mm256_slli_epi64(lane_weights(xor_at(at + 32, q)), 8));
        merged = _mm256_or_si256(merged, _mm256_slli_epi64(lane_weights(xor_at(at + 64, q)), 16));
        merged = _mm256_or_si256(merged, _mm256_slli_epi64(lane_weights(xor_at(at + 96, q)), 24));
        const __m256i pairs = _mm256_shuffle_epi8(merged, order);
        const __m128i bytes =
            _mm_unpacklo_epi16(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), bytes);
    }
    for (; i < n; ++i) out[i] = static_cast<std::uint8_t>(__builtin_popcountll(code_at(codes, i) ^ query));
}
#endif

void distances(const unsigned char* codes, std::int64_t n, std::uint64_t query, std::uint8_t* out) {
#ifdef AFIS_X86
    if (simd_level() == SimdLevel::AVX512) return distances_avx512(codes, n, query, out);
    if (simd_level() == SimdLevel::AVX2) return distances_avx2(codes, n, query, out);
#endif
    distances_plain(codes, n, query, out);
}

// How many of the n bytes are at most t.
AFIS_PLAIN std::int64_t count_at_most_plain(const std::uint8_t* d, std::int64_t n, int t) {
    std::int64_t c = 0;
    for (std::int64_t i = 0; i < n; ++i) c += d[i] <= t;
    return c;
}

#ifdef AFIS_X86
__attribute__((target("popcnt,avx2"))) std::int64_t count_at_most_avx2(const std::uint8_t* d, std::int64_t n,
                                                                      int t) {
    // distances are at most 64, so signed byte comparisons are exact
    const __m256i limit = _mm256_set1_epi8(static_cast<char>(t + 1));
    std::int64_t c = 0, i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i));
        c += __builtin_popcount(static_cast<unsigned>(_mm256_movemask_epi8(_mm256_cmpgt_epi8(limit, v))));
    }
    for (; i < n; ++i) c += d[i] <= t;
    return c;
}
#endif

std::int64_t count_at_most(const std::uint8_t* d, std::int64_t n, int t) {
#ifdef AFIS_X86
    if (simd_level() != SimdLevel::SCALAR) return count_at_most_avx2(d, n, t);
#endif
    return count_at_most_plain(d, n, t);
}

// The smallest distance t with at least `want` (> 0, <= n) bytes at most t, and how many
// bytes lie strictly below it.
std::pair<int, std::int64_t> cut_for(const std::uint8_t* d, std::int64_t n, std::int64_t want) {
    if (simd_level() == SimdLevel::SCALAR) {  // one pass of a histogram beats seven of counting
        std::array<std::int64_t, LEVELS> counts{};
        for (std::int64_t i = 0; i < n; ++i) ++counts[d[i]];
        std::int64_t below = 0;
        for (int v = 0; v < HAMMING_BITS; ++v) {
            if (below + counts[v] >= want) return {v, below};
            below += counts[v];
        }
        return {HAMMING_BITS, below};
    }
    // a guess from every 16th byte, then counting passes outwards from it: usually two
    // passes instead of the seven of a binary search
    int t = HAMMING_BITS;
    if (n >= 1024) {
        std::array<std::int64_t, LEVELS> sample{};
        for (std::int64_t i = 0; i < n; i += 16) ++sample[d[i]];
        const std::int64_t goal = (want + 15) / 16;
        std::int64_t seen = 0;
        for (t = 0; t < HAMMING_BITS; ++t)
            if ((seen += sample[static_cast<std::size_t>(t)]) >= goal) break;
    }
    std::int64_t at = count_at_most(d, n, t);
    while (at < want) at = count_at_most(d, n, ++t);  // t = 64 counts all n >= want
    std::int64_t below = t == 0 ? 0 : count_at_most(d, n, t - 1);
    while (t > 0 && below >= want) {
        --t;
        below = t == 0 ? 0 : count_at_most(d, n, t - 1);
    }
    return {t, below};
}

// The positions (in order) of the bytes below t and of the first `room` bytes equal to t:
// the `want` nearest when t and room come from cut_for. Written to `out` (sized to want).
AFIS_PLAIN std::int64_t nearest_positions_plain(const std::uint8_t* d, std::int64_t from, std::int64_t n, int t,
                                                std::int64_t room, std::int64_t* out) {
    std::int64_t m = 0;
    for (std::int64_t i = from; i < n; ++i)
        if (d[i] < t || (d[i] == t && room-- > 0)) out[m++] = i;
    return m;
}

#ifdef AFIS_X86
__attribute__((target("popcnt,avx2,bmi"))) std::int64_t nearest_positions_avx2(const std::uint8_t* d, std::int64_t n,
                                                                             int t, std::int64_t& room,
                                                                             std::int64_t* out, std::int64_t& i) {
    const __m256i cut = _mm256_set1_epi8(static_cast<char>(t));
    std::int64_t m = 0;
    for (i = 0; i + 32 <= n; i += 32) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i));
        auto below = static_cast<unsigned>(_mm256_movemask_epi8(_mm256_cmpgt_epi8(cut, v)));
        auto at = static_cast<unsigned>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(cut, v)));
        for (; at && room > 0; --room) {  // the cut's ties, while there is room
            below |= at & (~at + 1);
            at &= at - 1;
        }
        for (; below; below &= below - 1) out[m++] = i + __builtin_ctz(below);
    }
    return m;
}
#endif

void nearest_positions(const std::uint8_t* d, std::int64_t n, int t, std::int64_t room, std::int64_t want,
                       std::vector<std::int64_t>& out) {
    out.resize(static_cast<std::size_t>(want));
    std::int64_t m = 0, from = 0;
#ifdef AFIS_X86
    if (simd_level() != SimdLevel::SCALAR) m = nearest_positions_avx2(d, n, t, room, out.data(), from);
#endif
    m += nearest_positions_plain(d, from, n, t, room, out.data() + m);
    out.resize(static_cast<std::size_t>(m));
}

}  // namespace

namespace {

// How many of a list's codes belong to the slots below `slot_limit` (a list in slot order:
// they are its prefix).
std::int64_t prefix_below(const CodeList& list, std::int64_t slot_limit, int slot_shift) {
    if (slot_limit == NO_SLOT_LIMIT) return list.size;
    std::int64_t lo = 0, hi = list.size;  // the first code of a slot at or above the limit
    while (lo < hi) {
        const std::int64_t mid = lo + (hi - lo) / 2;
        if (((list.label(mid) + list.label_offset) >> slot_shift) < slot_limit)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

// The distance (as a byte, in scan order) of every code in the lists of the query's nprobe
// nearest centroids (ties: the lower number first), visited in number order and, for a joint
// file, part by part: the visited lists in `visit`, the codes scanned in each in `sizes` (all,
// or the prefix of the slots below `slot_limit`), the distances in `distance`. Returns how
// many codes were scanned.
std::int64_t scan_distances(const CodeLists& index, std::uint64_t query, int nprobe, HammingScratch& scratch,
                            std::int64_t slot_limit = NO_SLOT_LIMIT, int slot_shift = 0) {
    const auto nlist = static_cast<std::int64_t>(index.centroids.size());
    scratch.visit.clear();
    scratch.order.clear();
    scratch.sizes.clear();
    if (nprobe <= 0 || nlist == 0) return 0;

    scratch.distance.resize(static_cast<std::size_t>(nlist));
    std::uint8_t* d = scratch.distance.data();
    distances(reinterpret_cast<const unsigned char*>(index.centroids.data()), nlist, query, d);
    const std::int64_t lists = std::min<std::int64_t>(nprobe, nlist);
    auto [list_cut, lists_below] = cut_for(d, nlist, lists);
    nearest_positions(d, nlist, list_cut, lists - lists_below, lists, scratch.order);
    std::vector<std::int32_t>& visit = scratch.visit;
    const std::int64_t parts = std::max(index.parts, 1);
    for (const std::int64_t l : scratch.order)
        for (std::int64_t p = 0; p < parts; ++p) visit.push_back(static_cast<std::int32_t>(l * parts + p));
    scratch.order.clear();

    // one pass: the distance of every code in those lists, as bytes
    std::int64_t total = 0;
    for (const std::int32_t l : visit) {
        scratch.sizes.push_back(prefix_below(index.lists[static_cast<std::size_t>(l)], slot_limit, slot_shift));
        total += scratch.sizes.back();
    }
    scratch.distance.resize(static_cast<std::size_t>(total));
    d = scratch.distance.data();
    std::int64_t at = 0;
    for (std::size_t v = 0; v < visit.size(); ++v) {
        distances(index.lists[static_cast<std::size_t>(visit[v])].codes, scratch.sizes[v], query, d + at);
        at += scratch.sizes[v];
    }
    return total;
}

// What one scan leaves in the scratch: the visited lists (`visit`), every visited code's
// distance (`distance`, in scan order) and the positions of the `want` nearest (`order`, in
// scan order: all those below the cut, then ties at it in scan order).
struct Scan {
    int cut = 0;
    std::int64_t want = 0;
};

Scan scan(const CodeLists& index, std::uint64_t query, int nprobe, int k, HammingScratch& scratch) {
    if (k <= 0) {
        scratch.visit.clear();
        scratch.order.clear();
        scratch.sizes.clear();
        return {};
    }
    const std::int64_t total = scan_distances(index, query, nprobe, scratch);
    if (total == 0) return {};
    // the distance of the k-th nearest, and the positions of the k nearest
    const std::uint8_t* d = scratch.distance.data();
    const std::int64_t want = std::min<std::int64_t>(k, total);
    auto [cut, below] = cut_for(d, total, want);
    nearest_positions(d, total, cut, want - below, want, scratch.order);
    return {cut, want};
}

// How many of the scanned codes lie at each distance (LEVELS counts).
void histogram_of(const std::uint8_t* d, std::int64_t n, std::int64_t* out) {
    std::array<std::array<std::int64_t, LEVELS>, 4> part{};  // four, against store-to-load stalls
    std::int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        ++part[0][d[i]];
        ++part[1][d[i + 1]];
        ++part[2][d[i + 2]];
        ++part[3][d[i + 3]];
    }
    for (; i < n; ++i) ++part[0][d[i]];
    for (int v = 0; v < LEVELS; ++v)
        out[v] = part[0][static_cast<std::size_t>(v)] + part[1][static_cast<std::size_t>(v)] +
                 part[2][static_cast<std::size_t>(v)] + part[3][static_cast<std::size_t>(v)];
}

// Calls f(distance, label) for the scan's nearest codes in scan order. Their labels lie
// scattered over lists far larger than the caches (a miss each): a block of them is located
// and prefetched before any is read.
template <typename F>
void for_nearest(const CodeLists& index, HammingScratch& scratch, F&& f) {
    constexpr std::size_t BLOCK = 32;
    std::array<const unsigned char*, BLOCK> where{};
    std::array<std::int64_t, BLOCK> offset{};
    const std::uint8_t* d = scratch.distance.data();
    const std::vector<std::int64_t>& order = scratch.order;
    std::size_t list = 0;  // the list holding the current position, and where it starts
    std::int64_t list_start = 0;
    for (std::size_t first = 0; first < order.size(); first += BLOCK) {
        const std::size_t n = std::min(BLOCK, order.size() - first);
        for (std::size_t j = 0; j < n; ++j) {
            const std::int64_t i = order[first + j];
            while (i >= list_start + scratch.sizes[list]) list_start += scratch.sizes[list++];
            const CodeList& held = index.lists[static_cast<std::size_t>(scratch.visit[list])];
            where[j] = held.labels + 8 * (i - list_start);
            offset[j] = held.label_offset;
            __builtin_prefetch(where[j]);
        }
        for (std::size_t j = 0; j < n; ++j) f(static_cast<int>(d[order[first + j]]), load_i64(where[j]) + offset[j]);
    }
}

}  // namespace

void hamming_nearest(const CodeLists& index, std::uint64_t query, int nprobe, int k,
                     std::int32_t* out_distances, std::int64_t* out_labels, HammingScratch& scratch) {
    for (int i = 0; i < k; ++i) {
        out_distances[i] = HAMMING_BITS + 1;
        out_labels[i] = -1;
    }
    const Scan found = scan(index, query, nprobe, k, scratch);
    if (found.want == 0) return;
    // a counting sort by distance, stable (ties in scan order)
    std::array<std::int64_t, LEVELS> start{};
    const std::uint8_t* d = scratch.distance.data();
    for (const std::int64_t i : scratch.order) ++start[d[i]];
    std::int64_t sum = 0;
    for (int v = 0; v < LEVELS; ++v) sum += std::exchange(start[static_cast<std::size_t>(v)], sum);
    for_nearest(index, scratch, [&](int v, std::int64_t label) {
        const std::int64_t slot = start[static_cast<std::size_t>(v)]++;
        out_distances[slot] = v;
        out_labels[slot] = label;
    });
}

void code_votes(const CodeLists& index, std::uint64_t query, int nprobe, int neighbours, const RankVotes& rank,
                std::uint32_t row, std::int64_t n_slots, int slot_shift, std::vector<Vote>& out,
                HammingScratch& scratch) {
    const Scan found = scan(index, query, nprobe, neighbours, scratch);
    if (found.want == 0) return;
    // r of each distance: the retrieved codes as near or nearer; the cut's tie group, cut at
    // `want`, ends at want
    std::array<std::int64_t, LEVELS> at_most{};
    const std::uint8_t* d = scratch.distance.data();
    for (const std::int64_t i : scratch.order) ++at_most[d[i]];
    const double compared = std::max({rank.compared, static_cast<double>(neighbours), 2.0});
    const double log_compared = std::log(compared);
    std::array<float, LEVELS> vote{};
    std::int64_t r = 0;
    for (int v = 0; v < LEVELS; ++v) {
        r += at_most[static_cast<std::size_t>(v)];
        const double rv = v == found.cut ? static_cast<double>(found.want) : static_cast<double>(r);
        if (rv > 0) vote[static_cast<std::size_t>(v)] = static_cast<float>(
            std::max(std::log(compared / rv) / log_compared - rank.floor, 0.0));
    }
    for_nearest(index, scratch, [&](int v, std::int64_t label) {
        const float w = vote[static_cast<std::size_t>(v)];
        if (label < 0 || (label >> slot_shift) >= n_slots || !(w > 0)) return;
        out.push_back({label, w, row});
    });
}

void code_histogram(const CodeLists& index, std::uint64_t query, int nprobe, std::int64_t* out,
                    HammingScratch& scratch) {
    const std::int64_t total = scan_distances(index, query, nprobe, scratch);
    histogram_of(scratch.distance.data(), total, out);
}

void vote_table(const std::int64_t* histogram, int neighbours, double floor, float* out) {
    std::int64_t total = 0;
    for (int v = 0; v < LEVELS; ++v) total += histogram[v];
    vote_table_of(histogram, total, neighbours, floor, out);
}

void vote_table_of(const std::int64_t* histogram, std::int64_t total, int neighbours, double floor, float* out) {
    for (int v = 0; v < LEVELS; ++v) out[v] = 0.0f;
    const std::int64_t want = std::min<std::int64_t>(std::max(neighbours, 0), total);
    if (want <= 0) return;
    const double compared = std::max({static_cast<double>(total), static_cast<double>(neighbours), 2.0});
    const double log_compared = std::log(compared);
    std::int64_t r = 0;
    for (int v = 0; v < LEVELS && r < want; ++v) {  // up to the cut: the first distance reaching want
        r += histogram[v];
        if (r > 0) out[v] = static_cast<float>(std::max(std::log(compared / static_cast<double>(r)) / log_compared - floor, 0.0));
    }
}

bool slot_ordered(const CodeLists& index, int slot_shift) {
    for (const CodeList& list : index.lists) {
        std::int64_t last = 0;
        for (std::int64_t i = 0; i < list.size; ++i) {
            const std::int64_t label = list.label(i);
            if (label < 0) return false;
            const std::int64_t slot = (label + list.label_offset) >> slot_shift;
            if (slot < last) return false;
            last = slot;
        }
    }
    return true;
}

void table_votes(const CodeLists& index, std::uint64_t query, int nprobe, int neighbours, double floor,
                 const float* table, std::uint32_t row, std::int64_t n_slots, int slot_shift, std::vector<Vote>& out,
                 HammingScratch& scratch, std::int64_t slot_limit) {
    const std::int64_t total = scan_distances(index, query, nprobe, scratch, slot_limit, slot_shift);
    if (total == 0) return;
    const std::uint8_t* d = scratch.distance.data();
    if (table == nullptr) {
        // this file's own votes: only the distances up to the one reaching `neighbours` vote,
        // so only the codes that near are counted by distance (not every scanned code); the
        // votes are exactly vote_table's of the whole histogram
        const std::int64_t want = std::min<std::int64_t>(std::max(neighbours, 0), total);
        if (want <= 0) return;
        const int reach = cut_for(d, total, want).first;
        nearest_positions(d, total, reach + 1, 0, count_at_most(d, total, reach), scratch.order);
        std::array<std::int64_t, LEVELS> histogram{};
        for (const std::int64_t i : scratch.order) ++histogram[d[i]];
        std::array<float, LEVELS> own{};
        vote_table_of(histogram.data(), total, neighbours, floor, own.data());
        for_nearest(index, scratch, [&](int v, std::int64_t label) {
            const float w = own[static_cast<std::size_t>(v)];
            if (label < 0 || (label >> slot_shift) >= n_slots || !(w > 0)) return;
            out.push_back({label, w, row});
        });
        return;
    }
    int cut = -1;  // the farthest distance that votes
    for (int v = 0; v < LEVELS; ++v)
        if (table[v] > 0) cut = v;
    if (cut < 0) return;
    const std::int64_t want = count_at_most(d, total, cut);
    nearest_positions(d, total, cut + 1, 0, want, scratch.order);
    for_nearest(index, scratch, [&](int v, std::int64_t label) {
        const float w = table[v];
        if (label < 0 || (label >> slot_shift) >= n_slots || !(w > 0)) return;
        out.push_back({label, w, row});
    });
}

}  // namespace afis
