"""Benchmark: the naive papermill + nbconvert loop against ``svtools build`` (warm kernels in parallel).

Naive (what most teams start with, batch_reporting.md §7): for each CSP, one after another,
``papermill <nb> out.ipynb -p csp_code X ...`` then ``jupyter nbconvert --to html --no-input out.ipynb``.
svtools: ``svtools build --notebook <nb> --csp ... --jobs <cores> --force-all`` (a fresh process, so interpreter
start, imports, worker and kernel start-up all count).

Prints seconds per page for both, the ratio, peak memory per worker (worker process + its kernel, from the
build's manifest) and the largest page, against the targets of issue 12 (>= 20x the naive loop, <= 1 GiB per
worker, <= 1 MB a page). Prints figures only; asserts nothing. What one page costs in a warm process, section
by section, is ``benchmarks/bench_page.py``.

    make data                                   # or point SVTOOLS_DATA at a processed dataset
    .venv/bin/python benchmarks/bench_build.py  # --csps 41 --naive 4 --notebook csp_profile --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def naive(notebook: Path, codes: list[str], params: dict, kernel: str, work: Path, env: dict) -> dict:
    """papermill CLI then nbconvert CLI, one CSP after another."""
    per_page, sizes = [], []
    for code in codes:
        out = work / f"naive_{code}.ipynb"
        args = [str(BIN / "papermill"), str(notebook), str(out), "-k", kernel, "--no-progress-bar",
                "-p", "csp_code", code]
        for k, v in params.items():
            args += ["-p", k, str(v)]
        t = _run(args, env)
        t += _run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(out)], env)
        per_page.append(t)
        sizes.append(out.with_suffix(".html").stat().st_size)
        print(f"  naive {code}: {t:.1f}s", flush=True)
    return {"pages": len(codes), "seconds": sum(per_page), "per_page": statistics.mean(per_page),
            "max_page_bytes": max(sizes)}


def svtools_build(notebook: str, codes: list[str], jobs: int, out: Path, env: dict) -> dict:
    """``svtools build`` in a fresh process, every page re-run."""
    cmd = [sys.executable, "-m", "svtools.cli", "build", "--notebook", notebook, "--csp", *codes,
           "--jobs", str(jobs), "--out", str(out), "--force-all", "--quiet"]
    seconds = _run(cmd, env)
    # a filtered run (--csp, --notebook) keeps its own folder and moves no latest link: read the newest run
    run = max(d for d in out.glob("2*") if d.is_dir() and not d.name.endswith(".partial"))
    manifest = json.loads((run / "manifest.json").read_text())
    ran = [j for j in manifest["jobs"] if j["status"] in ("ok", "failed")]
    per_worker: dict[int, float] = {}
    for j in ran:
        rss = (j.get("worker_peak_rss_mb") or 0) + (j.get("kernel_peak_rss_mb") or 0)
        per_worker[j["worker_pid"]] = max(per_worker.get(j["worker_pid"], 0), rss)
    return {"pages": len(ran), "failed": manifest["status"]["failed"], "seconds": seconds,
            "per_page": seconds / max(1, len(ran)),
            "job_seconds_median": statistics.median(j["seconds"] for j in ran),
            "peak_rss_mb_per_worker": max(per_worker.values(), default=0), "workers": len(per_worker),
            "max_page_bytes": manifest["max_page_bytes"], "build_seconds": manifest["seconds"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--notebook", default="csp_profile", help="notebook name in notebooks/ (default csp_profile)")
    p.add_argument("--csps", type=int, default=41, help="CSPs for svtools build (default 41, or all there are)")
    p.add_argument("--naive", type=int, default=4, help="CSPs for the naive loop (default 4; it is sequential)")
    p.add_argument("--jobs", type=int, default=os.cpu_count(), help="svtools workers (default: cores)")
    p.add_argument("--dataset", default="demo")
    args = p.parse_args(argv)

    from svtools.ingest.store import csp_codes, dataset_dir
    from svtools.publish.render import check_template, default_kernel_name

    dataset_dir(args.dataset)  # clear error if the data are not there
    nb = ROOT / "notebooks" / f"{args.notebook}.ipynb"
    declared = check_template(nb)
    info = json.loads((dataset_dir(args.dataset) / "dataset.json").read_text())
    params = {k: v for k, v in {"dataset": args.dataset, "definition": "knife_serious_violence",
                                "period_end": info["period_end"]}.items() if k in declared}
    with_records = {p.name.split("=", 1)[1] for p in (dataset_dir(args.dataset) / "records").glob("csp_code=*")}
    codes = [c for c in csp_codes(args.dataset) if c in with_records]
    kernel = default_kernel_name()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    print(f"benchmark: {args.notebook}, dataset {args.dataset} ({info.get('rows', '?'):,} rows, "
          f"{len(codes)} CSPs with records), {os.cpu_count()} cores, kernel '{kernel}'", flush=True)

    with tempfile.TemporaryDirectory(prefix="svtools-bench-") as tmp:
        work = Path(tmp)
        n_naive = codes[: max(1, min(args.naive, len(codes)))]
        print(f"naive papermill + nbconvert CLI, {len(n_naive)} CSPs one after another:", flush=True)
        a = naive(nb, n_naive, params, kernel, work, env)
        n_fast = codes[: max(1, min(args.csps, len(codes)))]
        print(f"svtools build, {len(n_fast)} CSPs, --jobs {args.jobs}:", flush=True)
        b = svtools_build(args.notebook, n_fast, args.jobs, work / "outputs", env)

    ratio = a["per_page"] / b["per_page"]
    print()
    print(f"naive:   {a['per_page']:6.2f} s/page  ({a['pages']} pages in {a['seconds']:.1f}s; "
          f"largest page {a['max_page_bytes'] / 1024:.0f} KB)")
    print(f"svtools: {b['per_page']:6.2f} s/page  ({b['pages']} pages in {b['seconds']:.1f}s wall incl. start-up, "
          f"{b['workers']} workers; median job {b['job_seconds_median']:.2f}s on a warm kernel)")
    print(f"ratio:   {ratio:6.1f}x faster per page (target >= 20x: <= {a['per_page'] / 20:.2f} s/page here)")
    print(f"memory:  {b['peak_rss_mb_per_worker']:.0f} MB peak per worker (worker process + its kernel; "
          f"target <= 1024 MB)")
    print(f"size:    {b['max_page_bytes'] / 1024:.0f} KB largest page (target <= 1 MB)")
    if b["failed"]:
        print(f"warning: {b['failed']} pages failed in the svtools build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
