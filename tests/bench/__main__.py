"""Run the benchmarks and print their figures: `python -m tests.bench [name ...]`."""

from __future__ import annotations

import importlib
from pathlib import Path
import platform
import sys
import time


def main(names: list[str]) -> None:
    """Import each tests/bench/bench_<name>.py and print what its run() returns."""
    folder = Path(__file__).parent
    modules = sorted(p.stem for p in folder.glob("bench_*.py"))
    if names:
        modules = [m for m in modules if m.removeprefix("bench_") in names]
    print(f"# Home Battery benchmarks — Python {platform.python_version()}, {platform.machine()}")
    for name in modules:
        started = time.perf_counter()
        module = importlib.import_module(f"tests.bench.{name}")
        print(f"\n## {name.removeprefix('bench_')}")
        for figure, value in module.run():
            print(f"{figure:<58} {value}")
        print(f"{'(benchmark took)':<58} {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
