// Bindings of the image codecs' native checks: the structural scan of a WSQ file.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string_view>

#include "afis/codecs/wsq.hpp"
#include "common.hpp"

namespace afis::bindings {

void bind_codecs(py::module_& m) {
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
}

}  // namespace afis::bindings
