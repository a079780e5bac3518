"""What every benchmark prints the same way: progress on stderr, figures in a table, and
the command that reproduces the run."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def log(text: str) -> None:
    """Progress, on stderr (the table goes to stdout)."""
    print(text, file=sys.stderr, flush=True)


def cell(value: float) -> str:
    """A figure in a table cell: 12.3k-style above 100,000, "n/a" for no sample (NaN)."""
    if value != value:
        return "n/a"
    if value >= 100_000:
        return f"{value / 1000:,.0f}k"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def reproduce_command(script: str, argv: list[str]) -> str:
    """The shell command that runs `script` (a path under the repository) again with the
    same arguments and FOUND_* environment."""
    python = Path(sys.executable)
    try:
        python_text = str(python.relative_to(REPO)) if python.is_relative_to(REPO) else str(python)
    except ValueError:
        python_text = str(python)
    environment = [f"{name}={shlex.quote(value)}" for name, value in sorted(os.environ.items())
                   if name.startswith("FOUND_")]
    command = " ".join([*environment, python_text, script, *map(shlex.quote, argv)])
    return f"cd {shlex.quote(str(REPO))} && {command}"


def _load_averages() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


class RunBookends:
    """What a long benchmark prints around its table: at the start, the command that
    reproduces it (and a warning when FOUND_SYNC=0 makes durable rows not durable); at
    the end, how long it took and the load averages at both ends (the machine is shared)."""

    def __init__(self, script: str, argv: list[str]) -> None:
        print(f"reproduce: {reproduce_command(script, argv)}", flush=True)
        if os.environ.get("FOUND_SYNC", "1").strip() == "0":
            print("warning: FOUND_SYNC=0 disables fdatasync: the durable rows are not durable")
        self.started = time.time()
        self.load_at_start = _load_averages()

    def closing_line(self) -> str:
        return (f"\n({time.time() - self.started:.0f} s; load average at the start "
                f"{self.load_at_start}, at the end {_load_averages()})")
