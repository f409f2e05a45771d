"""Ingest benchmark: read, map, validate, assign geography and write parquet for N rows of the demo extract.

Target (issue 3): 1 million rows in at most 10 s on 2 cores with peak memory under 2 GiB.

Usage::

    .venv/bin/python benchmarks/bench_ingest.py [--rows 1000000]

It takes the first N rows of the demo extract in ``data/raw/demo`` (run ``make data`` first; rows are taken from
each force file in turn), writes them as one file in the same layout, then runs ``svtools ingest`` on it in a
fresh process (so imports and reference loading count) and prints wall time and the child's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from svtools.paths import raw_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    files = sorted((raw_dir() / "demo").glob("*_crime_extract.csv"))
    if not files:
        sys.exit("no demo extract: run `make data` (or `svtools demo-data`) first")
    parts, n = [], 0
    for f in files:
        part = pd.read_csv(f, dtype=str, keep_default_na=False, nrows=args.rows - n)
        parts.append(part)
        n += len(part)
        if n >= args.rows:
            break
    with tempfile.TemporaryDirectory() as tmp:
        extract = Path(tmp) / "bench_crime_extract.csv"
        pd.concat(parts).to_csv(extract, index=False)
        cmd = [sys.executable, "-m", "svtools.cli", "ingest", "--extract", str(extract), "--mapping", "demo_extract",
               "--dataset", "bench", "--out", str(Path(tmp) / "processed")]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if done.returncode:
        sys.exit(done.stderr)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(done.stdout.strip())
    print(f"ingest of {n:,} rows: {wall:.1f} s wall (target <= 10 s), peak memory {peak_mib:,.0f} MiB "
          f"(target < 2048 MiB), {n / wall:,.0f} rows/s")


if __name__ == "__main__":
    main()
