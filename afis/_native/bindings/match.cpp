// Bindings of the matcher: cylinder sets built from minutiae arrays, one-to-one comparison and
// the comparison of a probe with a packed gallery (which Python may have memory-mapped).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "afis/common/parallel.hpp"
#include "afis/common/simd.hpp"
#include "afis/match/cylinders_exact.hpp"
#include "afis/match/match.hpp"
#include "common.hpp"

namespace afis::bindings {
namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// `one`: the minutiae of one template (at most MAX_MINUTIAE), else of several.
std::vector<afis::MatchMinutia> match_minutiae(const FloatArray& x, const FloatArray& y,
                                               const FloatArray& direction, bool one = true) {
    if (x.ndim() != 1 || y.ndim() != 1 || direction.ndim() != 1 || x.shape(0) != y.shape(0) ||
        x.shape(0) != direction.shape(0))
        throw py::value_error("x, y and direction must be 1-D arrays of equal length");
    if (one && x.shape(0) > afis::MAX_MINUTIAE)
        throw py::value_error("at most " + std::to_string(afis::MAX_MINUTIAE) +
                              " minutiae per template can be matched, got " + std::to_string(x.shape(0)));
    std::vector<afis::MatchMinutia> out(static_cast<std::size_t>(x.shape(0)));
    const float *xs = x.data(), *ys = y.data(), *angles = direction.data();
    for (std::size_t i = 0; i < out.size(); ++i) {
        const float a = angles[i];
        if (!std::isfinite(xs[i]) || !std::isfinite(ys[i]) || !std::isfinite(a))
            throw py::value_error("minutiae must have finite coordinates and directions");
        // Template angles are counter-clockwise with y up; the matcher works in image axes.
        out[i] = {xs[i], ys[i], -a};
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

// The same cylinders built by the original builder (test hook: the fast builder must agree).
std::shared_ptr<afis::CylinderSet> make_reference_cylinders(const FloatArray& x, const FloatArray& y,
                                                            const FloatArray& direction) {
    auto minutiae = match_minutiae(x, y, direction);
    auto set = std::make_shared<afis::CylinderSet>();
    {
        py::gil_scoped_release release;
        *set = afis::cylinder_exact::build_cylinders_reference(minutiae);
    }
    return set;
}

float compare_sets(const afis::CylinderSet& a, const afis::CylinderSet& b) {
    py::gil_scoped_release release;
    return afis::compare(a.view(), b.view());
}

template <typename T>
py::array_t<T> to_array(const std::vector<T>& v) {
    py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
    if (!v.empty()) std::memcpy(out.mutable_data(), v.data(), v.size() * sizeof(T));
    return out;
}

// One comparison with what it counted (afis.explain). Indices and "a"/"b" are those of the
// matcher's canonical order: `swapped` says whether that put b first.
py::dict explain_sets(const afis::CylinderSet& a, const afis::CylinderSet& b) {
    afis::ComparisonDetail d;
    {
        py::gil_scoped_release release;
        afis::compare_explained(a.view(), b.view(), d);
    }
    py::dict local;
    local["divisor"] = d.local.divisor;
    local["a"] = to_array(d.local.a);
    local["b"] = to_array(d.local.b);
    local["weight"] = to_array(d.local.weight);
    local["similarity"] = to_array(d.local.similarity);
    py::dict global;
    global["anchor"] = d.global.anchor;
    global["anchor_a"] = d.global.anchor_a;
    global["anchor_b"] = d.global.anchor_b;
    global["rotation"] = d.global.rotation;
    global["translation_x"] = d.global.translation_x;
    global["translation_y"] = d.global.translation_y;
    global["mates"] = d.global.mates;
    global["score"] = d.global.score;
    global["overlap_a"] = d.global.overlap_a;
    global["overlap_b"] = d.global.overlap_b;
    global["a"] = to_array(d.global.a);
    global["b"] = to_array(d.global.b);
    global["weight"] = to_array(d.global.weight);
    py::dict out;
    out["score"] = d.score;
    out["lssr"] = d.lssr;
    out["pairing"] = d.pairing;
    out["swapped"] = d.swapped;
    out["pairing_ran"] = d.pairing_ran;
    out["local"] = local;
    out["global"] = global;
    return out;
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

// The cylinders of many templates, built on `threads` threads with the GIL released and packed
// as pack() packs them: template i has counts[i] consecutive minutiae of x, y and direction
// (checked as Cylinders() checks them).
py::dict prepare_packed(const FloatArray& x, const FloatArray& y, const FloatArray& direction,
                        const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& counts,
                        int threads) {
    const std::vector<afis::MatchMinutia> all = match_minutiae(x, y, direction, false);
    if (counts.ndim() != 1) throw py::value_error("counts must be a 1-D array");
    const py::ssize_t n = counts.shape(0);
    const std::int64_t* count = counts.data();
    py::array_t<std::int64_t> offsets(n + 1);
    auto* off = offsets.mutable_data();
    std::int64_t total = 0;
    for (py::ssize_t i = 0; i < n; ++i) {
        if (count[i] < 0 || count[i] > afis::MAX_MINUTIAE)
            throw py::value_error("each template must have 0.." + std::to_string(afis::MAX_MINUTIAE) +
                                  " minutiae, got " + std::to_string(count[i]));
        off[i] = total;
        total += count[i];
    }
    off[n] = total;
    if (total != static_cast<std::int64_t>(all.size()))
        throw py::value_error("counts must add up to the number of minutiae");
    const auto rows = static_cast<py::ssize_t>(total);
    py::array_t<float> minutiae({rows, py::ssize_t{3}});
    py::array_t<std::uint64_t> bits({rows, py::ssize_t{afis::CYLINDER_WORDS}});
    py::array_t<std::uint64_t> valid({rows, py::ssize_t{afis::CYLINDER_WORDS}});
    py::array_t<std::uint8_t> usable(rows);
    float* out_minutiae = minutiae.mutable_data();
    std::uint64_t *out_bits = bits.mutable_data(), *out_valid = valid.mutable_data();
    std::uint8_t* out_usable = usable.mutable_data();
    {
        py::gil_scoped_release release;
        afis::parallel_for(n, workers_for(threads, n), 8, [&](std::ptrdiff_t i, int /*worker*/) {
            const std::vector<afis::MatchMinutia> one(all.begin() + off[i], all.begin() + off[i + 1]);
            const afis::CylinderSet s = afis::build_cylinders(one);
            const std::size_t k = one.size(), at = static_cast<std::size_t>(off[i]);
            if (!k) return;
            std::memcpy(out_minutiae + at * 3, s.minutiae.data(), k * sizeof(afis::MatchMinutia));
            std::memcpy(out_bits + at * afis::CYLINDER_WORDS, s.bits.data(), s.bits.size() * 8);
            std::memcpy(out_valid + at * afis::CYLINDER_WORDS, s.valid.data(), s.valid.size() * 8);
            std::memcpy(out_usable + at, s.usable.data(), k);
        });
    }
    py::dict d;
    d["offsets"] = offsets;
    d["minutiae"] = minutiae;
    d["bits"] = bits;
    d["valid"] = valid;
    d["usable"] = usable;
    return d;
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
                                const py::array& valid, const py::array& usable, int threads,
                                const py::object& rows) {
    if (offsets.ndim() != 1 || offsets.shape(0) < 1) throw py::value_error("gallery offsets must be 1-D and non-empty");
    const py::ssize_t n = offsets.shape(0) - 1;
    const auto* off = checked<std::int64_t>(offsets, n + 1, 0, "offsets");
    const py::ssize_t total = minutiae.ndim() >= 1 ? minutiae.shape(0) : -1;
    const auto* mins = checked<float>(minutiae, total, 3, "minutiae");
    const auto* b = checked<std::uint64_t>(bits, total, afis::CYLINDER_WORDS, "bits");
    const auto* v = checked<std::uint64_t>(valid, total, afis::CYLINDER_WORDS, "valid");
    const auto* u = checked<std::uint8_t>(usable, total, 0, "usable");
    check_offsets(off, n, total);
    // rows: score only those templates (in that order, repeats allowed), read in place
    const std::int64_t* picked = nullptr;
    py::ssize_t m = n;
    if (!rows.is_none()) {
        const auto r = py::reinterpret_borrow<py::array>(rows);
        if (r.ndim() != 1) throw py::value_error("rows must be 1-D");
        m = r.shape(0);
        picked = checked<std::int64_t>(r, m, 0, "rows");
        for (py::ssize_t i = 0; i < m; ++i)
            if (picked[i] < 0 || picked[i] >= n)
                throw py::value_error("rows must index the gallery's " + std::to_string(n) + " templates, got " +
                                      std::to_string(picked[i]));
    }
    py::array_t<float> scores(m);
    float* out = scores.mutable_data();
    const afis::CylinderView pv = probe.view();
    const int workers = workers_for(threads, m);
    std::atomic<py::ssize_t> corrupt{-1};  // a gallery template with minutiae out of bounds
    {
        py::gil_scoped_release release;
        constexpr std::ptrdiff_t CHUNK = 64;
        afis::parallel_for(m, workers, CHUNK, [&](std::ptrdiff_t i, int /*worker*/) {
            const std::ptrdiff_t row = picked ? picked[i] : i;
            const afis::CylinderView g = gallery_view(off, mins, b, v, u, row);
            // Checked here, where the template is about to be read anyway.
            if (!in_bounds(g)) {
                corrupt.store(row);
                out[i] = 0.0f;
                return;
            }
            out[i] = afis::compare(pv, g);
        });
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

}  // namespace

void bind_match(py::module_& m) {
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
    m.def("compare", &compare_sets, py::arg("a"), py::arg("b"), "Similarity of two templates in [0, 1].");
    m.def("explain", &explain_sets, py::arg("a"), py::arg("b"),
          "compare() recording what it counted: LSS-R's pairs and the global pairing's.");
    m.def("prepare_packed", &prepare_packed, py::arg("x"), py::arg("y"), py::arg("direction"),
          py::arg("counts"), py::arg("threads"),
          "Cylinders of many templates (counts[i] consecutive minutiae each), built on `threads` "
          "threads and packed as pack() packs them.");
    m.def("pack", &pack, py::arg("cylinders"), "Pack cylinder sets into contiguous gallery arrays.");
    m.def("compare_many", &compare_many, py::arg("probe"), py::arg("offsets"), py::arg("minutiae"),
          py::arg("bits"), py::arg("valid"), py::arg("usable"), py::arg("threads"), py::arg("rows") = py::none(),
          "Score a probe against every template of a packed gallery (or those at `rows`, read in "
          "place) on `threads` threads.");
    // Test hooks: the instruction set of the comparison kernels (0 plain, 1 AVX2, 2 AVX-512).
    // Every level gives the same scores; capping it lets tests check that.
    m.def("_simd_supported", [] { return static_cast<int>(afis::simd_supported()); });
    m.def("_simd_level", [] { return static_cast<int>(afis::simd_level()); });
    m.def("_set_simd_limit", [](int level) {
        if (level < 0 || level > static_cast<int>(afis::SimdLevel::AVX512))
            throw py::value_error("SIMD level must be 0, 1 or 2");
        return static_cast<int>(afis::set_simd_limit(static_cast<afis::SimdLevel>(level)));
    }, py::arg("level"), "Cap the SIMD level of the matcher's kernels; returns the previous cap.");
    m.def("_reference_cylinders", &make_reference_cylinders, py::arg("x"), py::arg("y"), py::arg("direction"),
          "Cylinders built by the original, unoptimised builder (the fast one must give the same bits).");
    m.def("_local_similarities", &local_similarities, py::arg("a"), py::arg("b"),
          "Local-similarity matrix of two templates given as (minutiae, bits, valid, usable).");
    m.attr("CYLINDER_WORDS") = afis::CYLINDER_WORDS;
    m.attr("MAX_MINUTIAE") = afis::MAX_MINUTIAE;
    m.attr("MAX_MATCH_MINUTIAE") = afis::MAX_MATCH_MINUTIAE;
    m.attr("LSSR_WEIGHT") = afis::match_params::LSSR_WEIGHT;
    m.attr("PAIRING_MIN_OVERLAP") = afis::match_params::PAIRING_MIN_OVERLAP;
    m.attr("PAIRING_TOLERANCE") = afis::match_params::PAIRING_TOLERANCE;
    m.attr("PAIRING_TOLERANCE_GROWTH") = afis::match_params::PAIRING_TOLERANCE_GROWTH;
    m.attr("PAIRING_DISTANCE_DISCOUNT") = afis::match_params::PAIRING_DISTANCE_DISCOUNT;
}

}  // namespace afis::bindings
