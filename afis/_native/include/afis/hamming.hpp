// The candidate index's native stages: the nearest 64-bit codes by Hamming distance over
// inverted lists (hamming_scan.cpp) and the pose-cell vote count (vote_aggregation.cpp).
// Knows nothing of Python (or of faiss: the lists are plain arrays that faiss happens to own).
#pragma once

#include <cstdint>
#include <vector>

namespace afis {

constexpr int HAMMING_BITS = 64;

// One inverted list: `size` codes and the label stored with each.
struct CodeList {
    const std::uint64_t* codes = nullptr;
    const std::int64_t* labels = nullptr;
    std::int64_t size = 0;
};

// An inverted file of 64-bit codes: the coarse centroids, one list per centroid.
struct CodeLists {
    std::vector<std::uint64_t> centroids;
    std::vector<CodeList> lists;  // as many as centroids
};

// Reused buffers of one searching thread.
struct HammingScratch {
    std::vector<std::uint8_t> distance;
    std::vector<std::int64_t> order;  // positions
    std::vector<std::int32_t> visit;  // lists
};

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

// Reused tables of one aggregating thread.
struct VoteScratch {
    struct Cell {
        std::uint64_t key = 0;
        std::uint32_t stamp = 0, row = 0;
        float last = 0;   // the row's vote in this cell so far
        double sum = 0;   // best vote of each row, summed
    };
    struct Finger {
        std::uint64_t slot = 0;
        std::uint32_t stamp = 0;
        float best = 0;
    };
    std::vector<Cell> cells;
    std::vector<Finger> fingers;
    std::vector<std::uint32_t> used_cells, used_fingers;
    std::uint32_t stamp = 0;
};

// The candidate index's vote count for one probe finger: every retrieved code (row r of
// `width` labels and votes, probe minutia geometry[r] = x, y, direction) votes for its
// finger in the pose cell (rotation, translation) that pairing the two minutiae implies, on
// two grids offset by half a cell; a finger's score is its best cell's sum of each row's best
// vote, over sqrt(codes of the finger x probe_codes). Writes at most k (score, slot) pairs,
// best first, ties by slot; returns how many.
int aggregate_votes(const float* votes, const std::int64_t* labels, std::int64_t rows, std::int64_t width,
                    const float* geometry, const std::int32_t* counts, std::int64_t n_slots, int probe_codes,
                    const VoteLayout& layout, int k, float* out_scores, std::int64_t* out_slots,
                    VoteScratch& scratch);

}  // namespace afis
