"""The generated API reference matches the code, every public name has a docstring, and
the README's programs run as printed."""

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


def test_the_readme_first_program_runs_as_printed(tmp_path):
    import os
    import subprocess
    import sys

    readme = (DOCS.parent / "README.md").read_text()
    program = readme.split("## A first program")[1].split("```python")[1].split("```")[0]
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, FOUND_DATA_DIR=str(tmp_path)),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'alice': 70, 'bob': 30}"


def test_the_readme_layers_example_runs_as_printed():
    import subprocess
    import sys

    readme = (DOCS.parent / "README.md").read_text()
    program = readme.split("## Layers and more")[1].split("```python")[1].split("```")[0]
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(['Bob'], True, ['fdb'], b'hello')"
