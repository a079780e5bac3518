"""``python -m found``: small operator commands.

python -m found lib-path          print the embedded engine's path (a libfdb_c)
python -m found fdb-link install  make the official `fdb` binding load the engine
python -m found fdb-link remove   undo it
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from . import _native


def _fdb_pth_path() -> Path:
    spec = importlib.util.find_spec("fdb")
    if spec is None or spec.origin is None:
        raise SystemExit("the official binding is not installed (pip install foundationdb)")
    return Path(spec.origin).parent / "libfdb_c.so.pth"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m found",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("lib-path", help="print the embedded engine's path")
    link = commands.add_parser("fdb-link", help="point the official fdb binding at the engine")
    link.add_argument("action", choices=["install", "remove"])
    arguments = parser.parse_args(argv)

    if arguments.command == "lib-path":
        print(_native.embedded_library_path())
        return 0
    pth = _fdb_pth_path()
    if arguments.action == "install":
        pth.write_text(_native.embedded_library_path() + "\n")
        print(f"wrote {pth}: `import fdb` now loads found's engine")
    elif pth.exists():
        pth.unlink()
        print(f"removed {pth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
