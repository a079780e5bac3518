"""The generated API reference matches the code, and every public name has a docstring."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import found

DOCS = Path(__file__).resolve().parent.parent / "docs"


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_api", DOCS / "generate_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_is_up_to_date():
    assert (DOCS / "api.md").read_text() == load_generator().render(), (
        "docs/api.md is stale: run `python docs/generate_api.py`"
    )


def test_every_public_name_has_a_docstring():
    missing = [
        name
        for name in found.__all__
        if not inspect.ismodule(getattr(found, name)) and not inspect.getdoc(getattr(found, name))
    ]
    assert not missing
