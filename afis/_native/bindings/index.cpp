// Bindings of the candidate index: the Hamming scan over inverted lists that faiss owns, seen in
// place, and the pose-cell vote count.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "afis/common/parallel.hpp"
#include "afis/index/hamming.hpp"
#include "common.hpp"

namespace afis::bindings {
namespace {

// The candidate index's inverted lists, seen in place: arrays that faiss owns (numpy views of
// its lists, which the Python side keeps alive and rebuilds after any change to the index).
struct HammingLists {
    afis::CodeLists lists;
    std::vector<py::object> keep;  // the arrays the pointers point into
    int ordered_shift = -1;        // afis::slot_ordered of these lists at that shift, once asked
    bool ordered = false;

    bool slot_ordered(int slot_shift) {
        if (slot_shift < 0 || slot_shift > 62) throw py::value_error("slot_shift must be within 0..62");
        if (ordered_shift != slot_shift) {
            ordered = afis::slot_ordered(lists, slot_shift);
            ordered_shift = slot_shift;
        }
        return ordered;
    }
};

// A contiguous 1-D array of 8-byte items of type T, at any byte address.
template <typename T>
const unsigned char* list_array(const py::handle& h, const char* what, std::size_t i, py::ssize_t* size) {
    const py::array a = py::reinterpret_borrow<py::array>(h);
    if (!py::isinstance<py::array_t<T>>(a) || a.ndim() != 1 || !(a.flags() & py::array::c_style))
        throw py::type_error(std::string(what) + " " + std::to_string(i) + " must be a contiguous 1-D " +
                             (sizeof(T) == 8 && std::is_signed_v<T> ? "int64" : "uint64") + " array");
    *size = a.shape(0);
    return static_cast<const unsigned char*>(a.data());
}

const std::uint64_t* checked_centroids(const py::array& centroids) {
    if (!py::isinstance<py::array_t<std::uint64_t>>(centroids) || centroids.ndim() != 1 ||
        !(centroids.flags() & py::array::c_style))
        throw py::type_error("centroids must be a contiguous 1-D uint64 array");
    return static_cast<const std::uint64_t*>(centroids.data());
}

std::shared_ptr<HammingLists> make_hamming_lists(const py::array& centroids, const py::list& codes,
                                                 const py::list& labels) {
    const std::uint64_t* c = checked_centroids(centroids);
    const auto nlist = static_cast<std::size_t>(centroids.shape(0));
    if (codes.size() != nlist || labels.size() != nlist)
        throw py::value_error("one code array and one label array per centroid are needed, got " +
                              std::to_string(codes.size()) + " and " + std::to_string(labels.size()) +
                              " for " + std::to_string(nlist) + " centroids");
    auto out = std::make_shared<HammingLists>();
    out->lists.centroids.assign(c, c + nlist);
    out->lists.lists.resize(nlist);
    out->keep.reserve(2 * nlist);
    for (std::size_t i = 0; i < nlist; ++i) {
        py::ssize_t n_codes = 0, n_labels = 0;
        afis::CodeList& l = out->lists.lists[i];
        l.codes = list_array<std::uint64_t>(codes[i], "code array", i, &n_codes);
        l.labels = list_array<std::int64_t>(labels[i], "label array", i, &n_labels);
        if (n_codes != n_labels)
            throw py::value_error("list " + std::to_string(i) + " has " + std::to_string(n_codes) +
                                  " codes but " + std::to_string(n_labels) + " labels");
        l.size = n_codes;
        out->keep.push_back(codes[i]);
        out->keep.push_back(labels[i]);
    }
    return out;
}

// Lists that all lie in one buffer (a memory-mapped inverted file): list i's sizes[i] codes
// start at byte code_at[i] and its labels at byte label_at[i], any alignment, each checked to
// lie within the buffer. Keeps the buffer alive; no list is copied and no array is made per
// list (a people gallery of 10^6 views about four million lists).
std::shared_ptr<HammingLists> hamming_lists_in_buffer(const py::array& centroids, const py::array& buffer,
                                                      const py::array& code_at, const py::array& label_at,
                                                      const py::array& sizes) {
    const std::uint64_t* c = checked_centroids(centroids);
    const auto nlist = static_cast<py::ssize_t>(centroids.shape(0));
    if (!py::isinstance<py::array_t<std::uint8_t>>(buffer) || buffer.ndim() != 1 ||
        !(buffer.flags() & py::array::c_style))
        throw py::type_error("buffer must be a contiguous 1-D uint8 array");
    const auto* base = static_cast<const unsigned char*>(buffer.data());
    const auto length = static_cast<std::int64_t>(buffer.shape(0));
    const auto* codes = checked<std::int64_t>(code_at, nlist, 0, "code_at");
    const auto* labels = checked<std::int64_t>(label_at, nlist, 0, "label_at");
    const auto* size = checked<std::int64_t>(sizes, nlist, 0, "sizes");
    auto inside = [&](std::int64_t start, std::int64_t n) {
        return start >= 0 && n >= 0 && n <= length / 8 && start <= length - 8 * n;
    };
    auto out = std::make_shared<HammingLists>();
    out->lists.centroids.assign(c, c + nlist);
    out->lists.lists.resize(static_cast<std::size_t>(nlist));
    for (py::ssize_t i = 0; i < nlist; ++i) {
        if (!inside(codes[i], size[i]) || !inside(labels[i], size[i]))
            throw py::value_error("list " + std::to_string(i) + " lies outside the buffer");
        afis::CodeList& l = out->lists.lists[static_cast<std::size_t>(i)];
        l.codes = base + codes[i];
        l.labels = base + labels[i];
        l.size = size[i];
    }
    out->keep.push_back(buffer);
    return out;
}

// One file of the lists of several that share their centroids: centroid c's lists are those of
// tables[0..n) in turn, each table's labels moved up by offsets[t] (the finger slots of table t
// then follow those of the tables before it). The tables stay alive as long as the result.
std::shared_ptr<HammingLists> joint_hamming_lists(const py::list& tables, const py::array& offsets) {
    const auto n = static_cast<py::ssize_t>(tables.size());
    if (n < 1) throw py::value_error("a joint file needs at least one table");
    const auto* off = checked<std::int64_t>(offsets, n, 0, "offsets");
    std::vector<const HammingLists*> parts;
    for (py::ssize_t t = 0; t < n; ++t) {
        if (!py::isinstance<HammingLists>(tables[t]))
            throw py::type_error("table " + std::to_string(t) + " is not a HammingLists");
        parts.push_back(tables[t].cast<const HammingLists*>());
        if (parts.back()->lists.parts != 1)
            throw py::value_error("table " + std::to_string(t) + " is already a joint file");
        // one list: its centroid picks nothing (every search visits it)
        const bool one_list = parts.back()->lists.centroids.size() == 1 && parts.front()->lists.centroids.size() == 1;
        if (!one_list && parts.back()->lists.centroids != parts.front()->lists.centroids)
            throw py::value_error("table " + std::to_string(t) + " has other centroids than table 0");
        if (off[t] < 0 || off[t] > (std::int64_t{1} << 62))
            throw py::value_error("offset " + std::to_string(t) + " out of range");
    }
    auto out = std::make_shared<HammingLists>();
    out->lists.centroids = parts.front()->lists.centroids;
    out->lists.parts = static_cast<int>(n);
    const std::size_t nlist = out->lists.centroids.size();
    out->lists.lists.reserve(nlist * static_cast<std::size_t>(n));
    for (std::size_t c = 0; c < nlist; ++c)
        for (py::ssize_t t = 0; t < n; ++t) {
            afis::CodeList l = parts[static_cast<std::size_t>(t)]->lists.lists[c];
            l.label_offset = off[t];
            out->lists.lists.push_back(l);
        }
    for (py::ssize_t t = 0; t < n; ++t) out->keep.push_back(tables[t]);
    return out;
}

// The probe codes of a search, checked.
const std::uint64_t* query_codes(const py::array& queries) {
    if (!py::isinstance<py::array_t<std::uint64_t>>(queries) || queries.ndim() != 1 ||
        !(queries.flags() & py::array::c_style))
        throw py::type_error("queries must be a contiguous 1-D uint64 array");
    return static_cast<const std::uint64_t*>(queries.data());
}

py::tuple hamming_search(const HammingLists& self, const py::array& queries, int nprobe, int k, int threads) {
    const auto* q = query_codes(queries);
    if (k < 0 || k > (1 << 20)) throw py::value_error("k must be within 0..2^20, got " + std::to_string(k));
    if (nprobe < 1) throw py::value_error("nprobe must be positive, got " + std::to_string(nprobe));
    const py::ssize_t n = queries.shape(0);
    py::array_t<std::int32_t> distances({n, static_cast<py::ssize_t>(k)});
    py::array_t<std::int64_t> labels({n, static_cast<py::ssize_t>(k)});
    std::int32_t* d = distances.mutable_data();
    std::int64_t* l = labels.mutable_data();
    const int workers = workers_for(threads, n);
    {
        py::gil_scoped_release release;
        std::vector<afis::HammingScratch> scratch(static_cast<std::size_t>(workers));  // one a thread
        afis::parallel_for(n, workers, 1, [&](std::ptrdiff_t i, int worker) {
            afis::hamming_nearest(self.lists, q[i], nprobe, k, d + i * k, l + i * k,
                                  scratch[static_cast<std::size_t>(worker)]);
        });
    }
    return py::make_tuple(distances, labels);
}

afis::VoteLayout vote_layout(const py::dict& layout) {
    afis::VoteLayout p;
    p.slot_shift = layout["slot_shift"].cast<int>();
    p.x_shift = layout["x_shift"].cast<int>();
    p.y_shift = layout["y_shift"].cast<int>();
    p.coord_mask = layout["coord_mask"].cast<std::int64_t>();
    p.angle_mask = layout["angle_mask"].cast<std::int64_t>();
    p.coord_step = layout["coord_step"].cast<float>();
    p.angle_step = layout["angle_step"].cast<float>();
    p.max_rotation = layout["max_rotation"].cast<float>();
    p.rotation_bin = layout["rotation_bin"].cast<float>();
    p.translation_bin = layout["translation_bin"].cast<float>();
    const auto shift_ok = [](int v) { return v >= 0 && v <= 62; };
    if (!shift_ok(p.slot_shift) || !shift_ok(p.x_shift) || !shift_ok(p.y_shift) || !(p.rotation_bin > 0) ||
        !(p.translation_bin > 0))
        throw py::value_error("invalid vote layout: shifts must lie in 0..62 and the bins be positive");
    return p;
}

// Probe p's rows are starts[p]..starts[p + 1] (checked: from 0 to rows, non-decreasing).
const std::int64_t* probe_starts(const py::array& starts, py::ssize_t rows, py::ssize_t* probes) {
    if (starts.ndim() != 1 || starts.shape(0) < 1) throw py::value_error("starts must be 1-D and non-empty");
    const py::ssize_t n = starts.shape(0) - 1;
    const auto* st = checked<std::int64_t>(starts, n + 1, 0, "starts");
    if (st[0] != 0 || st[n] != rows)
        throw py::value_error("starts must run from 0 to the number of rows");
    for (py::ssize_t i = 0; i < n; ++i)
        if (st[i] > st[i + 1] || st[i + 1] - st[i] > (1 << 20))
            throw py::value_error("starts must be non-decreasing, at most 2^20 rows a probe");
    *probes = n;
    return st;
}

// Shortlists of n probes, k candidates each: scores 0 and slots -1 until filled.
std::pair<py::array_t<float>, py::array_t<std::int64_t>> empty_shortlists(py::ssize_t n, int k) {
    py::array_t<float> scores({n, static_cast<py::ssize_t>(k)});
    py::array_t<std::int64_t> slots({n, static_cast<py::ssize_t>(k)});
    std::fill(scores.mutable_data(), scores.mutable_data() + n * k, 0.0f);
    std::fill(slots.mutable_data(), slots.mutable_data() + n * k, std::int64_t{-1});
    return {scores, slots};
}

// The vote count of a batch of probe fingers: rows starts[p]..starts[p+1] of the arrays are
// probe p's codes (see afis::aggregate_votes).
py::tuple aggregate_votes(const py::array& votes, const py::array& labels, const py::array& geometry,
                          const py::array& starts, const py::array& counts, const py::dict& layout, int k,
                          int threads) {
    if (votes.ndim() != 2) throw py::value_error("votes must be a 2-D array");
    const py::ssize_t rows = votes.shape(0), width = votes.shape(1);
    const auto* v = checked<float>(votes, rows, width, "votes");
    const auto* l = checked<std::int64_t>(labels, rows, width, "labels");
    const auto* g = checked<float>(geometry, rows, 3, "geometry");
    py::ssize_t n = 0;
    const auto* st = probe_starts(starts, rows, &n);
    const py::ssize_t n_slots = counts.ndim() == 1 ? counts.shape(0) : -1;
    const auto* c = checked<std::int32_t>(counts, n_slots, 0, "counts");
    if (k < 0 || k > (1 << 24)) throw py::value_error("k must be within 0..2^24, got " + std::to_string(k));
    const afis::VoteLayout p = vote_layout(layout);
    auto [scores, slots] = empty_shortlists(n, k);
    float* so = scores.mutable_data();
    std::int64_t* lo = slots.mutable_data();
    const int workers = workers_for(threads, n);
    {
        py::gil_scoped_release release;
        afis::parallel_for(n, workers, 1, [&](std::ptrdiff_t i, int /*worker*/) {
            thread_local afis::VoteScratch scratch;
            const std::int64_t r0 = st[i], r1 = st[i + 1];
            afis::aggregate_votes(v + r0 * width, l + r0 * width, r1 - r0, width, g + r0 * 3, c, n_slots,
                                  static_cast<int>(r1 - r0), p, k, so + i * k, lo + i * k, scratch);
        });
    }
    return py::make_tuple(scores, slots);
}

void check_search(int nprobe, int neighbours, int k) {
    if (nprobe < 1) throw py::value_error("nprobe must be positive, got " + std::to_string(nprobe));
    if (neighbours < 1 || neighbours > (1 << 20))
        throw py::value_error("neighbours must be within 1..2^20, got " + std::to_string(neighbours));
    if (k < 0 || k > (1 << 24)) throw py::value_error("k must be within 0..2^24, got " + std::to_string(k));
}

// A batch of probe fingers for a vote count, checked once: probe p's codes are
// queries[starts[p]..starts[p + 1]], their minutiae's poses the same rows of geometry; counts
// gives each finger slot's code count.
struct ProbeBatch {
    const std::uint64_t* q = nullptr;
    py::ssize_t rows = 0;
    const float* g = nullptr;
    py::ssize_t n = 0;  // probes
    const std::int64_t* st = nullptr;
    py::ssize_t n_slots = 0;
    const std::int32_t* c = nullptr;
};

ProbeBatch probe_batch(const py::array& queries, const py::array& starts, const py::array& geometry,
                       const py::array& counts) {
    ProbeBatch b;
    b.q = query_codes(queries);
    b.rows = queries.shape(0);
    b.g = checked<float>(geometry, b.rows, 3, "geometry");
    b.st = probe_starts(starts, b.rows, &b.n);
    b.n_slots = counts.ndim() == 1 ? counts.shape(0) : -1;
    b.c = checked<std::int32_t>(counts, b.n_slots, 0, "counts");
    return b;
}

// The k best fingers of each probe of `b` (scores, slots), from the votes `vote(r, row, out,
// scratch)` appends for code r (row: r's number within its probe). Probes are shared among the
// threads; a batch of fewer probes than threads shares each probe's codes instead. Ties by
// `tie_ids` of the slots when given (else by slot). Releases the GIL.
template <typename VoteFn>
py::tuple count_probes(const ProbeBatch& b, const afis::VoteLayout& p, int k, const std::int64_t* tie_ids,
                       int threads, const VoteFn& vote) {
    auto [scores, slots] = empty_shortlists(b.n, k);
    float* so = scores.mutable_data();
    std::int64_t* lo = slots.mutable_data();
    const int workers = std::max(1, threads);
    const auto votes_of = [&](std::int64_t r0, std::int64_t from, std::int64_t to, std::vector<afis::Vote>& out,
                              afis::HammingScratch& scratch) {
        for (std::int64_t r = from; r < to; ++r) vote(r, static_cast<std::uint32_t>(r - r0), out, scratch);
    };
    {
        py::gil_scoped_release release;
        if (b.n >= workers) {
            afis::parallel_for(b.n, workers, 1, [&](std::ptrdiff_t i, int /*worker*/) {
                thread_local afis::HammingScratch scratch;
                thread_local afis::VoteScratch counting;
                thread_local std::vector<afis::Vote> votes;
                votes.clear();
                votes_of(b.st[i], b.st[i], b.st[i + 1], votes, scratch);
                afis::count_votes(votes, b.g + b.st[i] * 3, b.c, b.n_slots, static_cast<int>(b.st[i + 1] - b.st[i]), p,
                                  k, so + i * k, lo + i * k, counting, tie_ids);
            });
        } else {
            std::vector<std::vector<afis::Vote>> parts(static_cast<std::size_t>(workers));
            std::vector<afis::HammingScratch> scratches(static_cast<std::size_t>(workers));
            afis::VoteScratch counting;
            std::vector<afis::Vote> votes;
            for (py::ssize_t i = 0; i < b.n; ++i) {
                const std::int64_t r0 = b.st[i], codes = b.st[i + 1] - b.st[i];
                afis::parallel_for(workers, workers, 1, [&](std::ptrdiff_t w, int /*worker*/) {
                    auto& part = parts[static_cast<std::size_t>(w)];
                    part.clear();
                    votes_of(r0, r0 + codes * w / workers, r0 + codes * (w + 1) / workers, part,
                             scratches[static_cast<std::size_t>(w)]);
                });
                votes.clear();
                for (const auto& part : parts) votes.insert(votes.end(), part.begin(), part.end());
                afis::count_votes(votes, b.g + r0 * 3, b.c, b.n_slots, static_cast<int>(codes), p, k, so + i * k,
                                  lo + i * k, counting, tie_ids);
            }
        }
    }
    return py::make_tuple(scores, slots);
}

// The scan and the vote count in one pass (afis::code_votes, afis::count_votes).
py::tuple hamming_search_votes(const HammingLists& self, const py::array& queries, const py::array& starts,
                               const py::array& geometry, const py::array& counts, const py::dict& layout,
                               int nprobe, int neighbours, double compared, double floor, int k, int threads) {
    const ProbeBatch b = probe_batch(queries, starts, geometry, counts);
    check_search(nprobe, neighbours, k);
    if (!std::isfinite(compared) || compared < 0 || !std::isfinite(floor))
        throw py::value_error("compared must be finite and non-negative and floor finite");
    const afis::VoteLayout p = vote_layout(layout);
    const afis::RankVotes rank{compared, floor};
    return count_probes(b, p, k, nullptr, threads,
                        [&](std::int64_t r, std::uint32_t row, std::vector<afis::Vote>& out,
                            afis::HammingScratch& scratch) {
                            afis::code_votes(self.lists, b.q[r], nprobe, neighbours, rank, row, b.n_slots,
                                             p.slot_shift, out, scratch);
                        });
}

// The distance histogram of each query's scan (afis::code_histogram): (rows, 65) int64.
py::array_t<std::int64_t> hamming_histograms(const HammingLists& self, const py::array& queries, int nprobe,
                                             int threads) {
    const auto* q = query_codes(queries);
    if (nprobe < 1) throw py::value_error("nprobe must be positive, got " + std::to_string(nprobe));
    const py::ssize_t n = queries.shape(0);
    constexpr py::ssize_t levels = afis::HAMMING_BITS + 1;
    py::array_t<std::int64_t> out({n, levels});
    std::int64_t* o = out.mutable_data();
    const int workers = workers_for(threads, n);
    {
        py::gil_scoped_release release;
        std::vector<afis::HammingScratch> scratch(static_cast<std::size_t>(workers));
        afis::parallel_for(n, workers, 1, [&](std::ptrdiff_t i, int worker) {
            afis::code_histogram(self.lists, q[i], nprobe, o + i * levels, scratch[static_cast<std::size_t>(worker)]);
        });
    }
    return out;
}

// The vote of each distance of each histogram row (afis::vote_table): (rows, 65) float32.
py::array_t<float> vote_tables(const py::array& histograms, int neighbours, double floor) {
    constexpr py::ssize_t levels = afis::HAMMING_BITS + 1;
    const py::ssize_t rows = histograms.ndim() == 2 ? histograms.shape(0) : -1;
    const auto* h = checked<std::int64_t>(histograms, rows, levels, "histograms");
    if (neighbours < 1 || neighbours > (1 << 20))
        throw py::value_error("neighbours must be within 1..2^20, got " + std::to_string(neighbours));
    if (!std::isfinite(floor)) throw py::value_error("floor must be finite");
    for (py::ssize_t i = 0; i < rows * levels; ++i)
        if (h[i] < 0) throw py::value_error("histogram counts must not be negative");
    py::array_t<float> out({rows, levels});
    for (py::ssize_t r = 0; r < rows; ++r) afis::vote_table(h + r * levels, neighbours, floor, out.mutable_data() + r * levels);
    return out;
}

// The joint search's scan and vote count (afis::table_votes, afis::count_votes), ties by
// `ids` of the slots: with `tables` ((rows, 65) float32, from summed histograms) the votes of
// every part of a sharded gallery, without them this file's own.
//
// `limits` ((rows,) int64, optional; lists in slot order only) scans each query only over the
// codes of the slots below its limit, as a file of those fingers alone would be scanned;
// `row_neighbours` ((rows,) int32, optional) gives each query its own neighbours.
py::tuple hamming_search_table_votes(HammingLists& self, const py::array& queries, const py::array& starts,
                                     const py::array& geometry, const py::array& counts, const py::array& ids,
                                     const py::dict& layout, int nprobe, int neighbours, double floor, int k,
                                     int threads, const py::object& tables, const py::object& limits,
                                     const py::object& row_neighbours) {
    const ProbeBatch b = probe_batch(queries, starts, geometry, counts);
    const auto* tie = checked<std::int64_t>(ids, b.n_slots, 0, "ids");
    check_search(nprobe, neighbours, k);
    if (!std::isfinite(floor)) throw py::value_error("floor must be finite");
    constexpr std::int64_t levels = afis::HAMMING_BITS + 1;
    const float* t = nullptr;
    if (!tables.is_none()) t = checked<float>(py::reinterpret_borrow<py::array>(tables), b.rows, levels, "tables");
    const afis::VoteLayout p = vote_layout(layout);
    const std::int64_t* lim = nullptr;
    if (!limits.is_none()) {
        if (t != nullptr) throw py::value_error("limits cannot be combined with tables");
        lim = checked<std::int64_t>(py::reinterpret_borrow<py::array>(limits), b.rows, 0, "limits");
        for (py::ssize_t r = 0; r < b.rows; ++r)
            if (lim[r] < 0) throw py::value_error("limits must not be negative");
        if (!self.slot_ordered(p.slot_shift))
            throw py::value_error("limits need inverted lists that hold their codes in slot order");
    }
    const std::int32_t* each = nullptr;
    if (!row_neighbours.is_none()) {
        each = checked<std::int32_t>(py::reinterpret_borrow<py::array>(row_neighbours), b.rows, 0, "row_neighbours");
        for (py::ssize_t r = 0; r < b.rows; ++r) check_search(nprobe, each[r], k);
    }
    return count_probes(b, p, k, tie, threads,
                        [&](std::int64_t r, std::uint32_t row, std::vector<afis::Vote>& out,
                            afis::HammingScratch& scratch) {
                            afis::table_votes(self.lists, b.q[r], nprobe, each ? each[r] : neighbours, floor,
                                              t ? t + r * levels : nullptr, row, b.n_slots, p.slot_shift, out,
                                              scratch, lim ? lim[r] : afis::NO_SLOT_LIMIT);
                        });
}

}  // namespace

void bind_index(py::module_& m) {
    py::class_<HammingLists, std::shared_ptr<HammingLists>>(m, "HammingLists",
        "Inverted lists of 64-bit codes seen in place (the candidate index's scan).")
        .def(py::init(&make_hamming_lists), py::arg("centroids"), py::arg("codes"), py::arg("labels"))
        .def_static("in_buffer", &hamming_lists_in_buffer, py::arg("centroids"), py::arg("buffer"),
                    py::arg("code_at"), py::arg("label_at"), py::arg("sizes"),
                    "Lists seen in one buffer (a memory-mapped inverted file) at byte offsets, any "
                    "alignment, each checked to lie inside it; nothing copied.")
        .def_static("joint", &joint_hamming_lists, py::arg("tables"), py::arg("offsets"),
                    "One file of the lists of several tables that share their centroids (each "
                    "table's labels moved up by its offset), scanned as one.")
        .def("search", &hamming_search, py::arg("queries"), py::arg("nprobe"), py::arg("k"),
             py::arg("threads"),
             "(distances int32, labels int64), each (n, k): the k nearest stored codes of each "
             "query in the lists of its nprobe nearest centroids; 65 and -1 pad.")
        .def("histograms", &hamming_histograms, py::arg("queries"), py::arg("nprobe"), py::arg("threads"),
             "(rows, 65) int64: how many codes each query's scan meets at each distance.")
        .def("search_table_votes", &hamming_search_table_votes, py::arg("queries"), py::arg("starts"),
             py::arg("geometry"), py::arg("counts"), py::arg("ids"), py::arg("layout"), py::arg("nprobe"),
             py::arg("neighbours"), py::arg("floor"), py::arg("k"), py::arg("threads"), py::arg("tables") = py::none(),
             py::arg("limits") = py::none(), py::arg("row_neighbours") = py::none(),
             "(scores, slots), each (probes, k): the joint search (every code at a voting distance votes; ties "
             "by ids); votes from `tables` (rows, 65), or from this file's own histograms, each query over "
             "the slots below its entry of `limits` (rows,) when given (lists in slot order), with its entry "
             "of `row_neighbours` (rows,) when given.")
        .def("slot_ordered", &HammingLists::slot_ordered, py::arg("slot_shift"),
             "Whether every list holds its codes in finger-slot order (searches with limits need it).")
        .def("search_votes", &hamming_search_votes, py::arg("queries"), py::arg("starts"), py::arg("geometry"),
             py::arg("counts"), py::arg("layout"), py::arg("nprobe"), py::arg("neighbours"), py::arg("compared"),
             py::arg("floor"), py::arg("k"), py::arg("threads"),
             "(scores, slots), each (probes, k): search, rank votes and vote count of each probe "
             "finger in one pass (the same as search, the rank votes and aggregate_votes).");
    m.def("vote_tables", &vote_tables, py::arg("histograms"), py::arg("neighbours"), py::arg("floor"),
          "The vote of each distance from (summed) distance histograms of the joint search: (rows, 65) float32.");
    m.def("aggregate_votes", &aggregate_votes, py::arg("votes"), py::arg("labels"), py::arg("geometry"),
          py::arg("starts"), py::arg("counts"), py::arg("layout"), py::arg("k"), py::arg("threads"),
          "The candidate index's vote count per probe finger: (scores, slots), each (probes, k).");
    m.attr("HAMMING_BITS") = afis::HAMMING_BITS;
}

}  // namespace afis::bindings
