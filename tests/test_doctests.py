"""The examples in every docstring of the engine and the enrolment layer run and give what they
show (the card reader's are in ``test_reader_doctests.py``)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import afis
import enrollment

MODULES = sorted(
    m.name
    for package in (afis, enrollment)
    for m in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
    if not m.name.endswith(("__main__", "_wsq_worker"))
)
#: Public modules without examples of their own: namespaces, constants, errors, the CLI.
NO_EXAMPLES = {
    "afis.bench",
    "afis.cli",
    "afis.errors",
    "afis.extract",
    "afis.index",
}


def _private(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    if not _private(name) and name not in NO_EXAMPLES:
        assert result.attempted > 0, f"public module {name} has no docstring examples"
