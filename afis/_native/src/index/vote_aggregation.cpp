// The candidate index's vote count (see count_votes in hamming.hpp).
//
// Written natively because deeper retrieval needs it: at 10^6 fingers, 5,000 neighbours per
// probe code give 200,000 votes per probe finger. The votes are grouped by finger with a
// stable radix sort on the slot (two passes of 11 bits at 10^6 fingers, sequential memory
// traffic), then each finger's few votes are put in pose cells and summed in a small sorted
// buffer. The first version kept one open-addressing table of pose cells for all fingers,
// 32 MB at that depth, and spent most of its time in cache misses (benchmarks/INDEX.md).
#include <algorithm>
#include <array>
#include <cmath>

#include "afis/index/hamming.hpp"

namespace afis {

namespace {

constexpr float PI_F = 3.14159265358979323846f;
constexpr float TWO_PI_F = 2.0f * PI_F;
constexpr int RADIX_BITS = 11;
constexpr std::int64_t RADIX = std::int64_t{1} << RADIX_BITS;

std::int64_t clip(std::int64_t v, std::int64_t lo, std::int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// The rotation from a probe direction to a stored one, in [-pi, pi): fmod's result without
// its call where both directions lie within [0, 2 pi), as they do.
inline float turn_of(float ga, float pa) {
    float x = ga - pa + PI_F;
    if (x >= 0.0f && x < 2.0f * TWO_PI_F) {
        if (x >= TWO_PI_F) x -= TWO_PI_F;  // exact (Sterbenz)
    } else {
        x = std::fmod(x, TWO_PI_F);
        if (x < 0) x += TWO_PI_F;
    }
    return x - PI_F;
}

// Stable sort of `votes` by slot; returns the buffer that holds the sorted votes.
std::vector<Vote>& by_slot(std::vector<Vote>& votes, std::int64_t n_slots, int slot_shift, std::vector<Vote>& other) {
    int bits = 0;
    while (bits < 62 && (std::int64_t{1} << bits) < n_slots) ++bits;
    other.resize(votes.size());
    std::vector<Vote>* src = &votes;
    std::vector<Vote>* dst = &other;
    std::array<std::int64_t, RADIX + 1> start{};
    for (int shift = 0; shift < bits; shift += RADIX_BITS) {
        start.fill(0);
        for (const Vote& v : *src) ++start[static_cast<std::size_t>(((v.label >> slot_shift) >> shift) & (RADIX - 1)) + 1];
        for (std::int64_t b = 0; b < RADIX; ++b) start[static_cast<std::size_t>(b + 1)] += start[static_cast<std::size_t>(b)];
        for (const Vote& v : *src)
            (*dst)[static_cast<std::size_t>(start[static_cast<std::size_t>(((v.label >> slot_shift) >> shift) & (RADIX - 1))]++)] = v;
        std::swap(src, dst);
    }
    return *src;
}

// The best pose cell's sum of one finger's votes [first, last): each probe code (row) counts
// its best vote per cell. Negative when no vote lies within the rotation limit.
float best_cell(const Vote* first, const Vote* last, const float* geometry, const VoteLayout& p,
                std::vector<VoteScratch::CellVote>& cells) {
    if (last - first == 1) {  // most fingers: one vote, alone in its cells if its turn is allowed
        const float pa = geometry[3 * static_cast<std::size_t>(first->row) + 2];
        const float ga = static_cast<float>(first->label & p.angle_mask) * p.angle_step;
        return std::fabs(turn_of(ga, pa)) <= p.max_rotation ? first->vote : -1.0f;
    }
    cells.clear();
    for (const Vote* v = first; v != last; ++v) {
        const float* g = geometry + 3 * static_cast<std::size_t>(v->row);
        const float px = g[0], py = g[1], pa = g[2];
        const std::int64_t label = v->label;
        const float gx = static_cast<float>((label >> p.x_shift) & p.coord_mask) * p.coord_step;
        const float gy = static_cast<float>((label >> p.y_shift) & p.coord_mask) * p.coord_step;
        const float ga = static_cast<float>(label & p.angle_mask) * p.angle_step;
        const float turn = turn_of(ga, pa);
        if (!(std::fabs(turn) <= p.max_rotation)) continue;
        const float c = std::cos(turn), sn = std::sin(turn);
        const float tx = gx - (c * px + sn * py);
        const float ty = gy - (-sn * px + c * py);
        for (int shift = 0; shift < 2; ++shift) {
            const float h = 0.5f * static_cast<float>(shift);
            const std::int64_t rb = clip(static_cast<std::int64_t>(std::floor(turn / p.rotation_bin + h)) + 64, 0, 127);
            const std::int64_t xb = clip(static_cast<std::int64_t>(std::floor(tx / p.translation_bin + h)) + 512, 0, 1023);
            const std::int64_t yb = clip(static_cast<std::int64_t>(std::floor(ty / p.translation_bin + h)) + 512, 0, 1023);
            const auto cell = (static_cast<std::uint64_t>((rb << 20) | (xb << 10) | yb) << 1) | static_cast<std::uint64_t>(shift);
            cells.push_back({cell, v->row, v->vote});
        }
    }
    if (cells.empty()) return -1.0f;
    std::sort(cells.begin(), cells.end(), [](const VoteScratch::CellVote& a, const VoteScratch::CellVote& b) {
        if (a.cell != b.cell) return a.cell < b.cell;
        if (a.row != b.row) return a.row < b.row;
        return a.vote > b.vote;
    });
    float best = 0.0f;
    double sum = 0.0;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const bool new_cell = i == 0 || cells[i].cell != cells[i - 1].cell;
        if (new_cell) sum = 0.0;
        if (new_cell || cells[i].row != cells[i - 1].row) sum += cells[i].vote;  // the row's best
        if (i + 1 == cells.size() || cells[i + 1].cell != cells[i].cell) best = std::max(best, static_cast<float>(sum));
    }
    return best;
}

}  // namespace

int count_votes(std::vector<Vote>& votes, const float* geometry, const std::int32_t* counts, std::int64_t n_slots,
                int probe_codes, const VoteLayout& p, int k, float* out_scores, std::int64_t* out_slots,
                VoteScratch& s, const std::int64_t* tie_ids) {
    if (k <= 0 || votes.empty()) return 0;
    const std::vector<Vote>& sorted = by_slot(votes, n_slots, p.slot_shift, s.sorted);
    s.fingers.clear();
    const Vote* data = sorted.data();
    const std::size_t n = sorted.size();
    for (std::size_t i = 0; i < n;) {
        const std::int64_t slot = data[i].label >> p.slot_shift;
        std::size_t j = i + 1;
        while (j < n && (data[j].label >> p.slot_shift) == slot) ++j;
        // a finger counted with no codes (removed, or tombstoned by the caller) takes no place
        float best = counts[slot] > 0 ? best_cell(data + i, data + j, geometry, p, s.cells) : -1.0f;
        if (best >= 0.0f) {
            const float codes = static_cast<float>(counts[slot]);
            best /= std::sqrt(codes * static_cast<float>(probe_codes));
            s.fingers.push_back({best, slot});
        }
        i = j;
    }
    const auto better = [tie_ids](const VoteScratch::Scored& a, const VoteScratch::Scored& b) {
        if (a.score != b.score) return a.score > b.score;
        return tie_ids ? tie_ids[a.slot] < tie_ids[b.slot] : a.slot < b.slot;
    };
    const std::size_t keep = std::min<std::size_t>(static_cast<std::size_t>(k), s.fingers.size());
    const auto kept = s.fingers.begin() + static_cast<std::ptrdiff_t>(keep);
    if (keep < s.fingers.size()) std::nth_element(s.fingers.begin(), kept, s.fingers.end(), better);
    std::sort(s.fingers.begin(), kept, better);
    for (std::size_t i = 0; i < keep; ++i) {
        out_scores[i] = s.fingers[i].score;
        out_slots[i] = s.fingers[i].slot;
    }
    return static_cast<int>(keep);
}

int aggregate_votes(const float* votes, const std::int64_t* labels, std::int64_t rows, std::int64_t width,
                    const float* geometry, const std::int32_t* counts, std::int64_t n_slots, int probe_codes,
                    const VoteLayout& p, int k, float* out_scores, std::int64_t* out_slots, VoteScratch& s) {
    if (k <= 0 || rows <= 0 || width <= 0) return 0;
    std::vector<Vote> list;
    list.reserve(static_cast<std::size_t>(rows * width));
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t j = 0; j < width; ++j) {
            const std::int64_t label = labels[r * width + j];
            const float vote = votes[r * width + j];
            if (label < 0 || !(vote > 0) || (label >> p.slot_shift) >= n_slots) continue;
            list.push_back({label, vote, static_cast<std::uint32_t>(r)});
        }
    return count_votes(list, geometry, counts, n_slots, probe_codes, p, k, out_scores, out_slots, s);
}

}  // namespace afis
