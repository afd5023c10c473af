"""The examples in every docstring of the package run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import afis

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(afis.__path__, prefix="afis.")
    if not m.name.endswith(("__main__", "_wsq_worker"))
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
