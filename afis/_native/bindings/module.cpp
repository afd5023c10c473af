// The module afis._native._core: the bindings of each concern (extract.cpp, match.cpp,
// index.cpp, codecs.cpp). The binding files are the only ones that know Python: they convert
// numpy buffers to plain values at the boundary, check shapes and dtypes there once, release
// the GIL around native work and convert results back; the Python layer above explains errors
// in domain terms.
#include <pybind11/pybind11.h>

#include "common.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "nusafis native core: minutiae extraction stages (C++17)";
    afis::bindings::bind_extract(m);
    afis::bindings::bind_match(m);
    afis::bindings::bind_index(m);
    afis::bindings::bind_codecs(m);
}
