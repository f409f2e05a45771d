"""Benchmark: calibration of the trend model's intervals (issue 9 item 3).

Simulates monthly series at 3, 15 and 150 offences a month and prints, for each volume, how often

(a) the 95% confidence interval of the annual rate ratio (``TrendModelResult.annual_rate_ratio_ci``) holds the
    true rate ratio, and
(b) the 95% prediction interval of the 12-month forecast (``TrendModelResult.forecast``) holds the simulated
    count of each of the 12 months after the series,

with Monte Carlo standard errors. The target is 95% +/- 1.5 points at every volume. Prints figures only; asserts
nothing; not a timed test.

Each replicate draws its own truth, so no single configuration is tuned for:

* 84 fitted months (April 2018 to March 2025, the demo period) and 12 held-out months (April 2025 to March 2026);
* expected offences ``mu_t = base * pop_t * exp(beta t + A cos(2 pi (m_t - p) / 12) + gamma covid_t)``, with the
  annual rate ratio ``exp(beta)`` uniform on 0.95-1.07 (the demo forces span 0.98-1.07), seasonal log-amplitude
  ``A`` uniform on 0.05-0.20 with its peak ``p`` anywhere in the year, a first-lockdown rate ratio ``exp(gamma)``
  uniform on 0.70-0.95 for April-June 2020, and ``base`` set so the fitted months average the volume;
* residents ``pop_t`` growing 0.5% a year, stepping each April (one mid-year estimate per financial year, as
  :func:`svtools.analysis.population.monthly_residents` gives); the model is fitted with this offset, so the
  annual rate ratio is a ratio of rates, and the forecast carries the last estimate forward, as the pages do;
* negative binomial (NB2) counts with overdispersion alpha uniform on 0.005-0.05 (variance mu + alpha mu^2; the
  demo data use 0.01): the model's own family, so a miss is the method's, not a misspecification's.

The fit is :func:`svtools.analysis.trends.covid_trend_model`, exactly as the profile pages call it (negative
binomial, quasi-Poisson if that fails). Replicates are independent (seeded by volume and index), run in
``--jobs`` processes.

    .venv/bin/python benchmarks/bench_calibration.py            # 2000 replicates per volume (~5-10 min, 2 cores)
    .venv/bin/python benchmarks/bench_calibration.py --quick    # 300 replicates per volume (~1.5 min)
    .venv/bin/python benchmarks/bench_calibration.py --london   # also back-test the real London series (~1 min)

``--london`` needs the processed ``london_mps`` dataset (``make london-data``). For each of the 32 boroughs, the
four London definitions (serious violence, violence with injury, robbery, possession of weapons) and origins
February 2015-2019, 2021 and 2022, whenever the monthly series up to the origin has no count of 1-4 (the gate
would publish it), the model is fitted from April 2010 to the origin and its 12-month band is compared with the
12 months recorded after it, with and without the forecast check.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIT_MONTHS = 84
HORIZON = 12
MONTHS = pd.date_range("2018-04-01", periods=FIT_MONTHS + HORIZON, freq="MS", name="month")
YEARS = np.arange(len(MONTHS)) / 12.0
MONTH_OF_YEAR = np.asarray(MONTHS.month, dtype="float64")
COVID = ((MONTHS >= "2020-04-01") & (MONTHS <= "2020-06-01")).astype("float64")
FY_INDEX = np.where(MONTHS.month >= 4, MONTHS.year, MONTHS.year - 1) - 2018  # financial years since 2018/19
POPULATION = 100_000.0 * 1.005 ** FY_INDEX


def replicate(args: tuple[float, int]) -> dict:
    """One simulated series: fit, check the rate-ratio CI and the 12-month forecast interval."""
    from svtools.analysis.trends import covid_trend_model

    volume, seed = args
    rng = np.random.default_rng(seed)
    beta = math.log(rng.uniform(0.95, 1.07))
    amp, peak = rng.uniform(0.05, 0.20), rng.uniform(0.0, 12.0)
    gamma = math.log(rng.uniform(0.70, 0.95))
    alpha = rng.uniform(0.005, 0.05)
    eta = beta * YEARS + amp * np.cos(2 * np.pi * (MONTH_OF_YEAR - peak) / 12) + gamma * COVID
    rel = POPULATION / POPULATION[0] * np.exp(eta)
    mu = volume / rel[:FIT_MONTHS].mean() * rel
    lam = mu * rng.gamma(1 / alpha, alpha, size=mu.size)
    y = rng.poisson(lam)
    series = pd.Series(y[:FIT_MONTHS], index=MONTHS[:FIT_MONTHS], name="offences")
    pop = pd.Series(POPULATION[:FIT_MONTHS], index=MONTHS[:FIT_MONTHS], name="population")
    out = {"seed": seed, "family": "failed", "rr": np.nan, "fc": np.nan, "below": np.nan, "above": np.nan,
           "inflation": np.nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model, _ = covid_trend_model(series, population=pop)
        except Exception as exc:  # counted, not hidden: a replicate the method could not fit
            out["error"] = type(exc).__name__
            return out
        lo, hi = model.annual_rate_ratio_ci
        fc = model.forecast(HORIZON, n_sim=2000, seed=seed)
    actual = y[FIT_MONTHS:]
    out.update(family=model.family, rr=float(lo <= math.exp(beta) <= hi),
               fc=float(np.mean((actual >= fc["lower"]) & (actual <= fc["upper"]))),
               below=float(np.mean(actual < fc["lower"])), above=float(np.mean(actual > fc["upper"])),
               inflation=float(fc.attrs["inflation"]))
    return out


def summarise(volume: float, rows: list[dict], seconds: float) -> dict:
    d = pd.DataFrame(rows)
    ok = d[d["family"] != "failed"]
    n = len(ok)
    rr_se = math.sqrt(ok["rr"].mean() * (1 - ok["rr"].mean()) / n) if n else math.nan
    fams = ok["family"].value_counts()
    return {
        "volume": volume, "replicates": len(d), "failed": int((d["family"] == "failed").sum()),
        "rr_cover": 100 * ok["rr"].mean(), "rr_se": 100 * rr_se,
        # forecast months of one replicate share its fitted parameters: the SE treats replicates as clusters
        "fc_cover": 100 * ok["fc"].mean(), "fc_se": 100 * ok["fc"].std(ddof=1) / math.sqrt(n),
        "fc_below": 100 * ok["below"].mean(), "fc_above": 100 * ok["above"].mean(),
        "widened": 100 * (ok["inflation"] > 1).mean(), "mean_inflation": ok["inflation"].mean(),
        "families": ", ".join(f"{k} {v}" for k, v in fams.items()), "seconds": seconds,
    }


LONDON_DEFINITIONS = ("london_serious_violence", "london_violence_with_injury", "london_robbery",
                      "london_possession_of_weapons")
LONDON_ORIGINS = ("2015-02-01", "2016-02-01", "2017-02-01", "2018-02-01", "2019-02-01", "2021-02-01",
                  "2022-02-01")


def _london_job(args) -> dict | None:
    from svtools.analysis.trends import covid_trend_model

    series, name, code, origin = args
    fit = series[:origin]
    after = series[pd.Timestamp(origin) + pd.offsets.MonthBegin(1):][:HORIZON].to_numpy()
    if fit.between(1, 4).any() or len(after) < HORIZON:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = covid_trend_model(fit)
        out = {"definition": name, "csp": code, "origin": origin}
        for label, check in (("model", False), ("checked", True)):
            fc = model.forecast(HORIZON, n_sim=2000, check=check)
            out[label] = float(np.mean((after >= fc["lower"]) & (after <= fc["upper"])))
            out[label + "_above"] = float(np.mean(after > fc["upper"]))
        out["factor"] = float(fc.attrs["inflation"])
    return out


def london(jobs: int) -> None:
    import yaml

    from svtools.ingest.store import load_table

    root = Path(__file__).resolve().parents[1]
    m = load_table("monthly_counts", "london_mps")
    months = pd.date_range(m["month"].min(), m["month"].max(), freq="MS")
    work = []
    for name in LONDON_DEFINITIONS:
        cats = yaml.safe_load((root / "config" / "definitions" / f"{name}.yaml").read_text())["categories"]
        sel = m[m["category"].isin(cats)]
        for code, g in sel.groupby("csp_code"):
            s = g.groupby("month")["offences"].sum()
            s.index = pd.DatetimeIndex(s.index)
            s = s.reindex(months, fill_value=0)
            work += [(s, name, code, o) for o in LONDON_ORIGINS]
    with ProcessPoolExecutor(jobs) as ex:
        d = pd.DataFrame([r for r in ex.map(_london_job, work, chunksize=8) if r])
    print(f"\nLondon back-test: {len(d)} series x origins, 12 months each")
    print(f"  model alone: {100 * d['model'].mean():.1f}% held (above the band {100 * d['model_above'].mean():.1f}%)")
    print(f"  with the check: {100 * d['checked'].mean():.1f}% held (above {100 * d['checked_above'].mean():.1f}%),"
          f" mean variance factor {d['factor'].mean():.2f}")
    by = d.groupby("origin")[["model", "checked"]].mean().mul(100).round(1)
    print("  by origin (model / checked): " + "; ".join(f"{o[:7]} {r.model} / {r.checked}" for o, r in by.iterrows()))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicates", type=int, default=2000, help="replicates per volume (default 2000)")
    ap.add_argument("--quick", action="store_true", help="300 replicates per volume")
    ap.add_argument("--volumes", type=float, nargs="+", default=[3, 15, 150],
                    help="mean offences a month (default 3 15 150)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--london", action="store_true", help="also back-test the real London borough series")
    ap.add_argument("--seed", type=int, default=20261201, help="base seed (replicate i of volume v: seed + 100000 v + i)")
    a = ap.parse_args(argv)
    n = 300 if a.quick else a.replicates
    print(f"bench_calibration: {n} replicates per volume, {FIT_MONTHS} fitted months, {HORIZON}-month forecast, "
          f"{a.jobs} jobs; target 95% +/- 1.5 points", flush=True)
    results = []
    with ProcessPoolExecutor(a.jobs) as ex:
        for v in a.volumes:
            t0 = time.perf_counter()
            seeds = [(v, a.seed + 100_000 * int(round(v)) + i) for i in range(n)]
            rows = list(ex.map(replicate, seeds, chunksize=max(1, n // (8 * a.jobs))))
            results.append(summarise(v, rows, time.perf_counter() - t0))
            r = results[-1]
            print(f"  {v:g} a month done in {r['seconds']:.0f} s", flush=True)
    print()
    print("| offences a month | replicates | rate-ratio CI coverage | 12-month forecast coverage | below / above "
          "| widened by the check | fits |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(f"| {r['volume']:g} | {r['replicates'] - r['failed']} (failed {r['failed']}) "
              f"| {r['rr_cover']:.1f}% (MC SE {r['rr_se']:.2f}) | {r['fc_cover']:.1f}% (MC SE {r['fc_se']:.2f}) "
              f"| {r['fc_below']:.1f}% / {r['fc_above']:.1f}% | {r['widened']:.0f}% (mean factor "
              f"{r['mean_inflation']:.2f}) | {r['families']} |")
    if a.london:
        london(a.jobs)


if __name__ == "__main__":
    main()
