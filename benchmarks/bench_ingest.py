"""Ingest scale benchmark: ``svtools ingest`` of a large SYNTHETIC police extract (1M and 10M rows).

A large force records about a million crimes a year; seven financial years with their victims are 7-10 million
rows. Targets (issue 8, item 8): 1 million rows in at most 3 s wall; 10 million rows with peak memory at most
2 GiB.

Usage::

    .venv/bin/python benchmarks/bench_ingest.py                # --rows 1000000 10000000 --repeat 3
    .venv/bin/python benchmarks/bench_ingest.py --rows 1000000 --profile   # + cProfile of one 1M run (top 15)

The extract is generated once per row count and seed (vectorised numpy + arrow, in the layout of
``config/mappings/demo_extract.yaml``: one file per financial year 2018/19-2024/25, three large forces' 2011
LSOAs, known Home Office codes, realistic blanks, unique crime number x victim URN; every row passes strict
ingest, about 1.4% are excluded as unlocated) and cached in ``data/raw/bench/`` (git-ignored; about 180 bytes
a row, so 1.7 GiB for 10M rows: delete the folder to reclaim the space). Each measurement runs the ingest in a
fresh process (interpreter start, imports and reference loading count), started by its own wrapper process so
that peak memory is the child's own: ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of the wrapper (the largest
single process) and, when psutil is installed, the sampled peak of the RSS summed over the child's process
tree (catches worker processes). A run is killed if its tree exceeds ``--mem-limit`` GiB (default 80% of the
memory available at start) or ``--timeout`` s. Cases under 5 million rows run ``--repeat`` times (min and
median reported), larger ones ``--repeat-large`` times. Prints figures only; asserts nothing. Run one
benchmark at a time on a shared machine: the 10M case of the engine at commit 0a280d8 peaks at about 11 GiB.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from svtools.ingest.extract import load_mapping
from svtools.ingest.geography import lsoa_geography
from svtools.ingest.reference import offence_codes
from svtools.paths import raw_dir

ROOT = Path(__file__).resolve().parents[1]

GENERATOR_VERSION = 1                      # bump when the generated data change (invalidates the cache)
MAPPING = "demo_extract"
FIRST_FY, LAST_FY = 2018, 2024             # financial years 2018/19 .. 2024/25: 2018-04-01 .. 2025-03-31
#: (force name as the source spells it, PFA code, crime-number prefix, share of crimes)
FORCES = (("Merseyside Police", "E23000004", "ME", 0.40),
          ("Northumbria Police", "E23000007", "NB", 0.30),
          ("South Yorkshire Police", "E23000011", "SY", 0.30))
LOCATIONS = {"Street": 0.30, "Dwelling": 0.36, "Online or telephone": 0.08,
             "Shop or commercial premises": 0.07, "Licensed premises": 0.04, "School or college": 0.02,
             "Public transport": 0.02, "Park or open space": 0.03, "Custody or police premises": 0.01,
             "Other": 0.07}
STATUS = {"Investigation complete - no suspect identified": 0.45, "Under investigation": 0.12,
          "Charged or summonsed": 0.10, "Evidential difficulties - victim does not support action": 0.20,
          "Evidential difficulties - victim supports action": 0.08, "Out of court disposal": 0.03,
          "Further investigation not in the public interest": 0.02}
P_TWO_VICTIMS = 0.08                       # crimes written as two rows (two victims)
P_NO_VICTIM = 0.10                         # one-row crimes with a blank victim (e.g. possession of weapons)
P_BLANK_LSOA, P_OTHER_FORCE_LSOA = 0.014, 0.005
P_KNIFE, P_DOMESTIC, P_DA_BLANK, P_LOC_BLANK, P_TIME_UNKNOWN = 0.02, 0.22, 0.02, 0.03, 0.08
P_SUSPECT, P_AGE_UNKNOWN, P_SUS_AGE_UNKNOWN = 0.45, 0.04, 0.06
SEX_P = {"Female": 0.51, "Male": 0.465, "Other": 0.005, "Unknown": 0.02}
SUS_SEX_P = {"Male": 0.78, "Female": 0.19, "Other": 0.005, "Unknown": 0.025}
ETHNICITY_P = {"White": 0.80, "Asian or Asian British": 0.05,
               "Black, Black British, Caribbean or African": 0.03, "Mixed or Multiple ethnic groups": 0.02,
               "Other ethnic group": 0.01, "Not Stated": 0.09}
WALL_TARGET_S, WALL_TARGET_ROWS = 3.0, 1_000_000
MEM_TARGET_MIB, MEM_TARGET_ROWS = 2048, 10_000_000
LARGE = 5_000_000
CHUNK = 250_000                            # rows per CSV write
_TOKEN = "@@{}@@"                          # stand-in for a label with a comma while arrow writes unquoted CSV

# Runs the ingest as its only child; prints one JSON line: wall, ru_maxrss of the child, sampled tree peak.
_WRAPPER = r"""
import json, os, resource, signal, subprocess, sys, threading, time
cmd, out_path, err_path, limit_bytes, timeout = json.loads(sys.argv[1])
try:
    import psutil
except ImportError:
    psutil = None
state = {"peak": 0, "killed": None}

def sample(proc):
    try:
        me = psutil.Process(proc.pid)
    except psutil.Error:
        return
    while proc.poll() is None:
        try:
            rss = 0
            for p in [me] + me.children(recursive=True):
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            state["peak"] = max(state["peak"], rss)
        except psutil.Error:
            pass
        if state["peak"] > limit_bytes:
            state["killed"] = f"tree RSS {state['peak'] / 2**20:.0f} MiB over the limit"
            os.killpg(proc.pid, signal.SIGKILL)
            return
        time.sleep(0.05)

with open(out_path, "w") as out, open(err_path, "w") as err:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True)
    if psutil is not None:
        threading.Thread(target=sample, args=(proc,), daemon=True).start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        state["killed"] = f"timeout {timeout:.0f} s"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    wall = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": proc.returncode, "wall": wall, "maxrss_kib": usage.ru_maxrss,
                  "tree_peak_bytes": state["peak"], "psutil": psutil is not None, "killed": state["killed"],
                  "cpu_s": usage.ru_utime + usage.ru_stime}))
"""


# ----------------------------------------------------------------------------------------------- generator
def _valid_codes() -> list[str]:
    """Known HO codes that survive the ingest's normalisation unchanged (upper case, no leading 0, no '.')."""
    return [c for c in offence_codes()["ho_offence_code"] if c == c.upper().lstrip("0") and "." not in c]


def _labels(values: list[str], idx: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Arrow string array ``values[idx]`` (null where ``mask``), without per-row Python objects."""
    return pa.array(values, type=pa.string()).take(pa.array(np.asarray(idx, dtype=np.int32), mask=mask))


def _ints(values: np.ndarray, mask: np.ndarray | None = None, width: int | None = None) -> pa.Array:
    out = pc.cast(pa.array(np.asarray(values, dtype=np.int64), mask=mask), pa.string())
    return pc.utf8_lpad(out, width=width, padding="0") if width else out


def _draw(rng: np.random.Generator, probs: dict | np.ndarray, n: int) -> np.ndarray:
    p = np.fromiter(probs.values(), float) if isinstance(probs, dict) else np.asarray(probs, float)
    cdf = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(p) - 1)


def _day_text(first_day: int, n_days: int, fmt: str) -> pa.Array:
    """``fmt`` of the days ``first_day .. first_day + n_days - 1`` (days since 1970): a dictionary to take."""
    days = np.arange(first_day, first_day + n_days).astype("datetime64[D]").astype("datetime64[s]")
    return pc.strftime(pa.array(days), format=fmt)


def _age_pmf(bands: dict[tuple[int, int], float]) -> np.ndarray:
    pmf = np.zeros(101)
    for (lo, hi), w in bands.items():
        pmf[lo:hi + 1] += w / (hi - lo + 1)
    return pmf / pmf.sum()


VICTIM_AGES = _age_pmf({(0, 9): 0.05, (10, 17): 0.12, (18, 24): 0.17, (25, 34): 0.22, (35, 44): 0.18,
                        (45, 54): 0.13, (55, 64): 0.08, (65, 100): 0.05})
SUSPECT_AGES = _age_pmf({(10, 17): 0.12, (18, 24): 0.22, (25, 34): 0.28, (35, 44): 0.2, (45, 54): 0.11,
                         (55, 80): 0.07})


def _fy_table(fy: int, n_rows: int, total_rows: int, seed: int, mapping, geo: dict, codes: list[str],
              code_p: np.ndarray) -> tuple[pa.Table, int]:
    """One financial year's extract (``n_rows`` rows, crimes in recorded order) as an arrow table of text."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(fy,)))
    # crimes: one row each, or two for two victims; trim so the rows add up exactly
    k = 1 + (rng.random(n_rows) < P_TWO_VICTIMS)
    ends = np.cumsum(k)
    n = int(np.searchsorted(ends, n_rows)) + 1
    k = k[:n]
    k[-1] -= ends[n - 1] - n_rows
    first = (date(fy, 4, 1) - date(1970, 1, 1)).days
    n_days = (date(fy + 1, 4, 1) - date(fy, 4, 1)).days
    rec = np.sort(rng.integers(0, n_days, n)) + first
    delay = np.minimum(rng.geometric(0.35, n) - 1, 400) * (rng.random(n) < 0.8)   # 20% same day
    occ = rec - delay
    hour_w = [2, 1.5, 1, 1, 1, 1.5, 2, 3, 4, 4, 4, 4, 4, 4, 4, 5, 5, 6, 6, 6, 6, 5, 4, 3]
    minute = _draw(rng, np.repeat(hour_w, 60), n)                              # minute of the day
    force = _draw(rng, np.array([f[3] for f in FORCES]), n)
    rank = np.empty(n, dtype=np.int64)
    lsoa = np.empty(n, dtype=np.int64)
    for f in range(len(FORCES)):
        idx = np.flatnonzero(force == f)
        rank[idx] = np.arange(1, len(idx) + 1)
        lsoa[idx] = geo["offset"][f] + _draw(rng, geo["weights"][f], len(idx))
    other = rng.random(n) < P_OTHER_FORCE_LSOA                       # recorded, but in another force
    lsoa[other] = rng.integers(0, len(geo["codes"]), int(other.sum()))
    blank_lsoa = rng.random(n) < P_BLANK_LSOA
    code = _draw(rng, code_p, n)
    knife = rng.random(n) < P_KNIFE
    da = rng.random(n) < P_DOMESTIC
    da_blank = rng.random(n) < P_DA_BLANK
    loc = _draw(rng, LOCATIONS, n)
    loc_blank = rng.random(n) < P_LOC_BLANK
    t_unknown = rng.random(n) < P_TIME_UNKNOWN
    sus = rng.random(n) < P_SUSPECT
    sus_id = rng.integers(0, max(total_rows // 3, 1000), n)
    sus_age = _draw(rng, SUSPECT_AGES, n)
    sus_age_unknown = rng.random(n) < P_SUS_AGE_UNKNOWN
    sus_sex = _draw(rng, SUS_SEX_P, n)
    status = _draw(rng, STATUS, n)
    officer = rng.integers(1000, 9999, n)
    # victims: a pool of people (repeat victims); the second victim of a crime is never the first
    pool = max(int(total_rows * 0.8), 1000)
    v_first = rng.integers(0, pool, n)
    v_second = (v_first + 1 + rng.integers(0, pool - 1, n)) % pool
    c = np.repeat(np.arange(n), k)
    slot = np.arange(n_rows) - np.repeat(np.cumsum(k) - k, k)
    no_v = (k[c] == 1) & (rng.random(n_rows) < P_NO_VICTIM)
    v_id = np.where(slot == 0, v_first[c], v_second[c])
    v_age = _draw(rng, VICTIM_AGES, n_rows)
    v_age_unknown = rng.random(n_rows) < P_AGE_UNKNOWN
    v_sex = _draw(rng, SEX_P, n_rows)
    v_eth = _draw(rng, ETHNICITY_P, n_rows)

    col = mapping.columns
    val = mapping.values
    rec_dict = _day_text(first, n_days, mapping.date_format)
    occ_first = first - 401
    occ_dict = _day_text(occ_first, n_days + 401, mapping.date_format)
    occ_date = occ_dict.take(pa.array(occ[c] - occ_first))
    tfmt = (mapping.datetime_format or "")[len(mapping.date_format):]
    if mapping.datetime_format and mapping.datetime_format.startswith(mapping.date_format) and tfmt:
        times = pc.strftime(pa.array(np.arange(1440).astype("timedelta64[m]").astype("timedelta64[s]")
                                     + np.datetime64("1970-01-01T00:00:00", "s")), format=tfmt)
        occ_text = pc.if_else(pa.array(t_unknown[c]), occ_date,
                              pc.binary_join_element_wise(occ_date, times.take(pa.array(minute[c])), ""))
    else:                                                            # any other layout: format in full
        ts = pa.array((occ[c] * 86400 + minute[c] * 60).astype("datetime64[s]"))
        occ_text = pc.if_else(pa.array(t_unknown[c]), occ_date,
                              pc.strftime(ts, format=mapping.datetime_format or mapping.date_format))
    sep = (val.get("ho_offence_code") or {}).get("separator") or "/"
    names = [f[0] for f in FORCES]
    eth_labels = [_TOKEN.format(i) if "," in x else x for i, x in enumerate(ETHNICITY_P)]
    cols = {
        col["crime_ref"]: pc.binary_join_element_wise(_labels([f[2] for f in FORCES], force[c]),
                                                      _ints(rank[c], width=7), pa.scalar(f"{fy % 100:02d}"),
                                                      "/"),
        col["recorded_date"]: rec_dict.take(pa.array(rec[c] - first)),
        col["occurred_at"]: occ_text,
        col["ho_offence_code"]: _labels([x.replace("/", sep) for x in codes], code[c]),
        col["knife_flag"]: _labels(["N", "Y"], knife[c]),
        col["domestic_flag"]: _labels(["No", "Yes"], da[c], mask=da_blank[c]),
        col["lsoa_code"]: _labels(geo["codes"], lsoa[c], mask=blank_lsoa[c]),
        col["location_type"]: _labels(list(LOCATIONS), loc[c], mask=loc_blank[c]),
        col["victim_id"]: pc.binary_join_element_wise(_labels([f[2] + "V" for f in FORCES], force[c]),
                                                      _ints(v_id, mask=no_v, width=8), ""),
        col["victim_age"]: _ints(v_age, mask=no_v | v_age_unknown),
        col["victim_sex"]: _labels(list(SEX_P), v_sex, mask=no_v),
        col["victim_ethnicity"]: _labels(eth_labels, v_eth, mask=no_v),
        col["suspect_id"]: pc.binary_join_element_wise(_labels([f[2] + "S" for f in FORCES], force[c]),
                                                       _ints(sus_id[c], mask=~sus[c], width=8), ""),
        col["suspect_age"]: _ints(sus_age[c], mask=~sus[c] | sus_age_unknown[c]),
        col["suspect_sex"]: _labels(list(SUS_SEX_P), sus_sex[c], mask=~sus[c]),
        col["reporting_force"]: _labels(names, force[c]),
    }
    if "Officer In Case" in mapping.drop_columns:
        cols["Officer In Case"] = pc.binary_join_element_wise(pa.scalar("PC"), _ints(officer[c]), " ")
    if "Investigation Status" in mapping.drop_columns:
        cols["Investigation Status"] = _labels(list(STATUS), status[c])
    return pa.table(cols), n


def _write_csv(table: pa.Table, path: Path) -> None:
    """CSV quoting only the labels with a comma, as an RMS export does (arrow quotes all strings or none)."""
    swaps = [(_TOKEN.format(i).encode(), b'"' + x.encode() + b'"')
             for i, x in enumerate(ETHNICITY_P) if "," in x]
    tmp = path.with_suffix(".part")
    with tmp.open("wb") as fh:
        fh.write((",".join(table.column_names) + "\n").encode())
        for start in range(0, table.num_rows, CHUNK):
            buf = pa.BufferOutputStream()
            pacsv.write_csv(table.slice(start, CHUNK), buf,
                            write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))
            data = buf.getvalue().to_pybytes()
            for token, label in swaps:
                data = data.replace(token, label)
            fh.write(data)
    tmp.replace(path)


def _geography() -> dict:
    """The forces' 2011 LSOA codes (concatenated) and per force a skewed weight for each (crime hot spots)."""
    geo = lsoa_geography()
    geo = geo[geo["lsoa_vintage"] == "2011"]
    rng = np.random.default_rng(8)
    codes, offset, weights = [], [], []
    for _, pfa, _, _ in FORCES:
        own = sorted(geo.loc[geo["pfa_code"] == pfa, "lsoa_code"])
        if not own:
            sys.exit(f"no 2011 LSOAs for {pfa} in lsoa_geography()")
        offset.append(len(codes))
        codes += own
        weights.append(rng.gamma(1.5, size=len(own)))
    return {"codes": codes, "offset": offset, "weights": weights}


def extract(rows: int, seed: int, root: Path) -> tuple[Path, dict]:
    """The cached extract folder for ``rows`` and ``seed`` (generated when absent) and its manifest."""
    folder = root / f"rows{rows}_seed{seed}_v{GENERATOR_VERSION}"
    manifest = folder / "manifest.json"
    if manifest.is_file():
        info = json.loads(manifest.read_text())
        if all((folder / f).is_file() and (folder / f).stat().st_size == s for f, s in info["bytes"].items()):
            info["cached"] = True
            return folder, info
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    mapping = load_mapping(MAPPING)
    forces = (mapping.values.get("reporting_force") or {})
    missing = [f[0] for f in FORCES if forces and forces.get(f[0]) != f[1]]
    if missing:
        sys.exit(f"mapping {MAPPING} does not map {missing} to their PFA codes")
    geo = _geography()
    codes = _valid_codes()
    code_p = 1.0 / np.arange(1, len(codes) + 1) ** 1.1
    code_p = code_p[np.random.default_rng(9).permutation(len(codes))]
    years = list(range(FIRST_FY, LAST_FY + 1))
    per = [rows // len(years) + (i < rows % len(years)) for i in range(len(years))]
    info = {"rows": rows, "seed": seed, "generator_version": GENERATOR_VERSION, "mapping": MAPPING,
            "forces": [f[0] for f in FORCES], "files": {}, "bytes": {}, "crimes": 0}
    for fy, n_rows in zip(years, per):
        if not n_rows:
            continue
        table, crimes = _fy_table(fy, n_rows, rows, seed, mapping, geo, codes, code_p)
        name = mapping.file_pattern.replace("*", f"fy{fy}-{(fy + 1) % 100:02d}")
        _write_csv(table, folder / name)
        del table
        info["files"][name] = n_rows
        info["bytes"][name] = (folder / name).stat().st_size
        info["crimes"] += crimes
        print(f"  generated {name}: {n_rows:,} rows", flush=True)
    info["seconds"] = round(time.perf_counter() - t0, 1)
    manifest.write_text(json.dumps(info, indent=2))
    info["cached"] = False
    return folder, info


# ----------------------------------------------------------------------------------------------- measuring
def ingest_cmd(rows: int, folder: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "svtools.cli", "ingest", "--dataset", f"bench_{rows}",
            "--extract", str(folder), "--mapping", MAPPING, "--out", str(out)]


def measure(cmd: list[str], work: Path, limit_gib: float, timeout: float) -> dict:
    """Run ``cmd`` under the wrapper; wall, peak memory, the CLI's summary line and its phase timings."""
    out, err = work / "stdout.txt", work / "stderr.txt"
    arg = json.dumps([cmd, str(out), str(err), int(limit_gib * 2**30), timeout])
    done = subprocess.run([sys.executable, "-c", _WRAPPER, arg], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        sys.exit(f"wrapper failed:\n{done.stderr[-2000:]}")
    res = json.loads(done.stdout.strip().splitlines()[-1])
    res["stdout"], res["stderr"] = out.read_text(), err.read_text()
    res["peak_mib"] = max(res["maxrss_kib"] / 1024, res["tree_peak_bytes"] / 2**20)
    res["timings"], res["summary"] = {}, ""
    for line in res["stdout"].splitlines():
        if line.startswith("timings (s):"):
            res["timings"] = ast.literal_eval(line.split(":", 1)[1].strip())
        elif " rows in = " in line:
            res["summary"] = line.strip()
    return res


def profile(cmd: list[str], work: Path, top: int = 15) -> None:
    """cProfile one run of ``cmd`` (a fresh process); print the top functions by own and cumulative time."""
    stats_file = work / "ingest.prof"
    prof = [sys.executable, "-m", "cProfile", "-o", str(stats_file)] + cmd[1:]
    t0 = time.perf_counter()
    done = subprocess.run(prof, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        sys.exit(f"profiled run failed:\n{done.stderr[-2000:]}")
    print(f"\ncProfile of one run ({time.perf_counter() - t0:.1f} s under the profiler): {' '.join(prof)}")
    for key in ("tottime", "cumulative"):
        print(f"\n-- top {top} by {key} --")
        pstats.Stats(str(stats_file)).strip_dirs().sort_stats(key).print_stats(top)


def _git_commit() -> str:
    """HEAD, and the svtools files with uncommitted changes (the ingest runs the working tree)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=ROOT, check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "HEAD", "--name-only", "--", "svtools"], capture_output=True,
                               text=True, cwd=ROOT).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    ingest = [f for f in dirty if f.startswith("svtools/ingest/")
              or f in ("svtools/cli.py", "svtools/config.py")]
    if not dirty:
        return sha
    where = f"INCLUDING THE INGEST: {', '.join(ingest)}" if ingest else "none in the ingest, cli or config"
    return f"{sha} + uncommitted changes in {len(dirty)} svtools file(s), {where}"


def _available_gib() -> float:
    try:
        kib = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines()
                   if x.startswith("MemAvailable:"))
        return kib / 2**20
    except (OSError, StopIteration, ValueError):
        return 8.0


def _machine() -> str:
    mem = "?"
    try:
        kib = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines()
                   if x.startswith("MemTotal:"))
        mem = f"{kib / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {mem} RAM, {platform.platform()}"


def _verdict(rows: int, median: float, peak: float) -> tuple[str, str]:
    """The target for this row count and PASS/FAIL: wall for the 1M case, peak memory for 10M (and, implied by
    it, for any smaller case other than 1M)."""
    if rows == WALL_TARGET_ROWS:
        return f"wall <= {WALL_TARGET_S:g} s", "PASS" if median <= WALL_TARGET_S else "FAIL"
    target = f"peak <= {MEM_TARGET_MIB} MiB" + ("" if rows == MEM_TARGET_ROWS else
                                                f" (implied by the {MEM_TARGET_ROWS // 10**6}M target)")
    if rows > MEM_TARGET_ROWS:
        return target.split(" (")[0] + " (beyond the targets)", "PASS" if peak <= MEM_TARGET_MIB else "FAIL"
    return target, "PASS" if peak <= MEM_TARGET_MIB else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000], help="row counts")
    parser.add_argument("--repeat", type=int, default=3, help=f"runs per case under {LARGE:,} rows (3)")
    parser.add_argument("--repeat-large", type=int, default=1, help=f"runs per case of {LARGE:,}+ rows (1)")
    parser.add_argument("--seed", type=int, default=20250331)
    parser.add_argument("--data", type=Path, default=None, help="cache folder (default data/raw/bench)")
    parser.add_argument("--keep", action="store_true", help="keep each run's processed output (prints where)")
    parser.add_argument("--profile", action="store_true", help="also cProfile one run of the smallest case")
    parser.add_argument("--mem-limit", type=float, default=None,
                        help="kill a run above this tree RSS, GiB (default: 80%% of the memory available)")
    parser.add_argument("--timeout", type=float, default=900.0, help="kill a run after this many s (900)")
    args = parser.parse_args()
    root = args.data or raw_dir() / "bench"
    if args.mem_limit is None:
        args.mem_limit = round(0.8 * _available_gib(), 1)
    print(f"svtools ingest scale benchmark - {datetime.now().isoformat(timespec='seconds')}, "
          f"commit {_git_commit()}")
    print(f"machine: {_machine()}; {_available_gib():.1f} GiB available now; a run is killed above "
          f"{args.mem_limit:g} GiB or after {args.timeout:g} s")
    print("peak memory: getrusage(RUSAGE_CHILDREN).ru_maxrss in a per-run wrapper (largest single process)"
          + (", and the RSS summed over the ingest's process tree, sampled every 50 ms with psutil; the "
             "table shows the larger" if _has_psutil()
             else " (psutil not installed: worker processes are not summed)"))
    work = Path(tempfile.mkdtemp(prefix="svtools_bench_ingest_"))
    results = []
    try:
        for rows in sorted(args.rows):
            folder, info = extract(rows, args.seed, root)
            size = sum(info["bytes"].values())
            how = "cached" if info["cached"] else f"generated in {info['seconds']} s"
            print(f"\n{rows:,} rows ({info['crimes']:,} crimes) in {len(info['files'])} files, "
                  f"{size / 2**20:,.0f} MiB at {folder} ({how})", flush=True)
            runs, failed = [], None
            for r in range(args.repeat if rows < LARGE else args.repeat_large):
                out = work / f"processed_{rows}_{r}"
                res = measure(ingest_cmd(rows, folder, out), work, args.mem_limit, args.timeout)
                if res["killed"] or res["rc"]:
                    failed = (f"{res['killed'] or 'exit ' + str(res['rc'])} after {res['wall']:.0f} s, "
                              f"peak {res['peak_mib']:,.0f} MiB")
                    print(f"  run {r + 1}: FAILED ({failed})\n{res['stderr'][-1500:]}")
                    break
                runs.append(res)
                print(f"  run {r + 1}: {res['wall']:.2f} s wall, {res['cpu_s']:.1f} s CPU, peak "
                      f"{res['maxrss_kib'] / 1024:,.0f} MiB (largest process), "
                      f"{res['tree_peak_bytes'] / 2**20:,.0f} MiB (tree, sampled); timings {res['timings']}",
                      flush=True)
                if not args.keep:
                    shutil.rmtree(out, ignore_errors=True)
            if runs:
                print(f"  {runs[0]['summary']}")
            results.append((rows, folder, info, runs, failed))
        print("\n" + _table(results))
        print("\nreproduce: " + " ".join([".venv/bin/python", "benchmarks/bench_ingest.py", "--rows"]
                                         + [str(r) for r in sorted(args.rows)]
                                         + ["--repeat", str(args.repeat), "--repeat-large",
                                            str(args.repeat_large), "--seed", str(args.seed)]))
        if results:
            print("one ingest by hand: " + " ".join(ingest_cmd(results[0][0], results[0][1],
                                                               Path("/tmp/bench_out"))))
        if args.profile and results:
            profile(ingest_cmd(results[0][0], results[0][1], work / "processed_profile"), work)
    finally:
        if args.keep:
            print(f"\nprocessed outputs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _has_psutil() -> bool:
    try:
        import psutil  # noqa: F401
    except ImportError:
        return False
    return True


def _table(results: list) -> str:
    """The figures: one line per row count, then the ingest's own phase timings."""
    head = ["rows", "files", "wall s min", "wall s median", "rows/s", "peak RSS MiB", "target", "result"]
    lines, phases = [], []
    for rows, _, info, runs, failed in results:
        if not runs:
            lines.append([f"{rows:,}", str(len(info["files"])), "-", "-", "-", "-", "-", f"FAILED: {failed}"])
            continue
        walls = [r["wall"] for r in runs]
        med = statistics.median(walls)
        peak = max(r["peak_mib"] for r in runs)
        target, verdict = _verdict(rows, med, peak)
        lines.append([f"{rows:,}", str(len(info["files"])), f"{min(walls):.2f}", f"{med:.2f} (n={len(runs)})",
                      f"{rows / med:,.0f}", f"{peak:,.0f}", target, verdict])
        keys = runs[0]["timings"].keys()
        timings = {k: round(statistics.median(r["timings"].get(k, math.nan) for r in runs), 2) for k in keys}
        phases.append(f"  {rows:,} rows, ingest phase timings (s, median): {timings}")
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]

    def fmt(row: list[str]) -> str:
        return "  ".join(v.rjust(w) if i < 6 else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths)))

    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *map(fmt, lines), "", *phases]).rstrip()


if __name__ == "__main__":
    main()
