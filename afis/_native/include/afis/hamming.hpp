// Nearest 64-bit codes by Hamming distance over inverted lists: the candidate index's scan.
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
