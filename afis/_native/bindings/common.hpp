// Shared by the binding files (never by the native core): what each concern's bindings need
// to check numpy arrays at the boundary, and the registration function of each concern.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>  // in every binding file: the same type casters everywhere

#include <algorithm>
#include <string>

namespace py = pybind11;

namespace afis::bindings {

// Each adds its concern's functions, classes and constants to the module (module.cpp).
void bind_extract(py::module_& m);
void bind_match(py::module_& m);
void bind_index(py::module_& m);
void bind_codecs(py::module_& m);

// The data of a C-contiguous array of dtype T and shape (rows, cols), or (rows,) when cols is
// 0; `name` names it in the errors ("gallery array 'name' ...").
template <typename T>
inline const T* checked(const py::array& a, py::ssize_t rows, py::ssize_t cols, const char* name) {
    if (!py::isinstance<py::array_t<T>>(a) || !(a.flags() & py::array::c_style))
        throw py::type_error(std::string("gallery array '") + name + "' has the wrong dtype or layout");
    const bool shape_ok = cols > 0 ? a.ndim() == 2 && a.shape(0) == rows && a.shape(1) == cols
                                   : a.ndim() == 1 && a.shape(0) == rows;
    if (!shape_ok)
        throw py::value_error(std::string("gallery array '") + name + "' has the wrong shape");
    return static_cast<const T*>(a.data());
}

// Threads for n independent items: `threads`, at least 1 and at most n.
inline int workers_for(int threads, py::ssize_t n) {
    return std::max(1, std::min<int>(threads, static_cast<int>(std::max<py::ssize_t>(n, 1))));
}

}  // namespace afis::bindings
