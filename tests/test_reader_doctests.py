"""The examples in every docstring of the reader package run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import reader

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(reader.__path__, prefix="reader.")
    if not m.name.endswith("__main__")
)
#: Public modules without examples of their own: the package, the CLI.
NO_EXAMPLES = {"reader", "reader.cli"}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    private = any(part.startswith("_") for part in name.split("."))
    if not private and name not in NO_EXAMPLES:
        assert result.attempted > 0, f"public module {name} has no docstring examples"
