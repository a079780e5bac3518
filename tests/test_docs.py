"""The generated API reference matches the code, every public name has a docstring, and
the README's programs run as printed."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

from helpers import run_python

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


def test_the_readme_first_program_runs_as_printed(tmp_path):
    readme = (DOCS.parent / "README.md").read_text()
    program = readme.split("## A first program")[1].split("```python")[1].split("```")[0]
    result = run_python("-c", program, env={"FOUND_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'alice': 70, 'bob': 30}"


def test_the_readme_layers_example_runs_as_printed():
    readme = (DOCS.parent / "README.md").read_text()
    program = readme.split("## Layers and more")[1].split("```python")[1].split("```")[0]
    result = run_python("-c", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(['Bob'], True, ['fdb'], b'hello')"
