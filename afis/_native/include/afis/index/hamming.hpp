// The candidate index's native stages: the nearest 64-bit codes by Hamming distance over
// inverted lists (hamming_scan.cpp) and the pose-cell vote count (vote_aggregation.cpp).
// Knows nothing of Python (or of faiss: the lists are plain arrays that faiss happens to own).
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace afis {

constexpr int HAMMING_BITS = 64;

// One inverted list: `size` codes and the label stored with each; `label_offset` is added to
// every label read (a list of one part of a joint file numbers its fingers from there). The
// arrays may lie at any byte address: faiss's memory-mapped files place every list a few bytes
// off an 8-byte boundary, and seeing them in place (not copied) is what keeps a large gallery's
// search within its memory; every read goes through code() and label().
// An 8-byte value stored at any byte address.
inline std::uint64_t load_u64(const unsigned char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline std::int64_t load_i64(const unsigned char* p) { return static_cast<std::int64_t>(load_u64(p)); }

struct CodeList {
    const unsigned char* codes = nullptr;   // size 8-byte codes
    const unsigned char* labels = nullptr;  // size 8-byte signed labels
    std::int64_t size = 0;
    std::int64_t label_offset = 0;

    std::uint64_t code(std::int64_t i) const { return load_u64(codes + 8 * i); }
    // The stored label of code i (label_offset not added).
    std::int64_t label(std::int64_t i) const { return load_i64(labels + 8 * i); }
};

// An inverted file of 64-bit codes: the coarse centroids, and `parts` lists per centroid
// (centroid c's lists are c * parts .. c * parts + parts - 1): the lists of several files that
// share one set of centroids, scanned as one file (the segments of a people gallery).
struct CodeLists {
    std::vector<std::uint64_t> centroids;
    std::vector<CodeList> lists;  // parts x as many as centroids
    int parts = 1;
};

// Reused buffers of one searching thread.
struct HammingScratch {
    std::vector<std::uint8_t> distance;
    std::vector<std::int64_t> order;  // positions
    std::vector<std::int32_t> visit;  // lists
    std::vector<std::int64_t> sizes;  // codes scanned in each visited list
};

// No slot limit: every code of a visited list is scanned.
constexpr std::int64_t NO_SLOT_LIMIT = std::numeric_limits<std::int64_t>::max();

// Whether every list holds its codes in finger-slot order (label_offset + label, shifted
// right by slot_shift, never decreasing along a list; no negative label): then the codes of
// the slots below a limit are a prefix of each list, and a scan can stop there.
bool slot_ordered(const CodeLists& index, int slot_shift);

// The `k` stored codes nearest to `query` among the lists of its `nprobe` nearest centroids
// (centroid ties: the lower number first), nearest first, ties in list order; writes `k`
// distances and labels, padded with HAMMING_BITS + 1 and -1 where the lists hold fewer.
void hamming_nearest(const CodeLists& index, std::uint64_t query, int nprobe, int k,
                     std::int32_t* distances, std::int64_t* labels, HammingScratch& scratch);

}  // namespace afis

namespace afis {

// How a stored code's label packs its finger (slot) and its minutia's pose, and the pose
// cells votes gather in (see afis/index/candidate.py, which owns these numbers).
struct VoteLayout {
    int slot_shift = 28, x_shift = 18, y_shift = 8;
    std::int64_t coord_mask = 1023, angle_mask = 255;
    float coord_step = 4.0f;     // pixels per coordinate level
    float angle_step = 0.0f;     // radians per angle level
    float max_rotation = 0.0f;   // radians; votes implying more rotation are dropped
    float rotation_bin = 0.0f;   // radians
    float translation_bin = 0.0f;  // pixels
};

// One retrieved code's vote: the stored code's label (finger slot and minutia pose, see
// VoteLayout), its vote and the probe code (row) it answered.
struct Vote {
    std::int64_t label = 0;
    float vote = 0;
    std::uint32_t row = 0;
};

// Reused buffers of one counting thread.
struct VoteScratch {
    struct CellVote {
        std::uint64_t cell = 0;  // pose cell and grid
        std::uint32_t row = 0;
        float vote = 0;
    };
    struct Scored {
        float score = 0;
        std::int64_t slot = 0;
    };
    std::vector<Vote> sorted;  // the radix sort's other buffer
    std::vector<CellVote> cells;
    std::vector<Scored> fingers;
};

// The vote count of one probe finger: groups `votes` by finger (a stable radix sort on the
// slot; `votes` is reordered), puts each finger's votes in pose cells (two grids offset by half
// a cell), sums each probe code's best vote per cell, scores the finger by its best cell over
// sqrt(its codes x probe_codes), and writes the k best fingers (ties: the lower slot first, or
// the lower of `tie_ids[slot]` when given).
// A finger whose count is not above 0 is left out (removed, or tombstoned by the caller).
// Every vote's slot must be below n_slots and its row index geometry (rows x 3: x, y,
// direction of the probe code's minutia). Returns how many fingers it wrote.
int count_votes(std::vector<Vote>& votes, const float* geometry, const std::int32_t* counts, std::int64_t n_slots,
                int probe_codes, const VoteLayout& layout, int k, float* out_scores, std::int64_t* out_slots,
                VoteScratch& scratch, const std::int64_t* tie_ids = nullptr);

// count_votes over a probe finger's rows x width retrieved labels and their votes (labels
// below 0, slots not below n_slots and votes not above 0 are skipped).
int aggregate_votes(const float* votes, const std::int64_t* labels, std::int64_t rows, std::int64_t width,
                    const float* geometry, const std::int32_t* counts, std::int64_t n_slots, int probe_codes,
                    const VoteLayout& layout, int k, float* out_scores, std::int64_t* out_slots,
                    VoteScratch& scratch);

// Rank votes (afis.index.candidate._rank_votes): a code retrieved among the `neighbours`
// nearest votes log(C / r) / log(C) - floor, at least 0, where r counts the retrieved codes
// as near or nearer (ties to their end) and C = max(compared, neighbours, 2).
struct RankVotes {
    double compared = 0;
    double floor = 0;
};

// The scan of hamming_nearest with k = neighbours, its codes' rank votes appended to `out`
// (row = `row`; codes whose label is negative, whose slot (label >> slot_shift) is not below
// n_slots or whose vote is 0 are left out) instead of being sorted.
void code_votes(const CodeLists& index, std::uint64_t query, int nprobe, int neighbours, const RankVotes& rank,
                std::uint32_t row, std::int64_t n_slots, int slot_shift, std::vector<Vote>& out,
                HammingScratch& scratch);

// The joint search (several files' lists scanned as one, or the parts of a sharded gallery,
// each scanning its own lists, voting as one file would): a code votes by the rank of its
// distance among every code scanned, all codes at the cut distance included, so that the
// parts need only share each probe code's distance histogram.
//
// code_histogram: how many of the codes in the lists of the query's nprobe nearest centroids
// lie at each distance 0..HAMMING_BITS (out: HAMMING_BITS + 1 counts).
void code_histogram(const CodeLists& index, std::uint64_t query, int nprobe, std::int64_t* out,
                    HammingScratch& scratch);

// The vote of each distance (out: HAMMING_BITS + 1) from a (summed) histogram: the nearest
// distances up to the first whose codes, with all nearer, reach `neighbours` (the cut) vote
// log(C / r) / log(C) - floor, at least 0, where r counts the codes at that distance or
// nearer and C = max(codes scanned, neighbours, 2); farther distances vote 0.
void vote_table(const std::int64_t* histogram, int neighbours, double floor, float* out);
// vote_table of a histogram that counts only the distances up to the cut (or more), `total`
// being the number of codes scanned.
void vote_table_of(const std::int64_t* histogram, std::int64_t total, int neighbours, double floor, float* out);

// The votes of every code of the scan whose distance votes in `table` (HAMMING_BITS + 1
// votes; nullptr: this file's own vote_table of its own histogram), appended to `out` as
// code_votes appends them.
//
// `slot_limit` (only for lists in slot order, see slot_ordered) scans only the codes of the slots
// below it, as if the file held nothing else: the histogram, the cut and the votes are those of
// that prefix of each list.
void table_votes(const CodeLists& index, std::uint64_t query, int nprobe, int neighbours, double floor,
                 const float* table, std::uint32_t row, std::int64_t n_slots, int slot_shift, std::vector<Vote>& out,
                 HammingScratch& scratch, std::int64_t slot_limit = NO_SLOT_LIMIT);

}  // namespace afis
