// Bindings of the extraction pipeline: images in as uint8 arrays, features (and optionally the
// trace of every stage) out as dicts of arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "afis/extract/params.hpp"
#include "afis/extract/stages.hpp"
#include "common.hpp"

namespace afis::bindings {
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

}  // namespace

void bind_extract(py::module_& m) {
    m.def("extract", &extract, py::arg("image"), py::arg("max_minutiae"), py::arg("trace") = false,
          "Extract features from a uint8 image already at 500 ppi.");
    m.def("resample", &resample, py::arg("image"), py::arg("scale"),
          "Rescale a uint8 image by `scale` (area-averaged when shrinking).");
    m.def("thin", &thin, py::arg("binary"), "Skeletonize a binary image (non-zero = ridge).");
    m.def("skeleton_minutiae", &skeleton_minutiae, py::arg("skeleton"), py::arg("filter") = false,
          "Minutiae of a one-pixel-wide skeleton, optionally after the ridge-graph filters.");
    m.attr("PROCESSING_PPI") = afis::params::PROCESSING_PPI;
    m.attr("MIN_IMAGE_SIDE") = afis::params::MIN_IMAGE_SIDE;
    m.attr("MAX_IMAGE_SIDE") = afis::params::MAX_IMAGE_SIDE;
}

}  // namespace afis::bindings
