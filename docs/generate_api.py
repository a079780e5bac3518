"""Writes docs/api.md: one section per public name of `found`, from its signature and
docstring. `tests/test_docs.py` fails when the file is out of date; regenerate with

    python docs/generate_api.py
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import found

OUTPUT = Path(__file__).resolve().parent / "api.md"


def render() -> str:
    lines = [
        "# `found` API reference",
        "",
        "Generated from the code by `python docs/generate_api.py`; every name below is",
        "importable from `found`. Errors are in `found.errors` (see the README).",
        "",
    ]
    for name in sorted(found.__all__, key=str.lower):
        value = getattr(found, name)
        if inspect.ismodule(value):
            continue
        kind = "class" if inspect.isclass(value) else "function" if callable(value) else "object"
        if kind == "object":
            value = type(value)
        try:
            signature = str(inspect.signature(value, eval_str=True))
        except (NameError, TypeError, ValueError):
            try:
                signature = str(inspect.signature(value))
            except (TypeError, ValueError):
                signature = "(...)"
        prefix = "async " if inspect.iscoroutinefunction(value) else ""
        lines.append(f"## `{name}`")
        lines.append("")
        lines.append(f"```python\n{prefix}{kind} {name}{signature}\n```")
        lines.append("")
        lines.append(inspect.getdoc(value) or "(no docstring)")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}", file=sys.stderr)
