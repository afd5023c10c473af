// The only file that knows Python: converts numpy buffers to plain grids at the boundary,
// releases the GIL around native work and converts results back. Shapes and dtypes are
// checked here once; the Python layer above explains errors in domain terms.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "afis/index/hamming.hpp"
#include "afis/match/match.hpp"
#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"
#include "afis/codecs/wsq.hpp"

namespace py = pybind11;

namespace {

using ByteArray = py::array_t<std::uint8_t, py::array::c_style>;

afis::ByteGrid to_grid(const py::array& any, const char* what) {
    if (any.ndim() != 2)
        throw py::value_error(std::string(what) + " must be a 2-D array, got " +
                              std::to_string(any.ndim()) + " dimensions");
    if (!py::isinstance<py::array_t<std::uint8_t>>(any))
        throw py::type_error(std::string(what) + " must have dtype uint8");
    const ByteArray a = ByteArray::ensure(any);
    const auto h = a.shape(0), w = a.shape(1);
    if (w > 1 << 16 || h > 1 << 16) throw py::value_error(std::string(what) + " is too large");
    afis::ByteGrid g(static_cast<int>(w), static_cast<int>(h));
    if (!g.data.empty()) std::memcpy(g.data.data(), a.data(), g.data.size());
    return g;
}

template <typename T>
py::array_t<T> to_array(const afis::Grid<T>& g) {
    py::array_t<T> a({static_cast<py::ssize_t>(g.height), static_cast<py::ssize_t>(g.width)});
    if (!g.data.empty()) std::memcpy(a.mutable_data(), g.data.data(), g.data.size() * sizeof(T));
    return a;
}

py::dict minutiae_dict(const std::vector<afis::Minutia>& ms) {
    const auto n = static_cast<py::ssize_t>(ms.size());
    py::array_t<std::uint16_t> x(n), y(n);
    py::array_t<float> direction(n);
    py::array_t<std::uint8_t> type(n), quality(n);
    for (py::ssize_t i = 0; i < n; ++i) {
        x.mutable_at(i) = static_cast<std::uint16_t>(ms[i].x);
        y.mutable_at(i) = static_cast<std::uint16_t>(ms[i].y);
        direction.mutable_at(i) = ms[i].direction;
        type.mutable_at(i) = static_cast<std::uint8_t>(ms[i].type);
        quality.mutable_at(i) = ms[i].quality;
    }
    py::dict d;
    d["x"] = x;
    d["y"] = y;
    d["direction"] = direction;
    d["type"] = type;
    d["quality"] = quality;
    return d;
}

py::dict features_dict(const afis::Features& f) {
    py::dict d = minutiae_dict(f.minutiae);
    d["width"] = f.width;
    d["height"] = f.height;
    const auto m = static_cast<py::ssize_t>(f.singular_points.size());
    py::array_t<std::uint16_t> sx(m), sy(m);
    py::array_t<std::uint8_t> st(m);
    for (py::ssize_t i = 0; i < m; ++i) {
        sx.mutable_at(i) = static_cast<std::uint16_t>(f.singular_points[i].x);
        sy.mutable_at(i) = static_cast<std::uint16_t>(f.singular_points[i].y);
        st.mutable_at(i) = static_cast<std::uint8_t>(f.singular_points[i].type);
    }
    d["singular_x"] = sx;
    d["singular_y"] = sy;
    d["singular_type"] = st;
    py::dict q;
    q["score"] = f.quality.score;
    q["orientation_certainty"] = f.quality.orientation_certainty;
    q["ridge_clarity"] = f.quality.ridge_clarity;
    q["frequency_validity"] = f.quality.frequency_validity;
    q["foreground_share"] = f.quality.foreground_share;
    q["minutiae"] = f.quality.minutiae;
    d["image_quality"] = q;
    return d;
}

template <typename T>
afis::FloatGrid unpad(const afis::FloatGrid& g) {
    const int pad = afis::params::PAD;
    afis::FloatGrid out(std::max(0, g.width - 2 * pad), std::max(0, g.height - 2 * pad));
    for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x) out.at(x, y) = g.at(x + pad, y + pad);
    return out;
}

py::dict trace_dict(const afis::Trace& t) {
    py::dict d;
    d["image"] = to_array(t.image);
    d["mask"] = to_array(t.segmentation.pixels);
    d["mask_blocks"] = to_array<std::uint8_t>(t.segmentation.blocks);
    d["border_distance"] = to_array(t.segmentation.border_distance);
    d["orientation"] = to_array<float>(t.orientation.angle);
    d["coherence"] = to_array<float>(t.orientation.coherence);
    d["orientation_block"] = t.orientation.angle.block;
    d["period"] = to_array<float>(t.period.period);
    d["period_strength"] = to_array<float>(t.period.strength);
    d["period_block"] = t.period.period.block;
    d["enhanced"] = to_array(unpad<float>(t.enhanced));
    d["binary"] = to_array(t.binary);
    d["skeleton"] = to_array(t.skeleton);
    d["raw_minutiae"] = minutiae_dict(t.raw_minutiae);
    return d;
}

py::object extract(const py::array& image, int max_minutiae, bool with_trace) {
    const afis::ByteGrid grid = to_grid(image, "image");
    afis::Options options;
    options.max_minutiae = max_minutiae;
    afis::Features features;
    afis::Trace trace;
    {
        py::gil_scoped_release release;
        features = afis::extract_features(grid, options, with_trace ? &trace : nullptr);
    }
    py::dict result = features_dict(features);
    if (with_trace) result["trace"] = trace_dict(trace);
    return std::move(result);
}

py::array_t<std::uint8_t> resample(const py::array& image, double scale) {
    const afis::ByteGrid grid = to_grid(image, "image");
    afis::ByteGrid out;
    {
        py::gil_scoped_release release;
        out = afis::resample(grid, scale);
    }
    return to_array(out);
}

py::array_t<std::uint8_t> thin(const py::array& binary) {
    afis::ByteGrid grid = to_grid(binary, "binary image");
    for (auto& v : grid.data) v = v ? 1 : 0;
    afis::ByteGrid out;
    {
        py::gil_scoped_release release;
        out = afis::thin(grid);
    }
    return to_array(out);
}

py::dict skeleton_minutiae(const py::array& skeleton, bool filter) {
    afis::ByteGrid grid = to_grid(skeleton, "skeleton");
    for (auto& v : grid.data) v = v ? 1 : 0;
    std::vector<afis::Minutia> ms;
    {
        py::gil_scoped_release release;
        afis::RidgeGraph graph = afis::trace_ridges(grid);
        if (filter) afis::filter_ridge_graph(graph);
        ms = afis::detect_minutiae(graph);
    }
    return minutiae_dict(ms);
}

// --- matching ---------------------------------------------------------------------------------

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

std::vector<afis::MatchMinutia> match_minutiae(const FloatArray& x, const FloatArray& y,
                                               const FloatArray& direction) {
    if (x.ndim() != 1 || y.ndim() != 1 || direction.ndim() != 1 || x.shape(0) != y.shape(0) ||
        x.shape(0) != direction.shape(0))
        throw py::value_error("x, y and direction must be 1-D arrays of equal length");
    if (x.shape(0) > afis::MAX_MINUTIAE)
        throw py::value_error("at most " + std::to_string(afis::MAX_MINUTIAE) +
                              " minutiae per template can be matched, got " + std::to_string(x.shape(0)));
    std::vector<afis::MatchMinutia> out(static_cast<std::size_t>(x.shape(0)));
    for (std::size_t i = 0; i < out.size(); ++i) {
        const float a = direction.at(i);
        if (!std::isfinite(x.at(i)) || !std::isfinite(y.at(i)) || !std::isfinite(a))
            throw py::value_error("minutiae must have finite coordinates and directions");
        // Template angles are counter-clockwise with y up; the matcher works in image axes.
        out[i] = {x.at(i), y.at(i), -a};
        if (!afis::minutia_in_bounds(out[i].x, out[i].y, out[i].angle))
            throw py::value_error("minutiae must have coordinates within 1e12 and directions within "
                                  "4 pi radians");
    }
    return out;
}

std::shared_ptr<afis::CylinderSet> make_cylinders(const FloatArray& x, const FloatArray& y,
                                                  const FloatArray& direction) {
    auto minutiae = match_minutiae(x, y, direction);
    auto set = std::make_shared<afis::CylinderSet>();
    {
        py::gil_scoped_release release;
        *set = afis::build_cylinders(minutiae);
    }
    return set;
}

float compare_sets(const afis::CylinderSet& a, const afis::CylinderSet& b) {
    py::gil_scoped_release release;
    return afis::compare(a.view(), b.view());
}

// A gallery packed in contiguous arrays (which Python may have memory-mapped).
struct PackedGallery {
    py::array_t<std::int64_t> offsets;  // n + 1
    py::array_t<float> minutiae;        // total x 3 (x, y, image angle)
    py::array_t<std::uint64_t> bits;    // total x CYLINDER_WORDS
    py::array_t<std::uint64_t> valid;   // total x CYLINDER_WORDS
    py::array_t<std::uint8_t> usable;   // total
};

py::dict pack(const std::vector<std::shared_ptr<afis::CylinderSet>>& sets) {
    std::int64_t total = 0;
    for (const auto& s : sets) {
        if (!s) throw py::value_error("gallery entries must not be None");
        total += s->size();
    }
    const auto n = static_cast<py::ssize_t>(sets.size());
    py::array_t<std::int64_t> offsets(n + 1);
    py::array_t<float> minutiae({static_cast<py::ssize_t>(total), py::ssize_t{3}});
    py::array_t<std::uint64_t> bits({static_cast<py::ssize_t>(total), py::ssize_t{afis::CYLINDER_WORDS}});
    py::array_t<std::uint64_t> valid({static_cast<py::ssize_t>(total), py::ssize_t{afis::CYLINDER_WORDS}});
    py::array_t<std::uint8_t> usable(static_cast<py::ssize_t>(total));
    std::int64_t at = 0;
    auto* off = offsets.mutable_data();
    for (py::ssize_t i = 0; i < n; ++i) {
        const afis::CylinderSet& s = *sets[i];
        off[i] = at;
        const std::size_t k = static_cast<std::size_t>(s.size());
        if (k) {
            std::memcpy(minutiae.mutable_data() + at * 3, s.minutiae.data(), k * sizeof(afis::MatchMinutia));
            std::memcpy(bits.mutable_data() + at * afis::CYLINDER_WORDS, s.bits.data(), s.bits.size() * 8);
            std::memcpy(valid.mutable_data() + at * afis::CYLINDER_WORDS, s.valid.data(), s.valid.size() * 8);
            std::memcpy(usable.mutable_data() + at, s.usable.data(), k);
        }
        at += static_cast<std::int64_t>(k);
    }
    off[n] = at;
    py::dict d;
    d["offsets"] = offsets;
    d["minutiae"] = minutiae;
    d["bits"] = bits;
    d["valid"] = valid;
    d["usable"] = usable;
    return d;
}

template <typename T>
const T* checked(const py::array& a, py::ssize_t rows, py::ssize_t cols, const char* name) {
    if (!py::isinstance<py::array_t<T>>(a) || !(a.flags() & py::array::c_style))
        throw py::type_error(std::string("gallery array '") + name + "' has the wrong dtype or layout");
    const bool shape_ok = cols > 0 ? a.ndim() == 2 && a.shape(0) == rows && a.shape(1) == cols
                                   : a.ndim() == 1 && a.shape(0) == rows;
    if (!shape_ok)
        throw py::value_error(std::string("gallery array '") + name + "' has the wrong shape");
    return static_cast<const T*>(a.data());
}

void check_offsets(const std::int64_t* off, py::ssize_t n, py::ssize_t total) {
    for (py::ssize_t i = 0; i < n; ++i)
        if (off[i] < 0 || off[i] > off[i + 1] || off[i + 1] > total)
            throw py::value_error("gallery offsets are corrupt (not increasing or out of range)");
    for (py::ssize_t i = 0; i < n; ++i)
        if (off[i + 1] - off[i] > afis::MAX_MINUTIAE)
            throw py::value_error("gallery template " + std::to_string(i) + " has more than " +
                                  std::to_string(afis::MAX_MINUTIAE) + " minutiae (corrupt offsets)");
}

afis::CylinderView gallery_view(const std::int64_t* off, const float* mins, const std::uint64_t* b,
                                const std::uint64_t* v, const std::uint8_t* u, py::ssize_t i) {
    const std::int64_t o = off[i];
    return {static_cast<int>(off[i + 1] - o), reinterpret_cast<const afis::MatchMinutia*>(mins + o * 3),
            b + o * afis::CYLINDER_WORDS, v + o * afis::CYLINDER_WORDS, u + o};
}

bool in_bounds(const afis::CylinderView& g) {
    bool ok = true;
    for (int k = 0; k < g.n; ++k) ok &= afis::minutia_in_bounds(g.minutiae[k].x, g.minutiae[k].y, g.minutiae[k].angle);
    return ok;
}

py::array_t<float> compare_many(const afis::CylinderSet& probe, const py::array& offsets,
                                const py::array& minutiae, const py::array& bits,
                                const py::array& valid, const py::array& usable, int threads) {
    if (offsets.ndim() != 1 || offsets.shape(0) < 1) throw py::value_error("gallery offsets must be 1-D and non-empty");
    const py::ssize_t n = offsets.shape(0) - 1;
    const auto* off = checked<std::int64_t>(offsets, n + 1, 0, "offsets");
    const py::ssize_t total = minutiae.ndim() >= 1 ? minutiae.shape(0) : -1;
    const auto* mins = checked<float>(minutiae, total, 3, "minutiae");
    const auto* b = checked<std::uint64_t>(bits, total, afis::CYLINDER_WORDS, "bits");
    const auto* v = checked<std::uint64_t>(valid, total, afis::CYLINDER_WORDS, "valid");
    const auto* u = checked<std::uint8_t>(usable, total, 0, "usable");
    check_offsets(off, n, total);
    py::array_t<float> scores(n);
    float* out = scores.mutable_data();
    const afis::CylinderView pv = probe.view();
    const int workers = std::max(1, std::min<int>(threads, static_cast<int>(std::max<py::ssize_t>(n, 1))));
    std::atomic<py::ssize_t> corrupt{-1};  // a gallery template with minutiae out of bounds
    {
        py::gil_scoped_release release;
        std::atomic<py::ssize_t> next{0};
        auto work = [&] {
            constexpr py::ssize_t CHUNK = 64;
            for (py::ssize_t start; (start = next.fetch_add(CHUNK)) < n;) {
                const py::ssize_t end = std::min(n, start + CHUNK);
                for (py::ssize_t i = start; i < end; ++i) {
                    const afis::CylinderView g = gallery_view(off, mins, b, v, u, i);
                    // Checked here, where the template is about to be read anyway.
                    if (!in_bounds(g)) {
                        corrupt.store(i);
                        out[i] = 0.0f;
                        continue;
                    }
                    out[i] = afis::compare(pv, g);
                }
            }
        };
        std::vector<std::thread> pool;
        for (int t = 1; t < workers; ++t) pool.emplace_back(work);
        work();
        for (auto& t : pool) t.join();
    }
    if (corrupt.load() >= 0)
        throw py::value_error("gallery template " + std::to_string(corrupt.load()) +
                              " has minutiae out of bounds (corrupt gallery arrays)");
    return scores;
}

// A template given as raw arrays (minutiae, bits, valid, usable), checked like a gallery's.
afis::CylinderView raw_view(const py::array& minutiae, const py::array& bits, const py::array& valid,
                            const py::array& usable) {
    const py::ssize_t n = minutiae.ndim() >= 1 ? minutiae.shape(0) : -1;
    if (n > afis::MAX_MINUTIAE) throw py::value_error("too many minutiae");
    const afis::CylinderView g{static_cast<int>(n),
                               reinterpret_cast<const afis::MatchMinutia*>(checked<float>(minutiae, n, 3, "minutiae")),
                               checked<std::uint64_t>(bits, n, afis::CYLINDER_WORDS, "bits"),
                               checked<std::uint64_t>(valid, n, afis::CYLINDER_WORDS, "valid"),
                               checked<std::uint8_t>(usable, n, 0, "usable")};
    if (!in_bounds(g)) throw py::value_error("minutiae out of bounds");
    return g;
}

// A cylinder set copied from one template's rows of packed arrays (e.g. a gallery's), checked
// like a gallery's: no cylinders are built again.
std::shared_ptr<afis::CylinderSet> cylinders_from_arrays(const py::array& minutiae, const py::array& bits,
                                                         const py::array& valid, const py::array& usable) {
    const afis::CylinderView g = raw_view(minutiae, bits, valid, usable);
    auto set = std::make_shared<afis::CylinderSet>();
    set->minutiae.assign(g.minutiae, g.minutiae + g.n);
    set->bits.assign(g.bits, g.bits + static_cast<std::size_t>(g.n) * afis::CYLINDER_WORDS);
    set->valid.assign(g.valid, g.valid + static_cast<std::size_t>(g.n) * afis::CYLINDER_WORDS);
    set->usable.assign(g.usable, g.usable + g.n);
    return set;
}

// The local-similarity matrix of two templates given as raw arrays, in the order given (for
// tests: the arrays may hold any bits).
py::array_t<float> local_similarities(const py::tuple& a, const py::tuple& b) {
    if (a.size() != 4 || b.size() != 4) throw py::value_error("templates are (minutiae, bits, valid, usable)");
    const afis::CylinderView va = raw_view(a[0], a[1], a[2], a[3]), vb = raw_view(b[0], b[1], b[2], b[3]);
    std::vector<float> local;
    {
        py::gil_scoped_release release;
        afis::local_similarities(va, vb, local);
    }
    py::array_t<float> out({static_cast<py::ssize_t>(va.n), static_cast<py::ssize_t>(vb.n)});
    if (!local.empty()) std::memcpy(out.mutable_data(), local.data(), local.size() * sizeof(float));
    return out;
}

// The candidate index's inverted lists, seen in place: arrays that faiss owns (numpy views of
// its lists, which the Python side keeps alive and rebuilds after any change to the index).
struct HammingLists {
    afis::CodeLists lists;
    std::vector<py::object> keep;  // the arrays the pointers point into
};

template <typename T>
const T* aligned_vector(const py::handle& h, const char* what, std::size_t i, py::ssize_t* size) {
    const py::array a = py::reinterpret_borrow<py::array>(h);
    if (!py::isinstance<py::array_t<T>>(a) || a.ndim() != 1 || !(a.flags() & py::array::c_style))
        throw py::type_error(std::string(what) + " " + std::to_string(i) + " must be a contiguous 1-D " +
                             (sizeof(T) == 8 && std::is_signed_v<T> ? "int64" : "uint64") + " array");
    if (reinterpret_cast<std::uintptr_t>(a.data()) % alignof(T) != 0)
        throw py::value_error(std::string(what) + " " + std::to_string(i) + " is not aligned");
    *size = a.shape(0);
    return static_cast<const T*>(a.data());
}

std::shared_ptr<HammingLists> make_hamming_lists(const py::array& centroids, const py::list& codes,
                                                 const py::list& labels) {
    if (!py::isinstance<py::array_t<std::uint64_t>>(centroids) || centroids.ndim() != 1 ||
        !(centroids.flags() & py::array::c_style))
        throw py::type_error("centroids must be a contiguous 1-D uint64 array");
    const auto nlist = static_cast<std::size_t>(centroids.shape(0));
    if (codes.size() != nlist || labels.size() != nlist)
        throw py::value_error("one code array and one label array per centroid are needed, got " +
                              std::to_string(codes.size()) + " and " + std::to_string(labels.size()) +
                              " for " + std::to_string(nlist) + " centroids");
    auto out = std::make_shared<HammingLists>();
    const auto* c = static_cast<const std::uint64_t*>(centroids.data());
    out->lists.centroids.assign(c, c + nlist);
    out->lists.lists.resize(nlist);
    out->keep.reserve(2 * nlist);
    for (std::size_t i = 0; i < nlist; ++i) {
        py::ssize_t n_codes = 0, n_labels = 0;
        afis::CodeList& l = out->lists.lists[i];
        l.codes = aligned_vector<std::uint64_t>(codes[i], "code array", i, &n_codes);
        l.labels = aligned_vector<std::int64_t>(labels[i], "label array", i, &n_labels);
        if (n_codes != n_labels)
            throw py::value_error("list " + std::to_string(i) + " has " + std::to_string(n_codes) +
                                  " codes but " + std::to_string(n_labels) + " labels");
        l.size = n_codes;
        out->keep.push_back(codes[i]);
        out->keep.push_back(labels[i]);
    }
    return out;
}

py::tuple hamming_search(const HammingLists& self, const py::array& queries, int nprobe, int k, int threads) {
    if (!py::isinstance<py::array_t<std::uint64_t>>(queries) || queries.ndim() != 1 ||
        !(queries.flags() & py::array::c_style))
        throw py::type_error("queries must be a contiguous 1-D uint64 array");
    if (k < 0 || k > (1 << 20)) throw py::value_error("k must be within 0..2^20, got " + std::to_string(k));
    if (nprobe < 1) throw py::value_error("nprobe must be positive, got " + std::to_string(nprobe));
    const py::ssize_t n = queries.shape(0);
    const auto* q = static_cast<const std::uint64_t*>(queries.data());
    py::array_t<std::int32_t> distances({n, static_cast<py::ssize_t>(k)});
    py::array_t<std::int64_t> labels({n, static_cast<py::ssize_t>(k)});
    std::int32_t* d = distances.mutable_data();
    std::int64_t* l = labels.mutable_data();
    const int workers = std::max(1, std::min<int>(threads, static_cast<int>(std::max<py::ssize_t>(n, 1))));
    {
        py::gil_scoped_release release;
        std::atomic<py::ssize_t> next{0};
        auto work = [&] {
            afis::HammingScratch scratch;
            for (py::ssize_t i; (i = next.fetch_add(1)) < n;)
                afis::hamming_nearest(self.lists, q[i], nprobe, k, d + i * k, l + i * k, scratch);
        };
        std::vector<std::thread> pool;
        for (int t = 1; t < workers; ++t) pool.emplace_back(work);
        work();
        for (auto& t : pool) t.join();
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

// Runs work(i) for i in 0..n on `workers` threads (the calling one included).
template <typename F>
void run_parallel(py::ssize_t n, int workers, F&& work) {
    std::atomic<py::ssize_t> next{0};
    auto loop = [&] {
        for (py::ssize_t i; (i = next.fetch_add(1)) < n;) work(i);
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < workers; ++t) pool.emplace_back(loop);
    loop();
    for (auto& t : pool) t.join();
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
    const int workers = std::max(1, std::min<int>(threads, static_cast<int>(std::max<py::ssize_t>(n, 1))));
    {
        py::gil_scoped_release release;
        run_parallel(n, workers, [&](py::ssize_t i) {
            thread_local afis::VoteScratch scratch;
            const std::int64_t r0 = st[i], r1 = st[i + 1];
            afis::aggregate_votes(v + r0 * width, l + r0 * width, r1 - r0, width, g + r0 * 3, c, n_slots,
                                  static_cast<int>(r1 - r0), p, k, so + i * k, lo + i * k, scratch);
        });
    }
    return py::make_tuple(scores, slots);
}

// The scan and the vote count in one pass (afis::code_votes, afis::count_votes): probe p's
// codes are queries[starts[p]..starts[p + 1]], their minutiae's poses the same rows of
// geometry. Probes are shared among the threads; a batch of fewer probes than threads
// shares each probe's codes instead.
py::tuple hamming_search_votes(const HammingLists& self, const py::array& queries, const py::array& starts,
                               const py::array& geometry, const py::array& counts, const py::dict& layout,
                               int nprobe, int neighbours, double compared, double floor, int k, int threads) {
    if (!py::isinstance<py::array_t<std::uint64_t>>(queries) || queries.ndim() != 1 ||
        !(queries.flags() & py::array::c_style))
        throw py::type_error("queries must be a contiguous 1-D uint64 array");
    const py::ssize_t rows = queries.shape(0);
    const auto* q = static_cast<const std::uint64_t*>(queries.data());
    const auto* g = checked<float>(geometry, rows, 3, "geometry");
    py::ssize_t n = 0;
    const auto* st = probe_starts(starts, rows, &n);
    const py::ssize_t n_slots = counts.ndim() == 1 ? counts.shape(0) : -1;
    const auto* c = checked<std::int32_t>(counts, n_slots, 0, "counts");
    if (nprobe < 1) throw py::value_error("nprobe must be positive, got " + std::to_string(nprobe));
    if (neighbours < 1 || neighbours > (1 << 20))
        throw py::value_error("neighbours must be within 1..2^20, got " + std::to_string(neighbours));
    if (k < 0 || k > (1 << 24)) throw py::value_error("k must be within 0..2^24, got " + std::to_string(k));
    if (!std::isfinite(compared) || compared < 0 || !std::isfinite(floor))
        throw py::value_error("compared must be finite and non-negative and floor finite");
    const afis::VoteLayout p = vote_layout(layout);
    const afis::RankVotes rank{compared, floor};
    auto [scores, slots] = empty_shortlists(n, k);
    float* so = scores.mutable_data();
    std::int64_t* lo = slots.mutable_data();
    const int workers = std::max(1, threads);
    {
        py::gil_scoped_release release;
        const auto votes_of = [&](std::int64_t r0, std::int64_t from, std::int64_t to, std::vector<afis::Vote>& out,
                                  afis::HammingScratch& scratch) {
            for (std::int64_t r = from; r < to; ++r)
                afis::code_votes(self.lists, q[r], nprobe, neighbours, rank, static_cast<std::uint32_t>(r - r0),
                                 n_slots, p.slot_shift, out, scratch);
        };
        if (n >= workers) {
            run_parallel(n, workers, [&](py::ssize_t i) {
                thread_local afis::HammingScratch scratch;
                thread_local afis::VoteScratch counting;
                thread_local std::vector<afis::Vote> votes;
                votes.clear();
                votes_of(st[i], st[i], st[i + 1], votes, scratch);
                afis::count_votes(votes, g + st[i] * 3, c, n_slots, static_cast<int>(st[i + 1] - st[i]), p, k,
                                  so + i * k, lo + i * k, counting);
            });
        } else {
            std::vector<std::vector<afis::Vote>> parts(static_cast<std::size_t>(workers));
            std::vector<afis::HammingScratch> scratches(static_cast<std::size_t>(workers));
            afis::VoteScratch counting;
            std::vector<afis::Vote> votes;
            for (py::ssize_t i = 0; i < n; ++i) {
                const std::int64_t r0 = st[i], codes = st[i + 1] - st[i];
                run_parallel(workers, workers, [&](py::ssize_t w) {
                    auto& part = parts[static_cast<std::size_t>(w)];
                    part.clear();
                    votes_of(r0, r0 + codes * w / workers, r0 + codes * (w + 1) / workers, part,
                             scratches[static_cast<std::size_t>(w)]);
                });
                votes.clear();
                for (const auto& part : parts) votes.insert(votes.end(), part.begin(), part.end());
                afis::count_votes(votes, g + r0 * 3, c, n_slots, static_cast<int>(codes), p, k, so + i * k,
                                  lo + i * k, counting);
            }
        }
    }
    return py::make_tuple(scores, slots);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "nusafis native core: minutiae extraction stages (C++17)";
    m.def("extract", &extract, py::arg("image"), py::arg("max_minutiae"), py::arg("trace") = false,
          "Extract features from a uint8 image already at 500 ppi.");
    m.def("resample", &resample, py::arg("image"), py::arg("scale"),
          "Rescale a uint8 image by `scale` (area-averaged when shrinking).");
    m.def("thin", &thin, py::arg("binary"), "Skeletonize a binary image (non-zero = ridge).");
    m.def("skeleton_minutiae", &skeleton_minutiae, py::arg("skeleton"), py::arg("filter") = false,
          "Minutiae of a one-pixel-wide skeleton, optionally after the ridge-graph filters.");
    py::class_<afis::CylinderSet, std::shared_ptr<afis::CylinderSet>>(m, "Cylinders",
        "Minutia Cylinder-Code of one template, prepared for comparison.")
        .def(py::init(&make_cylinders), py::arg("x"), py::arg("y"), py::arg("direction"))
        .def_static("from_arrays", &cylinders_from_arrays, py::arg("minutiae"), py::arg("bits"),
                    py::arg("valid"), py::arg("usable"),
                    "Copy of one template's rows of packed gallery arrays (checked).")
        .def("__len__", &afis::CylinderSet::size)
        .def_property_readonly("usable", [](const afis::CylinderSet& s) {
            return static_cast<int>(std::count(s.usable.begin(), s.usable.end(), 1));
        });
    py::class_<HammingLists, std::shared_ptr<HammingLists>>(m, "HammingLists",
        "Inverted lists of 64-bit codes seen in place (the candidate index's scan).")
        .def(py::init(&make_hamming_lists), py::arg("centroids"), py::arg("codes"), py::arg("labels"))
        .def("search", &hamming_search, py::arg("queries"), py::arg("nprobe"), py::arg("k"),
             py::arg("threads"),
             "(distances int32, labels int64), each (n, k): the k nearest stored codes of each "
             "query in the lists of its nprobe nearest centroids; 65 and -1 pad.")
        .def("search_votes", &hamming_search_votes, py::arg("queries"), py::arg("starts"), py::arg("geometry"),
             py::arg("counts"), py::arg("layout"), py::arg("nprobe"), py::arg("neighbours"), py::arg("compared"),
             py::arg("floor"), py::arg("k"), py::arg("threads"),
             "(scores, slots), each (probes, k): search, rank votes and vote count of each probe "
             "finger in one pass (the same as search, the rank votes and aggregate_votes).");
    m.def("aggregate_votes", &aggregate_votes, py::arg("votes"), py::arg("labels"), py::arg("geometry"),
          py::arg("starts"), py::arg("counts"), py::arg("layout"), py::arg("k"), py::arg("threads"),
          "The candidate index's vote count per probe finger: (scores, slots), each (probes, k).");
    m.def("compare", &compare_sets, py::arg("a"), py::arg("b"), "Similarity of two templates in [0, 1].");
    m.def("pack", &pack, py::arg("cylinders"), "Pack cylinder sets into contiguous gallery arrays.");
    m.def("compare_many", &compare_many, py::arg("probe"), py::arg("offsets"), py::arg("minutiae"),
          py::arg("bits"), py::arg("valid"), py::arg("usable"), py::arg("threads"),
          "Score a probe against every template of a packed gallery on `threads` threads.");
    m.def("wsq_scan", [](const py::bytes& data) {
        std::string_view view = data;  // the caller holds the bytes object
        afis::WsqScan scan;
        {
            py::gil_scoped_release release;
            scan = afis::wsq_scan(reinterpret_cast<const std::uint8_t*>(view.data()), view.size());
        }
        return py::make_tuple(scan.width, scan.height, scan.coefficients_needed, scan.coefficients_coded);
    }, py::arg("data"),
          "Check a WSQ file's structure: (width, height, coefficients needed, coefficients coded).");
    m.def("wsq_subband_areas", &afis::wsq_subband_areas, py::arg("width"), py::arg("height"),
          "Pixel counts of the 64 WSQ subbands of a width x height image.");
    // Test hooks: the instruction set of the comparison kernels (0 plain, 1 AVX2, 2 AVX-512).
    // Every level gives the same scores; capping it lets tests check that.
    m.def("_simd_supported", [] { return static_cast<int>(afis::simd_supported()); });
    m.def("_simd_level", [] { return static_cast<int>(afis::simd_level()); });
    m.def("_set_simd_limit", [](int level) {
        if (level < 0 || level > static_cast<int>(afis::SimdLevel::AVX512))
            throw py::value_error("SIMD level must be 0, 1 or 2");
        return static_cast<int>(afis::set_simd_limit(static_cast<afis::SimdLevel>(level)));
    }, py::arg("level"), "Cap the SIMD level of the matcher's kernels; returns the previous cap.");
    m.def("_local_similarities", &local_similarities, py::arg("a"), py::arg("b"),
          "Local-similarity matrix of two templates given as (minutiae, bits, valid, usable).");
    m.attr("CYLINDER_WORDS") = afis::CYLINDER_WORDS;
    m.attr("PROCESSING_PPI") = afis::params::PROCESSING_PPI;
    m.attr("MIN_IMAGE_SIDE") = afis::params::MIN_IMAGE_SIDE;
    m.attr("MAX_IMAGE_SIDE") = afis::params::MAX_IMAGE_SIDE;
}
