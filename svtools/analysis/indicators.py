"""Indicators compared with a benchmark: values with intervals, significance, polarity, spread and trend.

The statistics of the spine chart (Fingertips / ScotPHO "area profile" style) and of the red-red list, computed
from numerators and denominators the caller has already taken from the disclosure gate
(:mod:`svtools.publish.indicators` does that; this module reads no data and never sees a hidden count):

* :func:`load_indicators` - the indicator list of ``config/indicators.yaml`` (one source of truth), checked;
* :func:`indicator_values` - value and 95% interval of each row: a rate per ``per`` residents a year with exact
  Poisson limits below 10 events and Byar's from 10 (:func:`svtools.analysis.stats.rate`, PHEindicatormethods
  ``phe_rate``), or a percentage with Wilson score limits (:func:`svtools.analysis.stats.proportion`,
  ``phe_proportion``);
* :func:`benchmark_verdict` - the Fingertips comparison with a benchmark value: **similar** when the area's 95%
  interval includes the benchmark, otherwise higher or lower, read through the indicator's polarity as
  **better** or **worse** (``no_polarity``: higher / lower); **not compared** when either is missing;
* :func:`spread` - 25th and 75th percentiles, worst and best of the *published* values of the areas (linear
  interpolation between order statistics, numpy's default and R's type 7): a hidden area takes no part, so no
  quantile can equal, and so give back, a hidden value;
* :func:`trend_verdict` - the trend model's annual rate ratio read through polarity: **getting worse** only when
  its interval excludes 1 in the adverse direction (:func:`svtools.analysis.trends.fit_trend_model`).

References: Public Health England (2018), *Technical guide: confidence intervals* and *Fingertips: spine charts*
(the benchmark comparison by whether the 95% interval includes the benchmark); PHEindicatormethods 2.1.0
(``phe_rate``, ``phe_proportion``); methods in the shared ``docs/methods.md`` sections 1.2 and 1.3.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from svtools.errors import ConfigError
from svtools.paths import CONFIG

__all__ = [
    "POLARITIES",
    "KINDS",
    "BENCHMARKS",
    "READERS",
    "load_indicators",
    "indicator_values",
    "benchmark_verdict",
    "spread",
    "trend_verdict",
]

POLARITIES = ("lower_is_better", "higher_is_better", "no_polarity")
KINDS = ("rate", "share")
BENCHMARKS = ("all_csps_in_data", "force", "england_wales")
READERS = ("series", "age_year", "codes", "hospital", "domestic", "withheld", "counts")
_REQUIRED = ("id", "label", "kind", "unit", "numerator", "denominator", "polarity", "benchmark", "reader",
             "source", "datasets")


def load_indicators(dataset: str | None = None, path=None) -> list[dict]:
    """The indicators of ``config/indicators.yaml`` (those applying to ``dataset`` when given), checked.

    Returns
    -------
    list of dict
        One dict per indicator with every key of the file; ``per`` defaults to 1 for a share (a percentage is
        always of 100) and ``trend`` to False. ``settings`` of the file are under each dict's ``"settings"``.

    Raises
    ------
    ConfigError
        A missing key, an unknown polarity, kind, benchmark or reader, or a duplicate id; the message names the
        file and the indicator.
    """
    path = Path(CONFIG / "indicators.yaml" if path is None else path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return _load_indicators(str(path), dataset)  # missing or unreadable: read_yaml says so
    # parsed and checked once per file content (a warm kernel builds many pages); each caller gets its own copy
    return copy.deepcopy(_load_indicators_cached(str(path), digest, dataset))


@functools.lru_cache(maxsize=8)
def _load_indicators_cached(path: str, digest: str, dataset: str | None) -> list[dict]:
    return _load_indicators(path, dataset)


def _load_indicators(path: str, dataset: str | None) -> list[dict]:
    from svtools.config import read_yaml

    path = Path(path)
    raw = read_yaml(path)
    items = raw.get("indicators") or []
    cfg = dict(raw.get("settings") or {})
    seen: set = set()
    out = []
    for i, ind in enumerate(items):
        where = f"{path}: indicator {i + 1} ({ind.get('id', 'no id')})"
        missing = [k for k in _REQUIRED if k not in ind]
        if missing:
            raise ConfigError(f"{where}: missing {', '.join(missing)}")
        for key, allowed in (("polarity", POLARITIES), ("kind", KINDS), ("benchmark", BENCHMARKS),
                             ("reader", READERS)):
            if ind[key] not in allowed:
                raise ConfigError(f"{where}: {key} {ind[key]!r} is not one of {', '.join(allowed)}")
        if ind["id"] in seen:
            raise ConfigError(f"{where}: duplicate id")
        seen.add(ind["id"])
        if ind["kind"] == "rate" and not ind.get("per"):
            raise ConfigError(f"{where}: a rate needs `per` (e.g. 1000)")
        if ind["reader"] in ("series", "age_year", "counts") and not ind.get("definition"):
            raise ConfigError(f"{where}: reader {ind['reader']} needs a definition")
        if ind["reader"] == "codes" and not ind.get("codes"):
            raise ConfigError(f"{where}: reader codes needs `codes`")
        d = {"per": 100 if ind["kind"] == "share" else None, "trend": False, "field": None, "reason": "",
             **ind, "settings": cfg}
        if d["kind"] == "share":
            d["per"] = 100
        if dataset is None or dataset in list(ind["datasets"]):
            out.append(d)
    return out


def indicator_values(numerator, denominator, kind: str, per: float = 1000,
                     confidence: float = 0.95) -> pd.DataFrame:
    """Value and 95% interval of each (numerator, denominator): a rate or a percentage.

    Parameters
    ----------
    numerator : array_like
        Published counts (NaN where hidden or not recorded: the value is NaN too).
    denominator : array_like
        Person-years of residents (rates) or the count the share is of (shares); NaN or 0 gives NaN.
    kind : {"rate", "share"}
    per : float
        Rate per this many residents a year (ignored for shares: percentages).

    Returns
    -------
    DataFrame
        ``value, lower_95_ci, upper_95_ci`` (floats).
    """
    from svtools.analysis.stats import proportion, rate

    x = pd.to_numeric(pd.Series(np.asarray(numerator, dtype=object)), errors="coerce").astype(float)
    n = pd.to_numeric(pd.Series(np.asarray(denominator, dtype=object)), errors="coerce").astype(float)
    out = pd.DataFrame({"value": np.nan, "lower_95_ci": np.nan, "upper_95_ci": np.nan}, index=x.index)
    ok = x.notna() & n.notna() & (n > 0)
    if kind == "share":
        ok &= x <= n
    if ok.any():
        if kind == "rate":
            r = rate(x[ok].to_numpy(), n[ok].to_numpy(), confidence=confidence, multiplier=per)
        elif kind == "share":
            r = proportion(x[ok].to_numpy(), n[ok].to_numpy(), confidence=confidence, multiplier=100)
        else:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        out.loc[ok, "value"] = r["value"].to_numpy()
        out.loc[ok, "lower_95_ci"] = r["lower"].to_numpy()
        out.loc[ok, "upper_95_ci"] = r["upper"].to_numpy()
    return out


def benchmark_verdict(lower, upper, benchmark, polarity: str) -> tuple[str, str]:
    """(significance, verdict) of one area against a benchmark value.

    significance is ``higher`` (the interval lies wholly above the benchmark), ``lower`` (wholly below),
    ``similar`` (the interval includes it) or ``not compared`` (a value or the benchmark is missing). The
    verdict reads it through polarity: ``worse`` / ``better`` / ``similar`` for ``lower_is_better`` and
    ``higher_is_better``, and ``higher`` / ``lower`` / ``similar`` for ``no_polarity``.
    """
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, not {polarity!r}")
    vals = [lower, upper, benchmark]
    if any(v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)) or pd.isna(v) for v in vals):
        return "not compared", "not compared"
    lo, hi, b = float(lower), float(upper), float(benchmark)
    if lo > b:
        sig = "higher"
    elif hi < b:
        sig = "lower"
    else:
        return "similar", "similar"
    if polarity == "no_polarity":
        return sig, sig
    bad = "higher" if polarity == "lower_is_better" else "lower"
    return sig, "worse" if sig == bad else "better"


def funnel_verdicts(numerators, denominators, benchmark: float, polarity: str, per: float = 1000):
    """(significance, verdict, rule) of areas' rates against the all-areas rate, by the funnel plot's rule.

    The same comparison as the profile's funnel plot (:func:`svtools.analysis.stats.funnels.overdispersion`
    and :func:`~svtools.analysis.stats.funnels.adjusted_funnel_significance`, Spiegelhalter 2005, settings in
    ``config/settings.yaml`` ``funnels``): an area is higher or lower only when its rate lies outside the 95%
    funnel limit at its own denominator, limits widened for the usual variation between areas when the areas
    are over-dispersed. A plain interval-against-benchmark test would call most CSPs different because places
    differ; the page's words then contradict its funnel plot.

    Parameters
    ----------
    numerators, denominators : array_like
        Published counts and person-years of the areas taking part (hidden areas left out by the caller).
    benchmark : float
        Their pooled rate per ``per`` (sum of numerators / sum of denominators x ``per``).
    polarity : str
    per : float

    Returns
    -------
    (list of str, list of str, str) or None
        ``significance`` (higher / lower / similar) and ``verdict`` per area, and the rule in words; None when
        there are fewer than 3 areas or no positive benchmark (the interval rule stays).
    """
    from svtools import config
    from svtools.analysis.stats.funnels import adjusted_funnel_significance, overdispersion

    x = pd.to_numeric(pd.Series(np.asarray(numerators, dtype=object)), errors="coerce").astype(float)
    n = pd.to_numeric(pd.Series(np.asarray(denominators, dtype=object)), errors="coerce").astype(float)
    if len(x) < 3 or not np.isfinite(benchmark) or benchmark <= 0 or x.isna().any() or (n <= 0).any():
        return None
    fcfg = config.settings().get("funnels", {})
    od = overdispersion(x, n, benchmark, method=str(fcfg.get("method", "auto")),
                        winsorise=float(fcfg.get("winsorise", 0.1)), multiplier=per)
    flags = adjusted_funnel_significance(x, n, benchmark, od, per)["significance_95"]
    sig = [{"high": "higher", "low": "lower"}.get(str(f), "similar") for f in flags]
    bad = "higher" if polarity == "lower_is_better" else "lower"
    verdict = [s if s == "similar" or polarity == "no_polarity" else ("worse" if s == bad else "better")
               for s in sig]
    widened = getattr(od, "method", "none") != "none"
    rule = ("outside the 95% funnel limits around the all-areas rate, widened for the usual variation between "
            "areas" if widened else "outside the 95% funnel limits around the all-areas rate")
    return sig, verdict, rule


def spread(values, polarity: str) -> dict:
    """P25, P75, worst and best of the published values (NaN = hidden: left out).

    ``worst``/``best`` follow polarity (lower is better: worst = the highest value); for ``no_polarity`` worst is
    the highest and best the lowest value (the chart's ends; no judgement). ``n`` is the number of values used.
    Percentiles interpolate linearly between order statistics (numpy's default, R's ``quantile`` type 7).
    """
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, not {polarity!r}")
    v = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce").astype(float)
    v = v[np.isfinite(v)].to_numpy()
    if v.size == 0:
        return {"p25": np.nan, "p75": np.nan, "worst": np.nan, "best": np.nan, "n": 0}
    p25, p75 = np.percentile(v, [25, 75])
    hi, lo = float(v.max()), float(v.min())
    worst, best = (lo, hi) if polarity == "higher_is_better" else (hi, lo)
    return {"p25": float(p25), "p75": float(p75), "worst": worst, "best": best, "n": int(v.size)}


def trend_verdict(ratio, lower, upper, polarity: str) -> str:
    """The trend in words from an annual rate ratio and its interval.

    ``getting worse`` only when the interval excludes 1 in the adverse direction (lower is better: the whole
    interval above 1), ``improving`` when it excludes 1 in the favourable direction, ``no clear change`` when it
    includes 1; ``rising`` / ``falling`` for ``no_polarity``; ``not assessed`` when there is no model.
    """
    if any(v is None or pd.isna(v) for v in (ratio, lower, upper)):
        return "not assessed"
    lo, hi = float(lower), float(upper)
    if lo <= 1.0 <= hi:
        return "no clear change"
    up = lo > 1.0
    if polarity == "no_polarity":
        return "rising" if up else "falling"
    worse = up if polarity == "lower_is_better" else not up
    return "getting worse" if worse else "improving"


def compare_table(frame: pd.DataFrame, indicators: Sequence[dict]) -> pd.DataFrame:
    """Add values, intervals, benchmark comparison and spread to a table of published numerators.

    Parameters
    ----------
    frame : DataFrame
        One row per area x indicator: ``indicator, area_code, numerator, denominator`` (NaN where hidden or
        not recorded), and ``benchmark_numerator, benchmark_denominator`` (the benchmark's own published
        numbers; for ``all_csps_in_data`` leave them NaN: they are the sums over the areas whose numerator is
        published).
    indicators : sequence of dict
        From :func:`load_indicators`.

    Returns
    -------
    DataFrame
        ``frame`` plus ``value, lower_95_ci, upper_95_ci, benchmark_value, significance, verdict, p25, p75,
        worst, best, n_published, polarity``.
    """
    spec = {d["id"]: d for d in indicators}
    parts = []
    for ind_id, g in frame.groupby("indicator", sort=False):
        d = spec[ind_id]
        g = g.copy()
        vals = indicator_values(g["numerator"].to_numpy(), g["denominator"].to_numpy(), d["kind"],
                                per=float(d.get("per") or 1000))
        for c in vals.columns:
            g[c] = vals[c].to_numpy()
        published = g["value"].notna()
        if d["benchmark"] == "all_csps_in_data":
            num = g.loc[published, "numerator"].astype(float).sum()
            den = g.loc[published, "denominator"].astype(float).sum()
            bench = num / den * float(d.get("per") or 1000) if published.any() and den > 0 else np.nan
            g["benchmark_value"] = bench
        else:
            num = pd.to_numeric(g.get("benchmark_numerator"), errors="coerce").astype(float)
            den = pd.to_numeric(g.get("benchmark_denominator"), errors="coerce").astype(float)
            with np.errstate(invalid="ignore", divide="ignore"):
                g["benchmark_value"] = np.where(den > 0, num / den * float(d.get("per") or 1000), np.nan)
        sv = [benchmark_verdict(lo, hi, b, d["polarity"])
              for lo, hi, b in zip(g["lower_95_ci"], g["upper_95_ci"], g["benchmark_value"])]
        g["significance"] = [s for s, _ in sv]
        g["verdict"] = [v for _, v in sv]
        g["comparison_rule"] = "95% confidence interval against the benchmark"
        if d["kind"] == "rate" and d["benchmark"] == "all_csps_in_data":
            funnel = funnel_verdicts(g.loc[published, "numerator"], g.loc[published, "denominator"],
                                     float(g["benchmark_value"].iloc[0]), d["polarity"],
                                     per=float(d.get("per") or 1000))
            if funnel is not None:
                sig, verdict, rule = funnel
                g.loc[published, "significance"] = sig
                g.loc[published, "verdict"] = verdict
                g["comparison_rule"] = rule
        sp = spread(g["value"], d["polarity"])
        for k in ("p25", "p75", "worst", "best"):
            g[k] = sp[k]
        g["n_published"] = sp["n"]
        g["polarity"] = d["polarity"]
        parts.append(g)
    if not parts:
        return frame.assign(value=np.nan)
    return pd.concat(parts, ignore_index=True)
