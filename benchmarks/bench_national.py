"""Benchmark: ``svtools build`` on the national SYNTHETIC demo, wall time against pages (issue 12).

Generates (or reuses) the national demo (``svtools demo-data --forces all --scale S``, 43 forces, 314 CSPs) and
ingests it into its own data folder, then runs ``svtools build --force-all`` in a fresh process for each size
and number of workers asked, and prints one table row per run: CSPs, pages, failures, wall seconds (interpreter
start-up, imports, worker and kernel start included), wall seconds per page, the median and 90th percentile of
the per-page job times and the peak memory per worker (worker process + its kernel) from the run's manifest,
and the largest page. Prints figures only; asserts nothing.

Sizes are whole forces in the generator's order (the nine demo forces first), so ``--csps 41`` is exactly the
9-force demo area, ``--csps 150`` the first forces that reach 150 CSPs and ``--csps 314`` (or more) every CSP;
each run builds every page of its forces (CSP and force pages; ``--notebook`` to restrict).

    .venv/bin/python benchmarks/bench_national.py                         # 41, 150, 314 CSPs x 1 and 2 workers
    .venv/bin/python benchmarks/bench_national.py --csps 41 --jobs 1      # one run
    .venv/bin/python benchmarks/bench_national.py --data /tmp/nat --reuse # keep and reuse the generated data
    .venv/bin/python benchmarks/bench_national.py --data /tmp/nat --reuse --csps 314 --jobs 2 --cold --out /tmp/o

The ``gate`` column says whether the disclosure gate's disk cache (``<processed>/.cache/gate``) held any
protection when the run started: ``cold`` (every family's suppression searched afresh, as on new data) or
``warm`` (protections of the same data and code restored). ``--cold`` empties it before each run.
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


def _run(cmd: list[str], env: dict, allow_fail: bool = False) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0 and not allow_fail:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return seconds, proc.returncode, proc.stdout + proc.stderr


def prepare(data: Path, scale: float, seed: int, reuse: bool, env: dict) -> dict:
    """Generate and ingest the national demo into ``data`` (``raw/demo``, ``processed/demo``) unless reused."""
    truth = data / "raw" / "demo" / "truth.json"
    info = data / "processed" / "demo" / "dataset.json"
    if reuse and truth.is_file() and info.is_file():
        gen = json.loads(truth.read_text())["generator"]
        if len(gen["forces"]) == 43 and gen["scale"] == scale and gen["seed"] == seed:
            print(f"reusing the national demo in {data} (scale {scale}, seed {seed})", flush=True)
            return {"generate_seconds": None, "ingest_seconds": None}
        print(f"{data} holds another demo (forces {len(gen['forces'])}, scale {gen['scale']}): regenerating")
    cli = [sys.executable, "-m", "svtools.cli"]
    print(f"generating the national demo (scale {scale}) into {data} ...", flush=True)
    g, _, _ = _run(cli + ["demo-data", "--forces", "all", "--scale", str(scale), "--seed", str(seed),
                          "--out", str(data / "raw" / "demo"), "--quiet"], env)
    print(f"  demo-data {g:.1f}s; ingesting ...", flush=True)
    i, _, _ = _run(cli + ["ingest"], env)
    print(f"  ingest {i:.1f}s", flush=True)
    return {"generate_seconds": g, "ingest_seconds": i}


def forces_for(n_csps: int, env: dict) -> tuple[list[str], int]:
    """Whole forces in generator order until at least ``n_csps`` CSPs: (PFA codes, CSPs)."""
    code = ("import json; from svtools.ingest.demo import national_forces; from svtools.ingest.geography import areas;"
            "a = areas().groupby('pfa_code')['csp_code'].nunique().to_dict();"
            "print(json.dumps([[v['pfa_code'], a[v['pfa_code']]] for v in national_forces().values()]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    pfas, total = [], 0
    for pfa, n in json.loads(out.stdout.strip().splitlines()[-1]):
        if total >= n_csps:
            break
        pfas.append(pfa)
        total += n
    return pfas, total


def build(pfas: list[str] | None, jobs: int, out: Path, notebooks: list[str] | None, env: dict) -> dict:
    """One ``svtools build`` in a fresh process, every page re-run; figures from its manifest."""
    cmd = [sys.executable, "-m", "svtools.cli", "build", "--jobs", str(jobs), "--out", str(out), "--force-all",
           "--quiet"]
    if pfas:
        cmd += ["--force", *pfas]
    if notebooks:
        cmd += ["--notebook", *notebooks]
    before = {d.name for d in out.glob("2*")} if out.exists() else set()
    seconds, rc, text = _run(cmd, env, allow_fail=True)
    runs = [d for d in out.glob("2*") if d.is_dir() and d.name not in before and not d.name.endswith(".partial")]
    if not runs:
        sys.exit(f"build wrote no run (exit {rc}):\n{text[-2000:]}")
    manifest = json.loads((max(runs) / "manifest.json").read_text())
    ran = [j for j in manifest["jobs"] if j["status"] in ("ok", "failed")]
    per_worker: dict = {}
    for j in ran:
        rss = (j.get("worker_peak_rss_mb") or 0) + (j.get("kernel_peak_rss_mb") or 0)
        per_worker[j.get("worker_pid")] = max(per_worker.get(j.get("worker_pid"), 0), rss)
    times = sorted(j["seconds"] for j in ran if j.get("seconds") is not None)
    p90 = times[min(len(times) - 1, int(0.9 * len(times)))] if times else float("nan")
    return {"pages": len(ran), "failed": manifest["status"]["failed"], "wall": seconds,
            "per_page": seconds / max(1, len(ran)), "median_job": statistics.median(times) if times else float("nan"),
            "p90_job": p90, "peak_mb": max(per_worker.values(), default=0), "workers": len(per_worker),
            "max_page_kb": (manifest.get("max_page_bytes") or 0) / 1024, "run": str(max(runs)),
            "errors": sorted({f"{j['notebook']}: {j.get('ename')}" for j in ran if j["status"] == "failed"}),
            "first_failures": [f"{j['job_id']}: {j.get('ename')}: {str(j.get('evalue'))[:200]}"
                               for j in ran if j["status"] == "failed"][:5]}


def gate_cache_entries(data: Path) -> int:
    """Protections on record in the gate's disk cache (``<processed>/.cache/gate``): 0 = a cold run."""
    folder = data / "processed" / ".cache" / "gate"
    return sum(1 for _ in folder.glob("*.json")) if folder.is_dir() else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--csps", type=int, nargs="+", default=[41, 150, 314],
                   help="sizes in CSPs (whole forces; default 41 150 314)")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="workers (default 1 2)")
    p.add_argument("--scale", type=float, default=0.1, help="demo volume scale (default 0.1)")
    p.add_argument("--seed", type=int, default=20250331)
    p.add_argument("--data", type=Path, default=None,
                   help="data folder for the national demo (default a temporary folder, removed at the end)")
    p.add_argument("--reuse", action="store_true", help="reuse the demo already generated and ingested in --data")
    p.add_argument("--notebook", nargs="+", default=None, help="only these notebooks")
    p.add_argument("--out", type=Path, default=None,
                   help="outputs folder to keep (default a temporary folder, removed at the end)")
    p.add_argument("--cold", action="store_true",
                   help="empty the gate's disk cache before each run (every protection searched afresh)")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="svtools-bench-national-") as tmp:
        data = args.data or Path(tmp) / "data"
        outputs = args.out or Path(tmp) / "outputs"
        env = {**os.environ, "SVTOOLS_DATA": str(data), "SVTOOLS_OUTPUTS": str(outputs),
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        prep = prepare(data, args.scale, args.seed, args.reuse, env)
        info = json.loads((data / "processed" / "demo" / "dataset.json").read_text())
        print(f"national demo: {info.get('rows', '?'):,} rows, scale {args.scale}; {os.cpu_count()} cores", flush=True)
        rows = []
        for n in args.csps:
            pfas, n_csp = forces_for(n, env)
            for jobs in args.jobs:
                if args.cold:
                    import shutil

                    shutil.rmtree(data / "processed" / ".cache" / "gate", ignore_errors=True)
                cached = gate_cache_entries(data)
                print(f"build: {n_csp} CSPs ({len(pfas)} forces), --jobs {jobs}, gate cache "
                      f"{'cold' if not cached else f'{cached} protections on record'} ...", flush=True)
                r = build(None if n_csp >= 314 else pfas, jobs, outputs, args.notebook, env)
                rows.append({"csps": n_csp, "forces": len(pfas), "jobs": jobs, "gate": "cold" if not cached else
                             "warm", **r})
                print(f"  {r['pages']} pages in {r['wall']:.1f}s ({r['failed']} failed)", flush=True)
                for line in r["first_failures"]:
                    print(f"    failed: {line}", flush=True)

    print()
    if prep["generate_seconds"] is not None:
        print(f"generation {prep['generate_seconds']:.1f}s, ingest {prep['ingest_seconds']:.1f}s (fresh processes)")
    head = (f"{'CSPs':>5} {'forces':>6} {'jobs':>4} {'gate':>5} {'pages':>6} {'failed':>6} {'wall s':>8} {'s/page':>7} "
            f"{'median job s':>12} {'p90 job s':>9} {'peak MB/worker':>14} {'largest KB':>10}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['csps']:>5} {r['forces']:>6} {r['jobs']:>4} {r['gate']:>5} {r['pages']:>6} {r['failed']:>6} {r['wall']:>8.1f} "
              f"{r['per_page']:>7.2f} {r['median_job']:>12.2f} {r['p90_job']:>9.2f} {r['peak_mb']:>14.0f} "
              f"{r['max_page_kb']:>10.0f}")
    for r in rows:
        if r["failed"]:
            print(f"warning: {r['failed']} pages failed at {r['csps']} CSPs, --jobs {r['jobs']}: "
                  f"{'; '.join(r['errors'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
