"""Build script for the native core ``afis._native``.

Everything declarative lives in ``pyproject.toml``; this file only describes the C++
extension, because its flags depend on the environment:

``AFIS_NATIVE_ARCH``
    Passed as ``-march=<value>`` (e.g. ``native``). Unset by default so wheels stay
    portable; hot loops pick their SIMD level at run time through ``target_clones``.
``AFIS_SANITIZE``
    ``address`` builds with AddressSanitizer and UndefinedBehaviorSanitizer (for the
    bad-input suite; run Python with ``LD_PRELOAD=$(g++ -print-file-name=libasan.so)``).
``AFIS_DEBUG``
    ``1`` builds without optimisation and with debug symbols.
"""

from __future__ import annotations

import os
from glob import glob

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup

ParallelCompile("AFIS_BUILD_JOBS", default=0).install()

# -ffp-contract=off: no fused multiply-adds behind the source's back, so scores are the same
# bit for bit whatever -march or run-time kernel (the matcher's SIMD levels rely on it).
compile_args = [
    "-O3",
    "-ffp-contract=off",
    "-fvisibility=hidden",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
]
link_args: list[str] = []
if arch := os.environ.get("AFIS_NATIVE_ARCH"):
    compile_args.append(f"-march={arch}")
if os.environ.get("AFIS_DEBUG") == "1":
    compile_args = [a for a in compile_args if not a.startswith("-O")] + ["-O0", "-g"]
if os.environ.get("AFIS_SANITIZE") == "address":
    sanitize = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
    compile_args += sanitize
    link_args += sanitize

# Sources grouped by concern in subfolders of src/ (see afis/_native/README.md), then the bindings.
native_sources = [
    *sorted(glob("afis/_native/src/**/*.cpp", recursive=True)),
    *sorted(glob("afis/_native/bindings/*.cpp")),
]

ext_modules = [
    Pybind11Extension(
        "afis._native._core",
        native_sources,
        include_dirs=["afis/_native/include"],
        cxx_std=17,
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    ),
]

setup(ext_modules=ext_modules, cmdclass={"build_ext": build_ext})
