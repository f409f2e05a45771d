"""Where offences happen: the domestic-abuse split, location types and the night-time economy window.

Unknown is never zero. A record whose domestic-abuse flag is blank is neither domestic nor not domestic; a
record whose hour is not recorded is neither inside nor outside the night-time window (a date alone never
places an offence at an hour: :func:`svtools.analysis.fields.hours`). The functions here label records with
the unknown kept as its own label or as NA, so every count built on them can say how many it could not place.

The night-time economy (NTE) rule lives in ``config/settings.yaml`` (``place_context: night_time_economy``):
weekly windows of hours (by default Friday 21:00 to Saturday 06:00 and Saturday 21:00 to Sunday 06:00) and the
area's busiest neighbourhoods (its top LSOAs by offences). :func:`nte_rule` reads and checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from svtools.analysis.fields import hours

__all__ = [
    "DAY_NAMES",
    "DOMESTIC",
    "NOT_DOMESTIC",
    "FLAG_NOT_RECORDED",
    "NteRule",
    "domestic_label",
    "location_label",
    "nte_rule",
    "week_hour",
    "in_windows",
    "share_against_expected",
]

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOURS_IN_WEEK = 7 * 24

DOMESTIC = "Domestic abuse"
NOT_DOMESTIC = "Not domestic abuse"
FLAG_NOT_RECORDED = "Flag not recorded"
LOCATION_NOT_RECORDED = "Not recorded"


# =========================================================================== domestic abuse, location type
def domestic_label(records: pd.DataFrame) -> pd.Series:
    """"Domestic abuse", "Not domestic abuse" or "Flag not recorded" for each record.

    A blank flag (or a dataset without the ``domestic_flag`` column) is "Flag not recorded", never "Not
    domestic abuse" (:func:`svtools.ingest.definitions.apply_definition` treats a blank flag as not flagged
    when *selecting* records, as force systems do; a published split keeps it apart).
    """
    out = pd.Series(FLAG_NOT_RECORDED, index=records.index, dtype="string")
    if "domestic_flag" not in records.columns:
        return out
    flag = records["domestic_flag"].astype("boolean")
    out[(flag == True).fillna(False).to_numpy(bool)] = DOMESTIC  # noqa: E712
    out[(flag == False).fillna(False).to_numpy(bool)] = NOT_DOMESTIC  # noqa: E712
    return out


def location_label(records: pd.DataFrame) -> pd.Series:
    """The recorded location type of each record, spaces trimmed; "Not recorded" when blank or absent."""
    if "location_type" not in records.columns:
        return pd.Series(LOCATION_NOT_RECORDED, index=records.index, dtype="string")
    loc = records["location_type"].astype("string").str.strip()
    return loc.mask(loc.isna() | (loc == ""), LOCATION_NOT_RECORDED)


# =========================================================================== the night-time window
@dataclass(frozen=True)
class NteRule:
    """The night-time economy rule (``config/settings.yaml``, ``place_context: night_time_economy``).

    Attributes
    ----------
    windows : tuple of (int, int)
        Weekly windows as (first hour, end hour) counted from Monday 00:00 (0 to 168; Friday 21:00 = 117).
        The end is exclusive: Friday 21:00 to Saturday 06:00 holds the hours 21:00 to 05:59.
    busiest_neighbourhoods : int
        How many of the area's busiest neighbourhoods (LSOAs by offences of the definition) count as its
        town-centre neighbourhoods.
    words : str
        The rule in words, for pages.
    """

    windows: tuple
    busiest_neighbourhoods: int
    words: str

    @property
    def hours(self) -> int:
        """Hours of the week inside the windows."""
        return int(sum((e - s) % HOURS_IN_WEEK or HOURS_IN_WEEK for s, e in self.windows))

    @property
    def expected_share(self) -> float:
        """Share of the week's hours inside the windows: the share expected if offences were spread evenly."""
        return self.hours / HOURS_IN_WEEK


def _day_hour(spec, where: str) -> int:
    """Hour of the week of ``[day name, hour]`` (``hour`` 0 to 24; Sunday 24 is Monday 00)."""
    if not isinstance(spec, (list, tuple)) or len(spec) != 2:
        raise ValueError(f"{where}: give [day, hour], e.g. [Friday, 21], not {spec!r}")
    day, hour = spec
    names = {d.lower(): i for i, d in enumerate(DAY_NAMES)}
    if str(day).lower() not in names:
        raise ValueError(f"{where}: {day!r} is not a day of the week ({', '.join(DAY_NAMES)})")
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 24:
        raise ValueError(f"{where}: the hour must be a whole number from 0 to 24, not {hour!r}")
    return (names[str(day).lower()] * 24 + hour) % HOURS_IN_WEEK


def _clock(week_hour: int) -> str:
    return f"{DAY_NAMES[week_hour // 24 % 7]} {week_hour % 24:02d}:00"


def nte_rule(settings: dict | None = None, hour_block: int | None = None) -> NteRule:
    """Read and check the night-time economy rule.

    Parameters
    ----------
    settings : dict, optional
        The ``place_context`` block of ``config/settings.yaml`` (default: read it).
    hour_block : int, optional
        When given, every window must start and end on a multiple of it (the day-and-time table's blocks,
        ``config/disclosure.yaml`` ``when: hour_block``), so that the window's count is a sum of that table's
        cells and publishing it cannot give away a part of one of them.

    Raises
    ------
    ValueError
        Naming ``config/settings.yaml`` and the key at fault.
    """
    if settings is None:
        from svtools import config

        settings = config.settings().get("place_context") or {}
    where = "config/settings.yaml place_context.night_time_economy"
    cfg = settings.get("night_time_economy")
    if not isinstance(cfg, dict):
        raise ValueError(f"{where} is missing: it defines the night-time economy windows and neighbourhoods")
    raw = cfg.get("windows") or []
    if not raw:
        raise ValueError(f"{where}.windows: give at least one window (from: [Friday, 21], to: [Saturday, 6])")
    windows = []
    for i, w in enumerate(raw):
        at = f"{where}.windows[{i}]"
        if not isinstance(w, dict) or set(w) != {"from", "to"}:
            raise ValueError(f"{at}: give from: [day, hour] and to: [day, hour]")
        s, e = _day_hour(w["from"], at + ".from"), _day_hour(w["to"], at + ".to")
        if s == e:
            raise ValueError(f"{at}: the window is empty (from equals to)")
        if hour_block and (s % hour_block or e % hour_block):
            raise ValueError(f"{at}: the window must start and end on a multiple of {hour_block} hours (the "
                             "day-and-time table's blocks, config/disclosure.yaml when.hour_block), so that its "
                             "count is a sum of published cells")
        windows.append((s, e))
    length = [(e - s) % HOURS_IN_WEEK for s, e in windows]
    covered = np.zeros(HOURS_IN_WEEK, bool)
    for (s, _), n in zip(windows, length):
        hrs = (s + np.arange(n)) % HOURS_IN_WEEK
        if covered[hrs].any():
            raise ValueError(f"{where}.windows: windows overlap")
        covered[hrs] = True
    n = cfg.get("busiest_neighbourhoods")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
        raise ValueError(f"{where}.busiest_neighbourhoods: a whole number from 1 to 10 (the hotspots section's "
                         f"busiest ten neighbourhoods), not {n!r}")
    words = " and ".join(f"{_clock(s)} to {_clock(e)}" for s, e in windows)
    return NteRule(tuple(windows), n, words)


def week_hour(records: pd.DataFrame) -> pd.Series:
    """Hour of the week (0 = Monday 00:00 to 167 = Sunday 23:00) each offence started; NA where no hour is
    recorded (Float64). A record with a date but no time has no hour (:func:`svtools.analysis.fields.hours`)."""
    when = (pd.to_datetime(records["occurred_at"], errors="coerce") if "occurred_at" in records.columns
            else pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]"))
    hour = hours(records)
    ok = (when.notna() & hour.notna()).to_numpy(bool)
    out = pd.Series(pd.NA, index=records.index, dtype="Float64")
    if ok.any():
        out[ok] = when[ok].dt.day_of_week.to_numpy() * 24 + hour[ok].astype("int64").to_numpy()
    return out


def in_windows(week_hours: pd.Series, windows) -> pd.Series:
    """True when the hour of the week lies in one of ``windows`` ((first, end) hours, end exclusive, a window
    may run over Sunday midnight), False when outside, NA when the hour is not recorded (boolean)."""
    h = pd.to_numeric(week_hours, errors="coerce").astype("Float64")
    out = pd.Series(pd.NA, index=h.index, dtype="boolean")
    known = h.notna().to_numpy(bool)
    v = h[known].astype("int64").to_numpy()
    inside = np.zeros(v.shape, bool)
    for s, e in windows:
        inside |= ((v - s) % HOURS_IN_WEEK) < ((e - s) % HOURS_IN_WEEK or HOURS_IN_WEEK)
    out[known] = inside
    return out


# =========================================================================== a share against an expectation
def share_against_expected(events, total, expected: float, confidence: float = 0.95) -> dict:
    """A share with its Wilson score interval (:func:`svtools.analysis.stats.proportion`) against an expected
    share: ``words`` is "higher than" or "lower than" only when the interval excludes ``expected``, else "no
    clear difference from".

    Returns
    -------
    dict
        ``share``, ``lower``, ``upper`` (0 to 1), ``expected``, ``words`` and ``method``; the share keys are
        None when ``total`` is 0.
    """
    from svtools.analysis.stats import proportion

    if not 0 <= float(expected) <= 1:
        raise ValueError(f"expected share must lie in 0..1, not {expected!r}")
    if int(total) <= 0:
        return {"share": None, "lower": None, "upper": None, "expected": float(expected), "words": None,
                "method": "wilson"}
    p = proportion(int(events), int(total), confidence=confidence).iloc[0]
    lo, hi = float(p["lower"]), float(p["upper"])
    words = ("higher than" if lo > expected else "lower than" if hi < expected else "no clear difference from")
    return {"share": float(p["value"]), "lower": lo, "upper": hi, "expected": float(expected), "words": words,
            "method": "wilson"}
