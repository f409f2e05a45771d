"""Statistical process control (XmR) charts with the NHS England "Making Data Count" rules.

:func:`spc` reproduces NHSRplotthedots 0.2.2 (``ptd_spc``) with its defaults, and offers the options that
give the current Making Data Count (MDC) Excel tool instead (no outlier screening, 6-point rules, the
November 2023 two-in-three rule). :func:`spc_summary` gives the variation and assurance "icons" for the
latest point.

Units: ``value``, ``mean`` and all limits are in the units of the series supplied (e.g. monthly counts of
offences, or monthly rates per 1,000 population).

References
----------
NHS England / NHS Improvement. *Making Data Count* (2019) and *Making Data Count: strengthening your
decisions* (2021); MDC SPC Excel tools and the November 2023 rule update.

Provost LP, Murray SK. *The Health Care Data Guide: learning from data for improvement.* San Francisco:
Jossey-Bass; 2011.

Nelson LS. Control charts for individual measurements. *J Qual Technol* 1982; 14:172-173.

NHS-R Community. NHSRplotthedots 0.2.2 (R package): ``R/ptd_spc_standard.R``,
``R/ptd_calculate_point_type.R``, ``R/ptd_calculate_assurance_type.R``, ``R/ptd_add_rebase_column.R``,
``R/ptd_add_short_group_warnings.R``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["spc", "spc_summary", "spc_plan", "SPCPlan", "aggregate_series", "rolling_totals", "RULE_WORDS",
           "rule_words"]

#: Process limits are mean +/- 2.66 AMR: 3 sigma with sigma = AMR / d2, d2 = 1.128 for moving ranges of 2.
LIMIT = 2.66
#: Near-limit (2 sigma) lines used by the two-in-three rule: 2/3 of the process-limit width (1.7733 AMR).
NEAR_LIMIT = 2 * (LIMIT / 3)
#: Moving ranges at or above 3.267 AMR are screened out (3.267 = D4 for subgroups of 2; Nelson 1982).
SCREEN_FACTOR = 3.267
#: Groups with fewer points than this have "trial" limits (MDC guidance; NHSRplotthedots message).
MIN_POINTS_FOR_LIMITS = 12

#: The rule labels :func:`spc` writes (as NHSRplotthedots) and the plain words pages use for them, ``{n}`` the
#: number of points and ``{unit}`` the point's unit ("month", "quarter", "year"); the one mapping every page uses
#: (:func:`rule_words`).
RULE_WORDS: tuple[tuple[str, str], ...] = (
    (r"^Above UCL$", "a {unit} above the upper process limit"),
    (r"^Below LCL$", "a {unit} below the lower process limit"),
    (r"^(?P<n>\d+) Point Trend \(Increasing\)$", "{n} {units} in a row each higher than the one before"),
    (r"^(?P<n>\d+) Point Trend \(Decreasing\)$", "{n} {units} in a row each lower than the one before"),
    (r"^2 in 3 Above CL$", "2 of 3 consecutive {units} close to the upper process limit"),
    (r"^2 in 3 Below CL$", "2 of 3 consecutive {units} close to the lower process limit"),
    (r"^(?P<n>\d+) Points Above CL$", "{n} {units} in a row above the average"),
    (r"^(?P<n>\d+) Points Below CL$", "{n} {units} in a row below the average"),
    (r"^Common Cause$", ""),
)


def rule_words(rule, unit: str = "point") -> str:
    """An SPC rule label in plain words, for a page.

    Parameters
    ----------
    rule : str
        A ``rule`` label from :func:`spc` (e.g. ``"7 Points Above CL"``).
    unit : str, default "point"
        What each point is: ``"month"``, ``"quarter"``, ``"year"`` (``"financial_year"`` reads as "year").

    Returns
    -------
    str
        E.g. "7 months in a row above the average"; ``""`` for common cause (no rule met).

    Raises
    ------
    ValueError
        A label that is not one of :data:`RULE_WORDS` (a new rule needs its words, never its raw label on a page).

    Examples
    --------
    >>> rule_words("7 Points Above CL", "month")
    '7 months in a row above the average'
    >>> rule_words("Above UCL", "quarter")
    'a quarter above the upper process limit'
    """
    import re

    unit = {"financial_year": "year", "financial year": "year"}.get(unit, unit)
    units = unit + "s"
    for pattern, words in RULE_WORDS:
        hit = re.match(pattern, str(rule))
        if hit:
            return words.format(unit=unit, units=units, **hit.groupdict())
    raise ValueError(f"no plain words for the SPC rule {rule!r} (add them to svtools.analysis.stats.spc.RULE_WORDS)")


_IMPROVEMENT = {"increase": 1, "decrease": -1, "neutral": 0}
_TWO_OF_THREE = ("ptd", "mdc2023")


def spc(values, dates=None, improvement: str = "decrease", screen_outliers: bool = True,
        rebase_at=None, fix_after_n_points: int | None = None, target: float | None = None,
        n_points: int = 7, two_of_three_rule: str = "ptd") -> pd.DataFrame:
    """XmR (individuals) chart calculations and Making Data Count special-cause rules.

    Parameters
    ----------
    values : array_like or pandas.Series
        The series, one value per period (no missing values). A Series with a DatetimeIndex or PeriodIndex
        supplies the dates when ``dates`` is not given.
    dates : array_like, optional
        Period of each value (dates, periods or any sortable labels). Points are ordered by date; dates must
        be unique. Without dates the points are taken in the order given and ``date`` is the position 0..n-1.
    improvement : {"decrease", "increase", "neutral"}, default "decrease"
        Which direction is better. For violence indicators fewer is better, hence the default (the R
        package's default is "increase"). "neutral" labels every special cause "neutral".
    screen_outliers : bool, default True
        Drop moving ranges >= 3.267 x AMR and recompute the AMR once before setting the limits
        (NHSRplotthedots default). The MDC Excel tools do not screen: pass False to match them.
    rebase_at : date, position or list of them, optional
        Each starts a new group (the point on that date is the first of the new group) with its own mean,
        limits and rules; runs and trends do not cross a rebase. Must match a point's date (or position).
    fix_after_n_points : int, optional
        Compute each group's mean and limits from its first n points only (n >= 12) and apply them to the
        whole group.
    target : float, optional
        Fills the ``assurance`` column (see Notes).
    n_points : int, default 7
        Length of the shift (run) and trend rules. 7 is NHSRplotthedots and the SPC convention; the MDC
        Excel tool also offers 6.
    two_of_three_rule : {"ptd", "mdc2023"}, default "ptd"
        "ptd": only points between the 2-sigma and 3-sigma lines count (NHSRplotthedots 0.2.2). "mdc2023":
        every point beyond 2 sigma counts, including points beyond the process limits (MDC update of
        November 2023).

    Returns
    -------
    pandas.DataFrame
        One row per point, in date order: ``date``, ``value``, ``mean``, ``lower_limit``, ``upper_limit``,
        ``near_lower``, ``near_upper`` (mean -/+ 1.7733 AMR), the rule flags ``outside_limits``,
        ``two_of_three``, ``run``, ``trend`` (bool; a point can meet several), ``special_cause``
        ("improvement", "concern", "neutral" or "common cause"), ``rule`` (label of the winning rule, e.g.
        "Above UCL", "7 Point Trend (Decreasing)", "2 in 3 Above CL", "7 Points Below CL", "Common Cause"),
        ``group`` (rebase group, 0 for the first as in the package's ``rebase_group``; a rebase on the first
        point makes it 1), ``trial_limits`` (group has fewer than 12 points) and ``assurance`` (None on
        every row when there is no ``target``). The options are kept in ``frame.attrs["spc_options"]``.

    Raises
    ------
    ValueError
        Fewer than 2 points, missing or non-numeric values, duplicate or mismatched dates, a rebase date not
        in the series, ``fix_after_n_points`` < 12, or an unknown option value.

    Warns
    -----
    UserWarning
        When any group has fewer than 12 points (its limits are trial limits).

    Notes
    -----
    Per group (NHSRplotthedots ``ptd_spc_standard``): centre line = mean of the baseline points; moving
    ranges MR_t = |y_t - y_(t-1)| and AMR = their mean; with screening, MRs >= 3.267 AMR are dropped and the
    AMR recomputed once (so a perfectly flat baseline has no limits, as in the package); process limits =
    mean -/+ 2.66 AMR; near limits = mean -/+ 1.7733 AMR.

    Rules (``ptd_calculate_point_type``), precedence astronomical > trend > two-in-three > shift:

    * astronomical: y above the upper or below the lower process limit (strict);
    * trend: ``n_points`` consecutive points each strictly higher (or lower) than the one before; a repeated
      value breaks it; all its points are flagged; its direction (not the side of the mean) sets the label.
      As in the package, a point belonging to two trends takes the direction of the step to the next point;
    * two-in-three: in some window of three consecutive points at least two are "close" (see
      ``two_of_three_rule``) and all three are on the same side of the mean; only the close points are
      flagged;
    * shift (run): ``n_points`` consecutive points on the same side of the mean; a point exactly on the
      mean breaks it.

    ``special_cause`` orients the rule's direction (+1 Above/Increasing, -1 Below/Decreasing) by
    ``improvement``. Assurance (``ptd_calculate_assurance_type``), from the last point's limits:
    target above the upper limit -> "consistent fail" if higher is better, "consistent pass" if lower is
    better; target below the lower limit -> the reverse; otherwise "inconsistent"; None for "neutral". It is
    set on the rows of the last group only (other rows None).

    Differences from NHSRplotthedots: the short-group warning fires below 12 points (the package's code uses
    13 although its message says 12); a rebase date that matches no point is an error rather than ignored.

    Examples
    --------
    >>> y = [10, 12, 11, 13, 12, 11, 10, 12, 11, 12, 13, 11, 30]
    >>> out = spc(y)
    >>> print(out[["value", "mean", "upper_limit", "special_cause", "rule"]].tail(2).round(2).to_string())
        value   mean  upper_limit special_cause          rule
    11   11.0  12.92        16.55  common cause  Common Cause
    12   30.0  12.92        16.55       concern     Above UCL
    """
    direction = _option(improvement, _IMPROVEMENT, "improvement")
    _option(two_of_three_rule, _TWO_OF_THREE, "two_of_three_rule")
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 3:
        raise ValueError(f"n_points must be an integer of at least 3 (6 or 7 are usual), got {n_points!r}")
    if fix_after_n_points is not None and (
            isinstance(fix_after_n_points, bool) or not isinstance(fix_after_n_points, (int, np.integer))
            or fix_after_n_points < MIN_POINTS_FOR_LIMITS):
        raise ValueError("fix_after_n_points must be an integer of at least 12 "
                         f"(limits need 12 points), got {fix_after_n_points!r}")
    if target is not None:
        try:
            target = float(target)
        except (TypeError, ValueError):
            raise ValueError(f"target must be a number, got {target!r}") from None
        if np.isnan(target):
            target = None

    y, labels = _series_and_dates(values, dates)
    group = _rebase_groups(labels, rebase_at, positional=dates is None and not _has_time_index(values))

    n = y.size
    cols = {k: np.full(n, np.nan) for k in ("mean", "lower_limit", "upper_limit", "near_lower", "near_upper")}
    flags = {k: np.zeros(n, dtype=bool) for k in ("outside_limits", "two_of_three", "run", "trend")}
    rule = np.empty(n, dtype=object)
    sign = np.zeros(n)
    trial = np.zeros(n, dtype=bool)
    for g in np.unique(group):
        idx = np.flatnonzero(group == g)
        res = _group_calculations(y[idx], screen_outliers, fix_after_n_points, n_points, two_of_three_rule)
        for k in cols:
            cols[k][idx] = res[k]
        for k in flags:
            flags[k][idx] = res[k]
        rule[idx] = res["rule"]
        sign[idx] = res["sign"]
        trial[idx] = idx.size < MIN_POINTS_FOR_LIMITS

    if direction == 0:
        special = np.where(sign != 0, "neutral", "common cause")
    else:
        oriented = sign * direction
        special = np.where(oriented > 0, "improvement", np.where(oriented < 0, "concern", "common cause"))

    out = pd.DataFrame({"date": labels, "value": y, **cols, **flags,
                        "special_cause": special.astype(object), "rule": rule,
                        "group": group, "trial_limits": trial})
    out["assurance"] = _assurance(out, target, direction)
    if trial.any():
        short = sorted({int(g) for g in group[trial]})
        warnings.warn(
            f"SPC group(s) {short} have fewer than {MIN_POINTS_FOR_LIMITS} points: their limits are trial "
            "limits, to be revised with each new point until there are 12 or more.",
            UserWarning, stacklevel=2)
    out.attrs["spc_options"] = {
        "improvement": improvement, "screen_outliers": bool(screen_outliers),
        "fix_after_n_points": fix_after_n_points, "target": target, "n_points": int(n_points),
        "two_of_three_rule": two_of_three_rule,
    }
    return out


def spc_summary(spc_frame: pd.DataFrame) -> dict:
    """Variation and assurance "icons" for the latest point of an :func:`spc` result.

    Parameters
    ----------
    spc_frame : pandas.DataFrame
        The output of :func:`spc`.

    Returns
    -------
    dict
        ``variation`` (the last point's ``special_cause``: "improvement", "concern", "neutral" or
        "common cause"), ``variation_icon`` (the same with the direction, e.g. "concern (high)", as the MDC
        icons show it), ``assurance`` ("consistent pass", "consistent fail", "inconsistent" or None),
        ``rule``, ``date``, ``value``, ``mean``, ``lower_limit``, ``upper_limit`` of the last point, and for
        the last group ``n_points``, ``trial_limits``, ``improvement_points`` and ``concern_points``
        (numbers of points so classified; cf. ``summary.ptd_spc_df``).

    Raises
    ------
    ValueError
        If the frame is empty or lacks the :func:`spc` columns.

    Examples
    --------
    >>> y = [10, 12, 11, 13, 12, 11, 10, 12, 11, 12, 13, 11, 30]
    >>> s = spc_summary(spc(y, target=14))
    >>> s["variation"], s["variation_icon"], s["assurance"]
    ('concern', 'concern (high)', 'inconsistent')
    """
    needed = {"date", "value", "mean", "lower_limit", "upper_limit", "special_cause", "rule", "group",
              "trial_limits"}
    if not isinstance(spc_frame, pd.DataFrame) or not needed <= set(spc_frame.columns):
        raise ValueError("spc_frame must be the DataFrame returned by svtools.analysis.stats.spc")
    if spc_frame.empty:
        raise ValueError("spc_frame has no rows")
    last = spc_frame.iloc[-1]
    grp = spc_frame[spc_frame["group"] == last["group"]]
    variation = last["special_cause"]
    icon = variation
    if variation != "common cause":
        icon = f"{variation} ({'high' if _rule_sign(last['rule']) > 0 else 'low'})"
    assurance = last["assurance"] if "assurance" in spc_frame.columns else None
    if assurance is not None and pd.isna(assurance):
        assurance = None
    date = last["date"]
    if isinstance(date, np.generic):
        date = date.item()
    return {
        "variation": variation,
        "variation_icon": icon,
        "assurance": assurance,
        "rule": last["rule"],
        "date": date,
        "value": float(last["value"]),
        "mean": float(last["mean"]),
        "lower_limit": float(last["lower_limit"]),
        "upper_limit": float(last["upper_limit"]),
        "n_points": int(len(grp)),
        "trial_limits": bool(last["trial_limits"]),
        "improvement_points": int((grp["special_cause"] == "improvement").sum()),
        "concern_points": int((grp["special_cause"] == "concern").sum()),
    }


# ---------------------------------------------------------------------------------------------------------
# Internal helpers
# ---------------------------------------------------------------------------------------------------------

def _option(value, allowed, name: str):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return allowed[value] if isinstance(allowed, dict) else value


def _has_time_index(values) -> bool:
    return isinstance(values, pd.Series) and isinstance(values.index, (pd.DatetimeIndex, pd.PeriodIndex))


def _series_and_dates(values, dates) -> tuple[np.ndarray, pd.Index]:
    """Numeric values and their labels, sorted by date when dates are given."""
    if dates is None and _has_time_index(values):
        dates = values.index
    try:
        if isinstance(values, pd.Series):  # nullable / Arrow dtypes: <NA> becomes NaN (then rejected)
            y = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            y = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("values must be numeric") from None
    if y.ndim != 1:
        raise ValueError("values must be one-dimensional")
    if y.size < 2:
        raise ValueError(f"spc needs at least 2 points to compute a moving range, got {y.size}; "
                         "limits are only trustworthy from 12 points")
    if np.isnan(y).any():
        raise ValueError(f"values has missing entries (first at position {int(np.argmax(np.isnan(y)))}); "
                         "SPC needs a value for every period")
    if dates is None:
        return y, pd.RangeIndex(y.size)
    labels = pd.Index(dates)
    if len(labels) != y.size:
        raise ValueError(f"dates has {len(labels)} entries but values has {y.size}")
    if labels.hasnans:
        raise ValueError("dates has missing entries")
    if labels.has_duplicates:
        raise ValueError(f"dates must be unique; repeated: {list(labels[labels.duplicated()][:3])}")
    order = np.argsort(labels, kind="stable")
    return y[order], labels[order]


def _rebase_groups(labels: pd.Index, rebase_at, positional: bool) -> np.ndarray:
    """Group number per point: cumulative count of rebase points (0 before the first rebase)."""
    start = np.zeros(len(labels), dtype=int)
    if rebase_at is None:
        return start
    if isinstance(rebase_at, (str, bytes)) or np.ndim(rebase_at) == 0:
        rebase_at = [rebase_at]
    for r in rebase_at:
        try:
            pos = labels.get_loc(r)
        except (KeyError, TypeError, ValueError):
            pos = None
        if not isinstance(pos, (int, np.integer)):
            what = "position" if positional else "date"
            raise ValueError(f"rebase_at {r!r} is not a {what} in the series; each rebase must be the "
                             "first point of the new group")
        start[pos] = 1
    return np.cumsum(start)


def _group_calculations(y: np.ndarray, screen: bool, fix_after: int | None, n_points: int,
                        two_rule: str) -> dict:
    base = y[:fix_after] if fix_after else y
    mean = base.mean()
    mr = np.abs(np.diff(base))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mean of no moving ranges is NaN, as in R
        amr = mr.mean() if mr.size else np.nan
        if screen:
            amr = mr[mr < SCREEN_FACTOR * amr].mean() if mr.size else np.nan
    upl, lpl = mean + LIMIT * amr, mean - LIMIT * amr
    nupl, nlpl = mean + NEAR_LIMIT * amr, mean - NEAR_LIMIT * amr

    outside = (y > upl) | (y < lpl)
    rtm = np.sign(y - mean)
    beyond_2sigma = (y < nlpl) | (y > nupl)
    close = beyond_2sigma & ~outside if two_rule == "ptd" else beyond_2sigma

    run = _part_of_runs(rtm, n_points)
    steps = np.sign(np.diff(y))
    trend = _part_of_trends(steps, n_points)
    two = _two_in_three(close, rtm)

    # trend direction as ptd_special_cause_type: step to the next point when that point is also part of a
    # trend, otherwise the step from the previous point
    right = np.append(steps, steps[-1:]) if steps.size else np.zeros(y.size)
    left = np.insert(steps, 0, 0.0)
    trend_dir = np.where(np.append(trend[1:], False) & trend, right, left)

    side = np.where(rtm > 0, "Above", "Below")
    rule = np.select(
        [outside, trend, two, run],
        [np.where(rtm == 1, "Above UCL", "Below LCL"),
         np.where(trend_dir == 1, f"{n_points} Point Trend (Increasing)",
                  f"{n_points} Point Trend (Decreasing)"),
         np.char.add(np.char.add("2 in 3 ", side), " CL"),
         np.char.add(np.char.add(f"{n_points} Points ", side), " CL")],
        default="Common Cause").astype(object)
    return {"mean": mean, "lower_limit": lpl, "upper_limit": upl, "near_lower": nlpl, "near_upper": nupl,
            "outside_limits": outside, "two_of_three": two, "run": run, "trend": trend, "rule": rule,
            "sign": np.array([_rule_sign(r) for r in rule])}


def _segments(v: np.ndarray):
    """(start, stop, value) of maximal runs of equal values in ``v``."""
    if v.size == 0:
        return
    breaks = np.flatnonzero(v[1:] != v[:-1]) + 1
    starts = np.r_[0, breaks]
    stops = np.r_[breaks, v.size]
    for s, e in zip(starts, stops):
        yield s, e, v[s]


def _part_of_runs(rtm: np.ndarray, n: int) -> np.ndarray:
    """Points in n or more consecutive points on the same side of the mean (0 breaks a run)."""
    out = np.zeros(rtm.size, dtype=bool)
    for s, e, v in _segments(rtm):
        if v != 0 and e - s >= n:
            out[s:e] = True
    return out


def _part_of_trends(steps: np.ndarray, n: int) -> np.ndarray:
    """Points in n or more consecutive points each strictly above (or below) the previous one."""
    out = np.zeros(steps.size + 1, dtype=bool)
    for s, e, v in _segments(steps):
        if v != 0 and e - s >= n - 1:
            out[s:e + 1] = True  # steps s..e-1 join points s..e
    return out


def _two_in_three(close: np.ndarray, rtm: np.ndarray) -> np.ndarray:
    """Close points in a 3-window with >= 2 close points, all 3 on one side of the mean (ptd_two_in_three)."""
    out = np.zeros(close.size, dtype=bool)
    for s in range(close.size - 2):
        window = slice(s, s + 3)
        if close[window].sum() >= 2 and abs(rtm[window].sum()) == 3:
            out[window] |= close[window]
    return out


def _rule_sign(rule: str) -> int:
    if "Above" in rule or "Increasing" in rule:
        return 1
    if "Below" in rule or "Decreasing" in rule:
        return -1
    return 0


def _assurance(frame: pd.DataFrame, target: float | None, direction: int) -> np.ndarray:
    out = np.full(len(frame), None, dtype=object)
    if target is None or direction == 0:
        return out
    last = frame.iloc[-1]
    if target > last["upper_limit"]:
        label = "consistent fail" if direction > 0 else "consistent pass"
    elif target < last["lower_limit"]:
        label = "consistent pass" if direction > 0 else "consistent fail"
    else:
        label = "inconsistent"
    out[(frame["group"] == last["group"]).to_numpy()] = label
    return out


# ---------------------------------------------------------------------------------------------------------
# When an XmR chart is valid: the one rule for every SPC chart and table of the profiles
# ---------------------------------------------------------------------------------------------------------

#: Points of each resolution in a financial year (months, quarters, the year itself).
_PER_YEAR = {"month": 12, "quarter": 4, "financial_year": 1}


@dataclass
class SPCPlan:
    """What to draw for a published series (see :func:`spc_plan`).

    Attributes
    ----------
    kind : {"xmr", "rolling", "none"}
        An XmR chart with Making Data Count limits and rules; a line of rolling 12-month totals with no
        limits and no rules; or nothing but a one-line note.
    resolution : str or None
        ``"month"``, ``"quarter"`` or ``"financial_year"`` for an XmR chart; ``"rolling_12_months"`` for the
        rolling chart (points at each month or quarter end); None for a note.
    values : Series or None
        The points (offences per point, float), indexed by period start (XmR) or by the last month of each
        rolling window (rolling).
    reason : str
        One sentence (no trailing full stop) saying why this chart, or why none, in plain words.
    points, mean_per_point : int, float
        Of ``values`` (0 and NaN for a note).
    tried : list of (resolution, points, mean)
        Every XmR candidate considered, finest first.
    """

    kind: str
    resolution: str | None
    values: pd.Series | None
    reason: str
    points: int = 0
    mean_per_point: float = float("nan")
    tried: list = field(default_factory=list)


def aggregate_series(values: pd.Series, resolution: str, to: str) -> pd.Series:
    """Sum a series of period counts to a coarser financial-calendar resolution (complete periods only).

    Parameters
    ----------
    values : Series
        Counts indexed by period start (Timestamps): month starts for ``"month"``, the first month of a
        financial quarter (April, July, October, January) for ``"quarter"``, 1 April for
        ``"financial_year"``.
    resolution, to : {"month", "quarter", "financial_year"}
        Resolution of ``values`` and the one wanted (equal or coarser).

    Returns
    -------
    Series
        Sums over the complete periods of ``to`` (a quarter needs its 3 months, a year its 12 months or 4
        quarters), indexed by period start.
    """
    if _PER_YEAR[to] > _PER_YEAR[resolution]:
        raise ValueError(f"cannot aggregate {resolution} to the finer {to}")
    idx = pd.DatetimeIndex(values.index)
    if to == resolution:
        return pd.Series(values.to_numpy(dtype="float64"), index=idx)
    fy = np.where(idx.month >= 4, idx.year, idx.year - 1)
    if to == "quarter":
        q = ((idx.month - 4) % 12) // 3
        start = [pd.Timestamp(year=int(y) + (1 if k == 3 else 0), month=int(4 + 3 * k) if k < 3 else 1, day=1)
                 for y, k in zip(fy, q)]
    else:
        start = [pd.Timestamp(year=int(y), month=4, day=1) for y in fy]
    g = pd.Series(values.to_numpy(dtype="float64"), index=idx).groupby(pd.DatetimeIndex(start))
    need = _PER_YEAR[resolution] // _PER_YEAR[to]
    sums, sizes = g.sum(), g.size()
    return sums[sizes == need]


def rolling_totals(values: pd.Series, resolution: str, months: int = 12) -> pd.Series:
    """Rolling totals over the last ``months`` months of a monthly or quarterly series (complete windows),
    indexed by the last month of each window."""
    step = {"month": 1, "quarter": 3}.get(resolution)
    if step is None or months % step:
        raise ValueError(f"rolling {months}-month totals need a monthly or quarterly series, not {resolution}")
    k = months // step
    v = pd.Series(values.to_numpy(dtype="float64"), index=pd.DatetimeIndex(values.index))
    out = v.rolling(k).sum().dropna()
    out.index = out.index + pd.DateOffset(months=step - 1)
    return out


def spc_plan(values: pd.Series, resolution: str, *, min_mean_per_point: float, min_points: int,
             resolutions: Sequence[str] = ("month", "quarter", "financial_year"), rolling_months: int = 12
             ) -> SPCPlan:
    """Decide how a published series is charted: an XmR chart at the finest valid resolution, else rolling
    12-month totals, else a one-line note.

    Parameters
    ----------
    values : Series
        The series as the disclosure gate publishes it (counts of offences, no hidden point), indexed by
        period start.
    resolution : {"month", "quarter", "financial_year"}
        Its resolution (the gate's choice: the finest with no count from 1 to the threshold).
    min_mean_per_point, min_points : float, int
        ``time_series.spc_min_mean_per_point`` and ``spc_min_points`` of ``config/disclosure.yaml``.
    resolutions : sequence of str
        ``time_series.resolutions`` (finest first): the resolutions the gate can publish.
    rolling_months : int
        ``time_series.spc_rolling_months``: the window of the rolling chart.

    Returns
    -------
    SPCPlan

    Notes
    -----
    The rule, in order:

    1. **Candidates** are the published resolution and every coarser one of ``resolutions``; a coarser
       series is the sum of published points, so it discloses nothing the gate did not publish (and a finer
       one is never drawn: its points are not published).
    2. **XmR** at the finest candidate with at least ``min_points`` points (Making Data Count: limits from
       fewer are trial limits) and a mean of at least ``min_mean_per_point`` offences a point. XmR limits use
       the moving range as if the data were roughly normal; for Poisson counts with a mean of 1.5 a month a
       third of months are 0 or 1, the moving ranges are dominated by the discreteness and the rules flag
       chance as "special cause" (the Eden measurement: 18 months). At a mean of 10 the normal approximation
       to Poisson variation is adequate for the limits: Poisson(10) puts 0.35% of points beyond
       mean +/- 3 sd (almost all above), against 0.27% for normal data.
    3. **Rolling totals**: when no XmR candidate qualifies but the published series is monthly or quarterly,
       the totals of the last ``rolling_months`` months at each point, drawn as a plain line with **no
       process limits and no special-cause rules**, when there are at least ``min_points`` of them and their
       mean is at least ``min_mean_per_point``. Successive rolling totals share 11 of their 12 months, so they
       are not independent and XmR limits from their moving ranges would be far too narrow (Making Data Count
       advises against SPC on rolling or cumulative data); the line shows the direction without seasonality.
    4. Otherwise **no chart**: one line saying why (the published counts stay in their table).

    Examples
    --------
    >>> idx = pd.date_range("2018-04-01", periods=84, freq="MS")
    >>> plan = spc_plan(pd.Series(6.0, index=idx), "month", min_mean_per_point=10, min_points=12)
    >>> plan.kind, plan.resolution, plan.points, plan.mean_per_point
    ('xmr', 'quarter', 28, 18.0)
    """
    order = list(resolutions)
    if resolution not in order:
        raise ValueError(f"resolution {resolution!r} is not one of {order}")
    tried = []
    words = {"month": "month", "quarter": "quarter", "financial_year": "financial year"}
    for r in order[order.index(resolution):]:
        pts = aggregate_series(values, resolution, r)
        n, mean = len(pts), float(pts.mean()) if len(pts) else float("nan")
        tried.append((r, n, mean))
        if n >= min_points and mean >= min_mean_per_point:
            why = (f"{n} {words[r]}s averaging {mean:.1f} offences" if r == resolution else
                   f"by {words[resolution]} the mean is {tried[0][2]:.1f} offences a {words[resolution]}, below "
                   f"the {min_mean_per_point:g} an XmR chart needs, so the published counts are summed to "
                   f"{n} {words[r]}s averaging {mean:.1f}")
            return SPCPlan("xmr", r, pts, why, n, mean, tried)
    first = tried[0]
    short = [t for t in tried if t[1] < min_points]
    if resolution in ("month", "quarter"):
        roll = rolling_totals(values, resolution, rolling_months)
        n, mean = len(roll), float(roll.mean()) if len(roll) else float("nan")
        if n >= min_points and mean >= min_mean_per_point:
            why = (f"the mean is {first[2]:.1f} offences a {words[resolution]} (an XmR chart needs "
                   f"{min_mean_per_point:g}) and coarser periods give fewer than {min_points} points, so the "
                   f"chart shows rolling {rolling_months}-month totals, without process limits")
            return SPCPlan("rolling", f"rolling_{rolling_months}_months", roll, why, n, mean, tried)
    if first[1] < min_points:
        why = (f"only {first[1]} {words[first[0]]}s are published (an SPC chart needs at least {min_points} "
               "points)")
    else:
        why = (f"the mean is {first[2]:.1f} offences a {words[first[0]]}, below the {min_mean_per_point:g} an "
               "SPC chart needs for informative process limits"
               + (f", and by {words[short[0][0]]} there would be {short[0][1]} points" if short else ""))
    return SPCPlan("none", None, None, why, 0, float("nan"), tried)
