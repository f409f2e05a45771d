"""Report sections: one call per notebook cell, each computing, showing and publishing one part of a profile.

A notebook is narrative plus calls::

    ctx = sections.ProfileContext.load(csp_code, dataset, definition, period_end)
    sections.success_measures(ctx)
    sections.monthly_spc(ctx)

Each section

* computes with the tested svtools functions (:mod:`svtools.analysis.measures`, :mod:`svtools.analysis.trends`,
  :mod:`svtools.analysis.cohorts`, :mod:`svtools.analysis.place_time`, :mod:`svtools.analysis.quality`, :mod:`svtools.analysis.stats`);
* shows an accessible HTML table with small counts suppressed (:func:`svtools.analysis.stats.suppress`: no count from
  1 to the disclosure threshold, no record-level field) and publishes it as a CSV download
  (:func:`svtools.publish.output.publish_table`), and/or a chart (:mod:`svtools.publish.charts`) through
  :func:`svtools.publish.output.show` with alt text written from the data;
* returns a :class:`SectionResult` holding the unsuppressed numbers, so tests can check them (they are never
  displayed).

When the dataset lacks what a section needs (data.police.uk has no ages, offence codes, knife flags or times
of day), the section shows one line saying why it is left out, never an empty chart.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from svtools.publish import charts

from svtools import config

from svtools.publish import output
from svtools.errors import SvtoolsError
from svtools.ingest import financial_year

__all__ = [
    "POLICE_UK_VIOLENCE",
    "SectionResult",
    "ProfileContext",
    "headline",
    "financial_years",
    "success_measures",
    "hospital_admissions",
    "rate_comparison",
    "league_table",
    "monthly_spc",
    "special_cause_by_csp",
    "offence_mix",
    "hotspots",
    "deprivation",
    "when",
    "who",
    "under25",
    "repeat_victims",
    "harm_concentration",
    "stl_trend",
    "seasonality",
    "trend_model",
    "covid_interruption",
    "young_people",
    "young_ages",
    "young_sex",
    "young_ethnicity",
    "knife_involvement",
    "completeness",
    "location_quality",
    "unknown_ages",
    "reconciliation",
]

#: data.police.uk crime types used in place of a local definition (the street files have no offence codes):
#: the violence-related categories.
POLICE_UK_VIOLENCE = ("Violence and sexual offences", "Robbery", "Possession of weapons")

_NO_RECORD_FIELDS = (
    "no victim or suspect ages, sex or ethnicity, no Home Office offence codes or knife flags "
    "and no times of day"
)


# =========================================================================== results and context
@dataclass
class SectionResult:
    """What a section showed, with the numbers behind it.

    Attributes
    ----------
    name : str
        Section name (also the stem of its CSV download).
    available : bool
        False when the section was left out; ``message`` says why.
    message : str
        The one line shown instead of the section, or the section's headline sentence.
    table : DataFrame or None
        The table as published (suppressed).
    data : DataFrame or None
        The unsuppressed numbers (for tests and further analysis; never displayed).
    alt : str
        Alt text of the section's (first) chart; ``alts`` holds every chart's.
    values : dict
        Headline numbers (counts, rates, indices) computed by the section.
    """

    name: str
    available: bool = True
    message: str = ""
    table: pd.DataFrame | None = None
    data: pd.DataFrame | None = None
    alt: str = ""
    alts: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    csv: Any = None

    def _ipython_display_(self) -> None:
        """A section has already shown its output: its result, left at the end of a cell, shows nothing."""

    def __repr__(self) -> str:
        return f"SectionResult({self.name!r}, available={self.available})"


def _month_start(value) -> pd.Timestamp:
    return pd.Timestamp(value).to_period("M").to_timestamp()


def _financial_years(months) -> list[str]:
    """Financial-year labels of months, from the one tested implementation (:func:`svtools.ingest.financial_year`)."""
    return financial_year(pd.Series(pd.to_datetime(list(months)))).tolist()


@dataclass
class ProfileContext:
    """One area (a CSP or a police force area), one dataset, one definition and one period.

    Build it with :meth:`load` (a CSP) or :meth:`load_force` (a force). Everything a section needs is read
    once and cached here.

    Attributes
    ----------
    level : {"csp", "force"}
    code, name : str
        The area's code and name.
    dataset : str
        ``demo`` or ``police_uk``.
    definition : svtools.ingest.definitions.Definition
        The local definition (applied to record-level extracts; data.police.uk uses the violence crime types).
    period_start, period_end : Timestamp
        First and last month of the period (month starts).
    csp_codes : list of str
        CSPs of the area (one for a CSP).
    force_code, force_name : str
    records : DataFrame
        Every record of the area's CSPs within the period (any offence).
    victim_ages : (int, int) or None
        When set, sections look only at offences against victims of these ages (see :meth:`young`).
    notes : list of str
        Caveats found while loading (e.g. the period was cut to the data).
    """

    level: str
    code: str
    name: str
    dataset: str
    definition: Any
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    csp_codes: list
    force_code: str
    force_name: str
    records: pd.DataFrame
    info: dict
    areas: pd.DataFrame
    victim_ages: tuple | None = None
    notes: list = field(default_factory=list)

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(
        cls,
        csp_code: str,
        dataset: str = "demo",
        definition: str = "knife_serious_violence",
        period_end: str | None = None,
    ) -> ProfileContext:
        """Context for one CSP: its records from the data's start to ``period_end`` (cut to the data)."""
        from svtools.ingest.store import load_records, load_table

        areas = load_table("areas", dataset)
        hit = areas[areas["csp_code"] == csp_code]
        records = load_records(csp_code, dataset)  # raises MissingAreaError naming the known codes
        if hit.empty:
            raise SvtoolsError(f"CSP {csp_code} is not one of the areas of the '{dataset}' data")
        row = hit.iloc[0]
        return cls._build(
            "csp",
            csp_code,
            str(row["csp_name"]),
            dataset,
            definition,
            period_end,
            [csp_code],
            str(row["pfa_code"]),
            str(row["pfa_name"]),
            records,
            areas,
        )

    @classmethod
    def load_force(
        cls,
        force_code: str,
        dataset: str = "demo",
        definition: str = "knife_serious_violence",
        period_end: str | None = None,
    ) -> ProfileContext:
        """Context for a police force area: the records of all its CSPs."""
        from svtools.ingest.store import csp_codes, load_records, load_table

        areas = load_table("areas", dataset)
        codes = csp_codes(dataset, force_code)  # raises MissingAreaError naming the known forces
        row = areas[areas["csp_code"].isin(codes)].iloc[0]
        records = pd.concat([load_records(c, dataset) for c in codes], ignore_index=True)
        return cls._build(
            "force",
            str(row["pfa_code"]),
            str(row["pfa_name"]),
            dataset,
            definition,
            period_end,
            list(codes),
            str(row["pfa_code"]),
            str(row["pfa_name"]),
            records,
            areas,
        )

    @classmethod
    def _build(
        cls, level, code, name, dataset, definition, period_end, codes, force_code, force_name, records, areas
    ) -> ProfileContext:
        from svtools.ingest.store import dataset_info
        from svtools.ingest.definitions import load_definition

        info = dataset_info(dataset)
        start = _month_start(info["period_start"])
        data_end = _month_start(info["period_end"])
        notes = []
        end = data_end
        if period_end:
            try:
                end = _month_start(period_end)
            except (ValueError, TypeError):
                raise SvtoolsError(f"period_end must be a date like 2025-03-31, not {period_end!r}") from None
            if end > data_end:
                notes.append(
                    f"The data end in {data_end:%B %Y}, so the period ends there (not "
                    f"{pd.Timestamp(period_end):%B %Y})."
                )
                end = data_end
        if end < start:
            raise SvtoolsError(f"period_end {period_end} is before the data start ({info['period_start']})")
        d = load_definition(definition)
        records = records.loc[(records["month"] >= start) & (records["month"] <= end)].reset_index(drop=True)
        return cls(
            level=level,
            code=code,
            name=name,
            dataset=dataset,
            definition=d,
            period_start=start,
            period_end=end,
            csp_codes=list(codes),
            force_code=force_code,
            force_name=force_name,
            records=records,
            info=info,
            areas=areas,
            notes=notes,
        )

    def young(self, min_age: int | None = None, max_age: int | None = None) -> ProfileContext:
        """The same context restricted to offences against victims aged ``min_age``-``max_age`` (default
        10-24, ``age_bands`` in ``config/settings.yaml``)."""
        cfg = config.settings()["age_bands"]
        lo = int(cfg["young_people_min_age"] if min_age is None else min_age)
        hi = int(cfg["under_25_max_age"] if max_age is None else max_age)
        new = dataclasses.replace(self, victim_ages=(lo, hi), notes=list(self.notes))
        return new

    # ------------------------------------------------------------------ derived data
    @property
    def record_level(self) -> bool:
        """True for a record-level extract (ages, offence codes, times); False for data.police.uk."""
        return "ho_offence_code" in self.records.columns

    @property
    def synthetic(self) -> bool:
        return bool(self.info.get("synthetic"))

    @property
    def cohort_label(self) -> str:
        return f"victims aged {self.victim_ages[0]} to {self.victim_ages[1]}" if self.victim_ages else ""

    @property
    def what(self) -> str:
        """What is counted, in words (for text and alt text)."""
        base = (
            self.definition.short_title
            if self.record_level
            else "violence, robbery and weapons possession (data.police.uk crime types)"
        )
        return f"{base} against {self.cohort_label}" if self.victim_ages else base

    @property
    def what_short(self) -> str:
        return self.definition.short_title if self.record_level else "violence, robbery and weapons offences"

    @property
    def prefix(self) -> str:
        """Stem prefix of CSV downloads, so a restricted context does not overwrite the main tables."""
        return f"age_{self.victim_ages[0]}_{self.victim_ages[1]}_" if self.victim_ages else ""

    @property
    def months(self) -> pd.DatetimeIndex:
        return pd.date_range(self.period_start, self.period_end, freq="MS", name="month")

    @property
    def years(self) -> float:
        """Length of the period in years (rates per year)."""
        return len(self.months) / 12.0

    @property
    def period(self) -> str:
        return f"{self.period_start:%B %Y} to {self.period_end:%B %Y}"

    @cached_property
    def selected(self) -> pd.DataFrame:
        """The records that meet the definition (data.police.uk: the violence crime types), within the period
        and, for a restricted context, against victims of the cohort's ages."""
        from svtools.ingest.definitions import apply_definition

        if self.record_level:
            out = apply_definition(self.records, self.definition)
        else:
            out = self.records[self.records["crime_type"].isin(POLICE_UK_VIOLENCE)]
        if self.victim_ages is not None:
            age = out["victim_age"].astype("Float64")
            out = out[
                ((age >= self.victim_ages[0]) & (age <= self.victim_ages[1])).fillna(False).to_numpy(bool)
            ]
        return out

    def select_counts(self, counts: pd.DataFrame) -> pd.DataFrame:
        """The rows of a ``monthly_counts`` table that meet the definition (or the violence crime types)."""
        from svtools.ingest.definitions import apply_definition

        if "ho_offence_code" in counts.columns:
            return apply_definition(counts, self.definition)
        return counts[counts["crime_type"].isin(POLICE_UK_VIOLENCE)]

    @cached_property
    def population(self) -> pd.DataFrame:
        from svtools.ingest.store import load_table

        return load_table("population", self.dataset)

    @cached_property
    def lsoa(self) -> pd.DataFrame:
        from svtools.ingest.store import load_table

        return load_table("lsoa", self.dataset)

    @cached_property
    def monthly_table(self) -> pd.DataFrame:
        """The shared ``monthly_counts`` table (every CSP in the data) within the period."""
        from svtools.ingest.store import load_table

        t = load_table("monthly_counts", self.dataset)
        return t[(t["month"] >= self.period_start) & (t["month"] <= self.period_end)]

    @cached_property
    def monthly(self) -> pd.Series:
        """Offences per month of the area (every month of the period; 0 when none)."""
        from svtools.analysis.trends import monthly_counts

        return monthly_counts(self.selected, start=self.period_start, end=self.period_end)

    def complete_financial_years(self) -> list[str]:
        """Financial years (April-March) wholly inside the period, oldest first."""
        months = self.months
        fy = pd.Series(_financial_years(months))
        n = fy.value_counts()
        return sorted(y for y, k in n.items() if k == 12)

    def csp_name(self, code: str) -> str:
        hit = self.areas.loc[self.areas["csp_code"] == code, "csp_name"]
        return str(hit.iloc[0]) if len(hit) else code


# =========================================================================== small helpers
def _threshold() -> int:
    return config.disclosure_threshold("police")


def _say(text: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(text))


def _skip(ctx: ProfileContext | None, name: str, title: str, reason: str) -> SectionResult:
    """Show one line saying why a section is left out, and return the result saying so."""
    text = f"**{title}**: not shown, because {reason}."
    _say(text)
    return SectionResult(name=name, available=False, message=text)


def _need_records(
    ctx: ProfileContext, name: str, title: str, lacks: str | None = None
) -> SectionResult | None:
    """One line instead of the section when the data are data.police.uk (``lacks``: what they do not have)."""
    if not ctx.record_level:
        text = f"**{title}**: not available in data.police.uk, which has {lacks or _NO_RECORD_FIELDS}."
        _say(text)
        return SectionResult(name=name, available=False, message=text)
    return None


def _count(v) -> str:
    return output.format_count(v, _threshold())


def suppress(frame: pd.DataFrame, columns: Sequence[str], rates: Sequence[str] | dict = ()) -> pd.DataFrame:
    """Counts from 1 to the threshold replaced by ``*`` (:func:`svtools.analysis.stats.suppress`); each column in
    ``rates`` (a rate, share or interval computed from the first count column, or a dict rate -> count column)
    is hidden with its count. The count columns are remembered (``attrs["count_columns"]``) for the
    publication check."""
    from svtools.analysis.stats import suppress as _suppress

    columns = list(columns)
    mapping = dict(rates) if isinstance(rates, dict) else {r: columns[0] for r in rates}
    out = _suppress(frame, count_columns=columns, rate_columns=mapping or None)
    out.attrs["count_columns"] = columns
    return out


def _is_small(v, threshold: int | None = None) -> bool:
    threshold = _threshold() if threshold is None else threshold
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return 1 <= f <= threshold


def _blank_where_small(
    table: pd.DataFrame, count_col: str, dependent: Sequence[str], source: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Blank the columns a hidden count could be recovered from (rates of known populations, changes)."""
    src = table if source is None else source
    small = src[count_col].map(_is_small).to_numpy(dtype=bool)
    out = table.copy()
    for c in dependent:
        if c in out.columns:
            col = out[c].astype(object)
            col[small] = ""
            out[c] = col
    return out


def _decimals(values: pd.Series) -> int:
    """Fewest decimals (0-3) that show every value of a rounded float column exactly."""
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    for nd in range(4):
        if np.allclose(v, np.round(v, nd), rtol=0, atol=1e-9):
            return nd
    return 3


def _as_text(table: pd.DataFrame, counts: Sequence[str]) -> pd.DataFrame:
    """Non-count numeric columns as text with a fixed number of decimals (0.30, not 0.3), NaN as blank."""
    out = table.copy()
    for col in out.columns:
        if col in counts:
            continue
        s = out[col]
        is_num = s.map(lambda v: isinstance(v, (float, np.floating)) and not isinstance(v, bool))
        if not is_num.any() or pd.api.types.is_integer_dtype(s):
            continue
        nd = _decimals(s[is_num])
        if nd == 0 and not pd.api.types.is_float_dtype(s):
            continue
        out[col] = [("" if not np.isfinite(v) else f"{v:,.{nd}f}") if f else v for v, f in zip(s, is_num)]
    out.attrs = dict(table.attrs)
    return out


def _publish(
    ctx: ProfileContext,
    table: pd.DataFrame,
    name: str,
    caption: str,
    note: str | None = None,
    counts: Sequence[str] | None = None,
    show_last: int | None = None,
):
    """Show ``table`` and write it as a CSV download; refused if a count column holds 1 to the threshold.

    ``counts`` names the count columns (default: those :func:`suppress` was told about, else every column).
    With ``show_last``, a long table is written in full but only its last rows are shown, with a link to the
    full CSV."""
    if counts is None:
        counts = table.attrs.get("count_columns")
    text = _as_text(table, counts or [])
    if show_last is None or len(text) <= show_last:
        return output.publish_table(text, ctx.prefix + name, caption, note=note, count_columns=counts)
    from IPython.display import HTML, display

    path = output.publish_table(
        text, ctx.prefix + name, caption, note=note, count_columns=counts, display_table=False
    )
    output.show_table(
        text.tail(show_last), f"{caption} (latest {show_last} rows)", note=note, count_columns=counts
    )
    if path is not None:
        display(
            HTML(f'<p><a href="{path.name}" download>Download the full table, {len(text)} rows (CSV)</a></p>')
        )
    return path


def _show(fig, alt: str, result: SectionResult) -> None:
    output.show(fig, alt=alt)
    result.alts.append(alt)
    if not result.alt:
        result.alt = alt


def _r(x, nd: int = 2):
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else round(float(x), nd)


def _fmt(x, nd: int = 2) -> str:
    return "unknown" if x is None or not np.isfinite(x) else f"{x:,.{nd}f}"


def _ci(lo, hi, nd: int = 2) -> str:
    return f"95% CI {_fmt(lo, nd)} to {_fmt(hi, nd)}"


def _masked(values: pd.Series) -> pd.Series:
    """Counts for a chart's value labels, with small counts hidden (NaN shows as "*")."""
    v = pd.to_numeric(values, errors="coerce").astype("float64")
    return v.where(~v.between(1, _threshold()))


def _extremes(series: pd.Series, fmt=None) -> tuple[str, str]:
    """("label (value)" of the largest, "label (value)" of the smallest) of a labelled series."""
    fmt = fmt or _count
    s = pd.to_numeric(series, errors="coerce").dropna()
    if s.empty:
        return "none", "none"
    hi, lo = s.idxmax(), s.idxmin()
    return f"{hi} ({fmt(s[hi])})", f"{lo} ({fmt(s[lo])})"


# =========================================================================== headline and success measures
def headline(ctx: ProfileContext) -> SectionResult:
    """The headline numbers: the latest complete financial year (or the whole period), its rate per 1,000
    residents with its 95% interval, the change from 2019/20 and the share with a victim under 25."""
    from svtools.analysis.measures import success_measures as measures_fn

    res = SectionResult(name="headline")
    for note in ctx.notes:
        _say(note)
    years = ctx.complete_financial_years()
    baseline = config.settings()["periods"]["baseline_financial_year"]
    if ctx.record_level and years:
        latest = years[-1]
        m = measures_fn(
            ctx.records, ctx.population, ctx.definition, csp_codes=ctx.csp_codes, financial_years=years
        )
        row = m[(m["cohort"] == "all ages") & (m["financial_year"] == latest)].iloc[0]
        u25 = m[(m["cohort"] == "under 25") & (m["financial_year"] == latest)].iloc[0]
        rate_col = [c for c in m.columns if c.startswith("rate_per_")][0]
        lines = [
            f"In {latest}, **{_count(row['offences'])}** offences of {ctx.what} were recorded in "
            f"{ctx.name}: **{_fmt(row[rate_col])} per 1,000 residents** ({_ci(row['lower'], row['upper'])})."
        ]
        if baseline in set(m["financial_year"]) and baseline != latest:
            base_n = int(row["baseline_offences"])
            if _is_small(base_n) or _is_small(row["offences"]):
                lines.append(f"In {baseline}, the baseline year, {_count(base_n)} were recorded.")
            else:
                change = (
                    "no change"
                    if int(row["change"]) == 0
                    else f"{int(row['change']):+,d} ({row['pct_change']:+.1f}%)"
                )
                lines.append(
                    f"That is {change} compared with {baseline} ({base_n:,}), the Home Office baseline year."
                )
        lines.append(f"{_count(u25['offences'])} of them had a victim under 25.")
        res.values = {
            "financial_year": latest,
            "offences": int(row["offences"]),
            "rate": float(row[rate_col]),
            "lower": float(row["lower"]),
            "upper": float(row["upper"]),
            "change": int(row["change"]),
            "under_25": int(u25["offences"]),
        }
        res.data = m
    else:
        from svtools.analysis.stats import rate

        n = len(ctx.selected)
        pop = float(ctx.areas.loc[ctx.areas["csp_code"].isin(ctx.csp_codes), "population"].sum())
        r = rate([n], [pop * ctx.years], multiplier=1000).iloc[0]
        lines = [
            f"From {ctx.period}, **{_count(n)}** offences of {ctx.what} were recorded in {ctx.name}: "
            f"**{_fmt(r['value'])} per 1,000 residents a year** ({_ci(r['lower'], r['upper'])})."
        ]
        if not ctx.record_level:
            lines.append(
                "data.police.uk has no offence codes, so the local definition cannot be applied: "
                "the violence-related crime types are used instead, and there are no ages."
            )
        res.values = {
            "offences": n,
            "rate": float(r["value"]),
            "lower": float(r["lower"]),
            "upper": float(r["upper"]),
        }
    res.message = " ".join(lines)
    _say("\n".join(f"* {line}" for line in lines))
    return res


def financial_years(ctx: ProfileContext) -> SectionResult:
    """Offences by financial year (April to March), all ages and with a victim under 25, with rates per 1,000
    residents a year and 95% intervals; a year the period covers only in part is labelled and its rate
    annualised."""
    from svtools.analysis.measures import resident_population
    from svtools.analysis.stats import rate

    months = pd.Series(_financial_years(ctx.months), index=ctx.months)
    years = list(dict.fromkeys(months))
    n_months = months.value_counts()
    sel = ctx.selected
    fy = sel["financial_year"].astype(str)
    counts = fy.value_counts()
    pop = resident_population(ctx.population, years, ctx.csp_codes)
    person_years = np.array([pop[y] * n_months[y] / 12 for y in years])
    n = np.array([int(counts.get(y, 0)) for y in years])
    r = rate(n, person_years, multiplier=1000)
    labels = [
        y
        if n_months[y] == 12
        else f"{y} ({months[months == y].index.min():%b %Y} to {months[months == y].index.max():%b %Y} only)"
        for y in years
    ]
    raw = pd.DataFrame(
        {
            "Financial year": labels,
            "Offences": n,
            "Rate per 1,000 residents a year": r["value"].round(2).to_numpy(),
            "Lower 95% CI": r["lower"].round(2).to_numpy(),
            "Upper 95% CI": r["upper"].round(2).to_numpy(),
        }
    )
    rates = {
        "Rate per 1,000 residents a year": "Offences",
        "Lower 95% CI": "Offences",
        "Upper 95% CI": "Offences",
    }
    count_cols = ["Offences"]
    if ctx.record_level:
        u25_max = int(config.settings()["age_bands"]["under_25_max_age"])
        young = (sel["victim_age"].astype("Float64") <= u25_max).fillna(False).to_numpy(bool)
        cu = fy[young].value_counts()
        pop_u = resident_population(ctx.population, years, ctx.csp_codes, 0, u25_max)
        nu = np.array([int(cu.get(y, 0)) for y in years])
        ru = rate(nu, np.array([pop_u[y] * n_months[y] / 12 for y in years]), multiplier=1000)
        raw["Offences with a victim under 25"] = nu
        raw["Under-25 rate per 1,000 residents aged 0-24"] = ru["value"].round(2).to_numpy()
        rates["Under-25 rate per 1,000 residents aged 0-24"] = "Offences with a victim under 25"
        count_cols.append("Offences with a victim under 25")
    res = SectionResult(name="financial_years", data=raw.assign(financial_year=years))
    shown = suppress(raw, count_cols, rates=rates)
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "offences_by_financial_year",
        f"Offences by financial year, {ctx.name}: {ctx.what}",
        note="Rates per 1,000 residents a year (ONS mid-year estimates; part years annualised), 95% "
        "confidence intervals. "
        + ("An offence with two victims counts once per victim. " if ctx.record_level else "")
        + f"Counts from 1 to {_threshold()} are shown as * with their rates.",
    )
    res.values = {
        "years": years,
        "offences": dict(zip(years, n.tolist())),
        "rates": dict(zip(years, r["value"].to_numpy().tolist())),
    }
    return res


_MEASURES = (
    ("Police", "knife_serious_violence", "Knife or sharp-object enabled serious violence"),
    ("Police", "homicide", "Homicide"),
)


def success_measures(ctx: ProfileContext) -> SectionResult:
    """The Home Office success-measure table (all ages and under 25, latest financial year against 2019/20),
    as partners report it (Leicester, Leicestershire and Rutland VRN 2024), and the chosen definition by year.
    """
    from svtools.ingest.store import load_table
    from svtools.analysis.measures import hospital_measures, success_table
    from svtools.analysis.measures import success_measures as measures_fn

    title = "The Home Office success measures"
    skip = _need_records(
        ctx, "success_measures", title, "no Home Office offence codes, knife flags or victim ages"
    )
    if skip:
        return skip
    baseline = config.settings()["periods"]["baseline_financial_year"]
    years = ctx.complete_financial_years()
    if baseline not in years or years[-1] == baseline:
        return _skip(
            ctx,
            "success_measures",
            title,
            f"the period ({ctx.period}) does not hold both the {baseline} baseline and a later complete "
            "financial year",
        )
    latest = years[-1]
    rows, raw = [], []
    for source, name, label in _MEASURES:
        m = measures_fn(ctx.records, ctx.population, name, csp_codes=ctx.csp_codes, financial_years=years)
        raw.append(m.assign(measure=label))
        t = success_table(m, latest=latest, measure=label)
        t.insert(0, "source", source)
        rows.append(t)
    try:
        hospital = load_table("hospital_admissions", ctx.dataset)
    except SvtoolsError:
        hospital = None
    if hospital is not None and len(hospital):
        hm = hospital_measures(hospital, csp_codes=ctx.csp_codes, financial_years=years)
        t = success_table(hm, latest=latest, measure="Hospital admissions for assault with a sharp object")
        t.insert(0, "source", "Health")
        rows.append(t)
        raw.append(hm.assign(measure="Hospital admissions for assault with a sharp object"))
    table = pd.concat(rows, ignore_index=True)
    table["cohort"] = table["cohort"].astype(str).map({"all ages": "All ages", "under 25": "Victim under 25"})
    # Police counts: hide 1..threshold; a change computed from a hidden count is hidden too.
    police = table["source"] == "Police"
    shown = table.astype(object)
    for col in (baseline, latest):
        small = police & table[col].map(_is_small)
        shown.loc[small, col] = config.settings()["disclosure"]["suppressed_marker"]
    hidden = police & (table[baseline].map(_is_small) | table[latest].map(_is_small))
    shown.loc[hidden, ["change", "pct_change"]] = ""
    shown["pct_change"] = [
        v if isinstance(v, str) else ("" if pd.isna(v) else f"{v:+.1f}%") for v in shown["pct_change"]
    ]
    shown["change"] = [v if isinstance(v, str) else f"{int(v):+d}" for v in shown["change"]]
    shown = shown.rename(
        columns={
            "source": "Source",
            "measure": "Measure",
            "cohort": "Cohort",
            "change": f"Change from {baseline}",
            "pct_change": f"% change from {baseline}",
        }
    )
    note = (
        f"Counts from 1 to {_threshold()} are shown as *, and their changes are left blank. Hospital "
        "admissions (HES, ICD-10 X99) are suppressed at source when 1 to "
        f"{config.disclosure_threshold('hes')}; a total that includes a suppressed cell is shown as a lower "
        "bound (>=) and has no change."
    )
    res = SectionResult(name="success_measures", table=shown, data=pd.concat(raw, ignore_index=True))
    res.csv = _publish(
        ctx,
        shown,
        "success_measures",
        f"Home Office success measures, {ctx.name}: {baseline} and {latest}",
        note,
    )
    m = measures_fn(
        ctx.records, ctx.population, ctx.definition, csp_codes=ctx.csp_codes, financial_years=years
    )
    row = m[(m["cohort"] == "all ages") & (m["financial_year"] == latest)].iloc[0]
    knife = table[(table["measure"] == _MEASURES[0][2]) & (table["cohort"] == "All ages")].iloc[0]
    sentence = (
        f"Knife or sharp-object enabled serious violence in {ctx.name}: {_count(knife[latest])} offences in "
        f"{latest} against {_count(knife[baseline])} in {baseline}"
        + (
            "."
            if _is_small(knife[latest]) or _is_small(knife[baseline]) or pd.isna(knife["pct_change"])
            else f" ({knife['pct_change']:+.1f}%)."
        )
    )
    _say(sentence)
    res.message = sentence
    res.values = {
        "baseline": baseline,
        "latest": latest,
        "offences": int(row["offences"]),
        "baseline_offences": int(row["baseline_offences"]),
        "change": int(row["change"]),
    }
    return res


def hospital_admissions(ctx: ProfileContext) -> SectionResult:
    """Hospital admissions for assault with a knife or sharp object by financial year (HES-style, suppressed
    at source: suppressed cells stay suppressed and totals that include one are lower bounds)."""
    from svtools.ingest.store import load_table
    from svtools.analysis.measures import hospital_measures

    title = "Hospital admissions for assault with a sharp object"
    if not ctx.record_level:
        return _skip(
            ctx, "hospital_admissions", title, "no hospital admissions are held with the data.police.uk files"
        )
    try:
        hospital = load_table("hospital_admissions", ctx.dataset)
    except SvtoolsError:
        return _skip(ctx, "hospital_admissions", title, "the dataset holds no hospital admissions")
    hm = hospital_measures(hospital, csp_codes=ctx.csp_codes)
    if hm.empty or (hm["display"] == "no data").all():
        return _skip(ctx, "hospital_admissions", title, f"no admissions are recorded for {ctx.name}")
    wide = hm.pivot_table(
        index="financial_year", columns="cohort", values="display", aggfunc="first", observed=True
    )
    table = pd.DataFrame(
        {
            "Financial year": wide.index,
            "All ages": wide["all ages"].to_numpy(),
            "Under 25": wide["under 25"].to_numpy(),
        }
    )
    res = SectionResult(name="hospital_admissions", table=table, data=hm)
    note = (
        f"Cells of 1 to {config.disclosure_threshold('hes')} admissions are suppressed at source (HES "
        "rules); "
        "a total that includes one is shown as a lower bound, e.g. >=12."
    )
    res.csv = _publish(
        ctx,
        table,
        "hospital_admissions",
        f"Hospital admissions for assault with a sharp object, {ctx.name}",
        note,
    )
    known = hm[(hm["cohort"] == "all ages") & ~hm["suppressed"]]
    res.values = {
        "suppressed_years": int(hm.loc[hm["cohort"] == "all ages", "suppressed"].sum()),
        "known_total": int(known["admissions"].fillna(0).sum()),
    }
    series = pd.to_numeric(
        hm.loc[hm["cohort"] == "all ages"].set_index("financial_year")["admissions"], errors="coerce"
    )
    chart_table = pd.DataFrame(
        {
            "financial_year": series.index,
            "All ages": series.to_numpy(dtype=float),
            "Under 25": pd.to_numeric(
                hm.loc[hm["cohort"] == "under 25", "admissions"], errors="coerce"
            ).to_numpy(dtype=float),
        }
    )
    if series.notna().sum() == 0:
        line = (
            f"No year has a complete total for {ctx.name}: every year includes cells of 1 to "
            f"{config.disclosure_threshold('hes')} admissions, suppressed at source, so there is no chart."
        )
        _say(line)
        res.message = line
        return res
    hi, lo = _extremes(series.astype(float), fmt=lambda v: f"{v:,.0f}")
    n_sup = int(series.isna().sum())
    alt = (
        f"Bar chart of hospital admissions for assault with a sharp object, residents of {ctx.name}, by "
        f"financial year. All ages: highest {hi}, lowest {lo} among years with a complete total; "
        f"{n_sup} year(s) include suppressed cells and show *."
    )
    _show(
        charts.yearly_chart(
            chart_table,
            title=f"Hospital admissions for assault with a sharp object, {ctx.name}",
            ylabel="Admissions",
        ),
        alt,
        res,
    )
    return res


# =========================================================================== comparison
def _area_rates(ctx: ProfileContext, months: int = 12) -> tuple[pd.DataFrame, dict]:
    """Rates per 1,000 residents a year for every CSP in the data over the last ``months`` months of the
    period (fewer when the period is shorter), with 95% intervals and funnel significance."""
    from svtools.analysis.stats import funnel_significance, rate

    counts = ctx.select_counts(ctx.monthly_table)
    window = ctx.months[-months:]
    counts = counts[counts["month"].isin(window)]
    n = counts.groupby("csp_code")["offences"].sum()
    areas = ctx.areas.copy()
    areas["offences"] = areas["csp_code"].map(n).fillna(0).astype("int64")
    years = len(window) / 12.0
    areas["person_years"] = areas["population"].astype(float) * years
    r = rate(areas["offences"], areas["person_years"], multiplier=1000)
    areas["rate"], areas["lower"], areas["upper"] = (
        r["value"].to_numpy(),
        r["lower"].to_numpy(),
        r["upper"].to_numpy(),
    )
    overall = areas["offences"].sum() / areas["person_years"].sum() * 1000
    force = areas[areas["pfa_code"] == ctx.force_code]
    force_rate = force["offences"].sum() / force["person_years"].sum() * 1000
    sig = funnel_significance(areas["offences"], areas["person_years"], overall, multiplier=1000)
    areas["vs_all_95"] = sig["significance_95"].to_numpy()
    areas["vs_all_998"] = sig["significance_998"].to_numpy()
    sig_f = funnel_significance(areas["offences"], areas["person_years"], force_rate, multiplier=1000)
    areas["vs_force_95"] = sig_f["significance_95"].to_numpy()
    info = {
        "window_start": window[0],
        "window_end": window[-1],
        "years": years,
        "overall": float(overall),
        "force_rate": float(force_rate),
        "force_offences": int(force["offences"].sum()),
        "force_population": float(force["population"].sum()),
        "all_offences": int(areas["offences"].sum()),
        "all_population": float(areas["population"].sum()),
        "n_months": len(window),
    }
    return areas, info


def _window_label(info: dict) -> str:
    return f"{info['window_start']:%B %Y} to {info['window_end']:%B %Y}"


def _funnel_figure(ctx: ProfileContext, points: pd.DataFrame, target: float, info: dict, highlight, title):
    from svtools.analysis.stats import funnel_limits

    lo, hi = points["person_years"].min(), points["person_years"].max()
    grid = np.geomspace(max(lo * 0.5, 1000.0), hi * 1.1, 200)
    limits = funnel_limits(target, grid, multiplier=1000)
    limits["denominator"] = limits["denominator"] / info["years"]  # plot against residents
    pts = pd.DataFrame(
        {
            "label": points["csp_name"].to_numpy(),
            "denominator": points["population"].to_numpy(),
            "value": points["rate"].to_numpy(),
            "signal": np.where(
                points["sig_998"] == "high", "high", np.where(points["sig_998"] == "low", "low", "")
            ),
        }
    )
    return charts.funnel_plot(
        pts,
        limits,
        target=target,
        title=title,
        highlight=highlight,
        xlabel="Residents (mid-2020)",
        ylabel="Rate per 1,000 residents a year",
    )


def rate_comparison(ctx: ProfileContext) -> SectionResult:
    """Rates per 1,000 residents with 95% intervals against the force and the whole data area, and a funnel
    plot (95% and 99.8% limits) of every CSP in the data (a CSP profile) or of the force's CSPs (a force)."""
    areas, info = _area_rates(ctx)
    per = "per 1,000 residents a year"
    res = SectionResult(name="rate_comparison", data=areas)
    window = _window_label(info)
    if ctx.level == "csp":
        points = areas.assign(sig_998=areas["vs_all_998"])
        target, comparator = info["overall"], "all CSPs in the data"
        me = areas[areas["csp_code"] == ctx.code].iloc[0]
        from svtools.analysis.stats import rate

        f = rate([info["force_offences"]], [info["force_population"] * info["years"]], multiplier=1000).iloc[
            0
        ]
        a = rate([info["all_offences"]], [info["all_population"] * info["years"]], multiplier=1000).iloc[0]
        rows = [
            (ctx.name, int(me["offences"]), float(me["population"]), me["rate"], me["lower"], me["upper"]),
            (
                f"{ctx.force_name} (force area)",
                info["force_offences"],
                info["force_population"],
                f["value"],
                f["lower"],
                f["upper"],
            ),
            (
                f"All {len(areas)} CSPs in the data",
                info["all_offences"],
                info["all_population"],
                a["value"],
                a["lower"],
                a["upper"],
            ),
        ]
        raw = pd.DataFrame(
            rows, columns=["Area", "Offences", "Residents", "Rate", "Lower 95% CI", "Upper 95% CI"]
        )
        res.values = {
            "rate": float(me["rate"]),
            "lower": float(me["lower"]),
            "upper": float(me["upper"]),
            "offences": int(me["offences"]),
            "force_rate": float(f["value"]),
            "overall_rate": float(a["value"]),
            "vs_all_95": me["vs_all_95"],
            "vs_force_95": me["vs_force_95"],
        }
        verdict = {"high": "higher than", "low": "lower than", "not significant": "similar to"}
        sentence = (
            f"From {window}, {ctx.name} recorded {_count(me['offences'])} offences of {ctx.what}, too few "
            "to show a rate."
            if _is_small(me["offences"])
            else f"From {window}, {ctx.name} recorded {_fmt(me['rate'])} offences of {ctx.what} {per} "
            f"({_ci(me['lower'], me['upper'])}): {verdict.get(me['vs_force_95'], 'compared with')} "
            f"the {ctx.force_name} rate ({_fmt(info['force_rate'])}) and "
            f"{verdict.get(me['vs_all_95'], 'compared with')} the rate of all CSPs in the data "
            f"({_fmt(info['overall'])}), at 95% confidence."
        )
        highlight = ctx.name
    else:
        points = areas[areas["pfa_code"] == ctx.force_code].assign(
            sig_998=lambda d: funnel_significance_998(d, info["force_rate"])
        )
        target, comparator = info["force_rate"], f"the {ctx.force_name} rate"
        raw = (
            points[["csp_name", "offences", "population", "rate", "lower", "upper"]]
            .rename(
                columns={
                    "csp_name": "Area",
                    "offences": "Offences",
                    "population": "Residents",
                    "rate": "Rate",
                    "lower": "Lower 95% CI",
                    "upper": "Upper 95% CI",
                }
            )
            .sort_values("Rate", ascending=False)
        )
        big = points[~points["offences"].map(_is_small)]
        big = big if len(big) else points.assign(rate=np.nan).head(0)
        highest = big.loc[big["rate"].idxmax()] if len(big) else points.iloc[0]
        lowest = big.loc[big["rate"].idxmin()] if len(big) else points.iloc[0]
        res.values = {
            "force_rate": info["force_rate"],
            "highest": highest["csp_name"],
            "lowest": lowest["csp_name"],
            "outside_998": int((points["sig_998"] != "not significant").sum()),
        }
        sentence = (
            f"From {window}, {ctx.force_name} recorded {_fmt(info['force_rate'])} offences of {ctx.what} "
            f"{per}; the highest CSP rate was {highest['csp_name']} ({_fmt(highest['rate'])}) and the "
            f"lowest {lowest['csp_name']} ({_fmt(lowest['rate'])})."
        )
        highlight = None
    _say(sentence)
    res.message = sentence
    table = suppress(raw, ["Offences"], rates=["Rate", "Lower 95% CI", "Upper 95% CI"])
    for c in ("Rate", "Lower 95% CI", "Upper 95% CI"):
        table[c] = [v if isinstance(v, str) else _r(v) for v in table[c]]
    table["Residents"] = raw["Residents"].round(-1).astype("int64").to_numpy()
    res.table = table
    res.csv = _publish(
        ctx,
        table,
        "rates",
        f"Rates {per}, {window}: {ctx.what}",
        note=f"Residents: ONS mid-2020 estimates (rounded to 10). Counts from 1 to {_threshold()} "
        "are shown as * and their rates left blank.",
    )
    # a CSP with 1 to threshold offences is left off the chart (its rate would reveal the count)
    small = points["offences"].map(_is_small)
    hidden_csps = points.loc[small, "csp_name"].tolist()
    points = points[~small]
    outside = points[points["sig_998"].isin(["high", "low"])]
    hi, lo = points.loc[points["rate"].idxmax()], points.loc[points["rate"].idxmin()]
    alt = (
        f"Funnel plot of {ctx.what} rates {per}, {window}, for {len(points)} CSPs against {comparator} "
        f"({_fmt(target)}), with 95% and 99.8% control limits. "
    )
    if ctx.level == "csp":
        alt += f"{ctx.name}: {_fmt(res.values['rate'])} ({_ci(res.values['lower'], res.values['upper'])}). "
    alt += (
        f"Highest: {hi['csp_name']} ({_fmt(hi['rate'])}); lowest: {lo['csp_name']} ({_fmt(lo['rate'])}). "
        f"{len(outside)} CSP(s) lie outside the 99.8% limits"
        + (f": {', '.join(outside['csp_name'])}." if len(outside) else ".")
        + (f" Not drawn (1 to {_threshold()} offences): {', '.join(hidden_csps)}." if hidden_csps else "")
    )
    title = f"{ctx.what_short.capitalize()}: rate per 1,000 residents a year, {window}, " + (
        "all CSPs in the data" if ctx.level == "csp" else f"CSPs of {ctx.force_name}"
    )
    _show(_funnel_figure(ctx, points, target, info, highlight, title), alt, res)
    return res


def funnel_significance_998(points: pd.DataFrame, target: float) -> np.ndarray:
    """99.8% funnel significance of each CSP's rate against ``target`` (per 1,000)."""
    from svtools.analysis.stats import funnel_significance

    return funnel_significance(points["offences"], points["person_years"], target, multiplier=1000)[
        "significance_998"
    ].to_numpy()


def league_table(ctx: ProfileContext) -> SectionResult:
    """The CSPs of a force ranked by rate per 1,000 residents a year with 95% intervals, against the force."""
    areas, info = _area_rates(ctx)
    codes = ctx.csp_codes
    d = areas[areas["csp_code"].isin(codes)].copy()
    res = SectionResult(name="league_table", data=d)
    window = _window_label(info)
    d["shown_rate"] = d["rate"].where(~d["offences"].map(_is_small))
    chart_d = d.assign(
        lower=d["lower"].where(d["shown_rate"].notna()), upper=d["upper"].where(d["shown_rate"].notna())
    )
    big = d[d["shown_rate"].notna()]
    if big.empty:
        return _skip(
            ctx,
            "league_table",
            "The league table",
            f"every CSP has fewer than {_threshold() + 1} offences of {ctx.what} in {window}",
        )
    hi, lo = big.loc[big["rate"].idxmax()], big.loc[big["rate"].idxmin()]
    above = d.loc[d["vs_force_95"] == "high", "csp_name"].tolist()
    below = d.loc[d["vs_force_95"] == "low", "csp_name"].tolist()
    alt = (
        f"Bar chart ranking the {len(d)} CSPs of {ctx.force_name} by {ctx.what} rate per 1,000 residents a "
        f"year, {window}, with 95% confidence intervals and the force rate ({_fmt(info['force_rate'])}) as a "
        f"line. Highest {hi['csp_name']} ({_fmt(hi['rate'])}), lowest {lo['csp_name']} ({_fmt(lo['rate'])}). "
        f"Significantly above the force rate: {', '.join(above) or 'none'}; below: "
        f"{', '.join(below) or 'none'}."
    )
    fig = charts.bar_chart(
        chart_d,
        label="csp_name",
        value="shown_rate",
        lower="lower",
        upper="upper",
        title=f"{ctx.what_short.capitalize()}: rate per 1,000 residents a year by CSP, {window}",
        xlabel="Rate per 1,000 residents a year",
        ylabel="Community Safety Partnership",
        highlight=ctx.name if ctx.level == "csp" else None,
        reference=info["force_rate"],
        reference_label=ctx.force_name,
        value_format="{:.2f}",
    )
    _show(fig, alt, res)
    verdict = {"high": "higher", "low": "lower", "not significant": "similar"}
    raw = d.sort_values("rate", ascending=False)
    table = pd.DataFrame(
        {
            "CSP": raw["csp_name"].to_numpy(),
            "Offences": raw["offences"].to_numpy(),
            "Rate": raw["rate"].round(2).to_numpy(),
            "Lower 95% CI": raw["lower"].round(2).to_numpy(),
            "Upper 95% CI": raw["upper"].round(2).to_numpy(),
            f"Compared with {ctx.force_name}": raw["vs_force_95"].map(verdict).to_numpy(),
        }
    )
    shown = suppress(table, ["Offences"], rates=["Rate", "Lower 95% CI", "Upper 95% CI"])
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "league_table",
        f"CSPs of {ctx.force_name} by rate per 1,000 residents a year, {window}: {ctx.what}",
        note="Compared with the force rate at 95% confidence (exact Poisson or Byar's limits).",
    )
    res.values = {
        "highest": hi["csp_name"],
        "lowest": lo["csp_name"],
        "force_rate": info["force_rate"],
        "above": above,
        "below": below,
    }
    return res


# =========================================================================== month by month
def _spc_frame(series: pd.Series):
    import warnings

    from svtools.analysis.stats import spc

    improvement = config.settings()["spc"].get("improvement", "decrease")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # trial limits: said in the text instead
        return spc(series, improvement=improvement)


def monthly_spc(ctx: ProfileContext) -> SectionResult:
    """Monthly counts on an NHS "Making Data Count" XmR chart: mean, process limits and special-cause
    variation (improvement or concern)."""
    series = ctx.monthly
    res = SectionResult(name="monthly_spc")
    if len(series) < 2 or series.sum() == 0:
        return _skip(
            ctx,
            "monthly_spc",
            "The monthly SPC chart",
            f"there are too few months or no offences of {ctx.what} in {ctx.name} in {ctx.period}",
        )
    s = _spc_frame(series)
    res.data = s
    trial = bool(s["trial_limits"].any())
    chart_data = pd.DataFrame(
        {
            "month": s["date"],
            "value": s["value"],
            "mean": s["mean"],
            "lower": s["lower_limit"].clip(lower=0),
            "upper": s["upper_limit"],
            "variation": s["special_cause"],
        }
    )
    counts = s["special_cause"].value_counts()
    n_imp, n_con = int(counts.get("improvement", 0)), int(counts.get("concern", 0))
    special = s[s["special_cause"].isin(["improvement", "concern"])]
    last = s.iloc[-1]
    alt = output.describe_series(series, f"{ctx.what} offences", ctx.name)
    alt += (
        f" Mean {last['mean']:.1f} a month; process limits {max(last['lower_limit'], 0):.1f} to "
        f"{last['upper_limit']:.1f}{' (trial limits: fewer than 12 months)' if trial else ''}. "
        f"{n_imp} month(s) show special-cause improvement and {n_con} special-cause concern"
        + (
            f"; the latest special cause is in {output.month_label(special['date'].iloc[-1])} "
            f"({special['rule'].iloc[-1]})."
            if len(special)
            else "."
        )
    )
    fig = charts.spc_chart(
        chart_data,
        title=f"{ctx.what_short.capitalize()} per month, {ctx.name}: SPC chart",
        ylabel="Offences per month",
        trial_limits=trial,
    )
    _show(fig, alt, res)
    latest = last["special_cause"]
    sentence = (
        f"The latest month ({output.month_label(last['date'])}) shows "
        f"{'common-cause variation' if latest == 'common cause' else 'special-cause ' + latest}. "
        f"Across the period, {n_imp} month(s) show special-cause improvement and {n_con} concern."
    )
    _say(sentence)
    res.message = sentence
    table = pd.DataFrame(
        {
            "Month": pd.DatetimeIndex(s["date"]).strftime("%b %Y"),
            "Offences": s["value"].astype("int64").to_numpy(),
            "Mean": s["mean"].round(1).to_numpy(),
            "Lower process limit": s["lower_limit"].clip(lower=0).round(1).to_numpy(),
            "Upper process limit": s["upper_limit"].round(1).to_numpy(),
            "Variation": s["special_cause"].to_numpy(),
            "Rule": s["rule"].to_numpy(),
        }
    )
    res.table = suppress(table, ["Offences"])
    res.csv = _publish(
        ctx,
        res.table,
        "monthly_spc",
        f"Offences per month and SPC signals, {ctx.name}",
        note=f"Counts from 1 to {_threshold()} are shown as *.",
        show_last=12,
    )
    res.values = {
        "mean": float(last["mean"]),
        "upper": float(last["upper_limit"]),
        "lower": float(last["lower_limit"]),
        "improvement": n_imp,
        "concern": n_con,
        "latest": latest,
        "trial_limits": trial,
        "months": len(s),
    }
    return res


def special_cause_by_csp(ctx: ProfileContext, recent: int = 6) -> SectionResult:
    """For every CSP of the force: does its SPC chart show special-cause variation in the latest months?"""
    from svtools.analysis.trends import monthly_counts

    counts = ctx.select_counts(ctx.monthly_table)
    rows = []
    for code in ctx.csp_codes:
        series = monthly_counts(
            counts[counts["csp_code"] == code], start=ctx.period_start, end=ctx.period_end
        )
        name = ctx.csp_name(code)
        if series.sum() == 0:
            rows.append(
                {
                    "CSP": name,
                    "Mean per month": 0.0,
                    "Special cause in the latest months": "no offences",
                    "Rule": "",
                    "Improvement points": 0,
                    "Concern points": 0,
                }
            )
            continue
        s = _spc_frame(series)
        tail = s.tail(recent)
        kinds = [k for k in ("concern", "improvement") if (tail["special_cause"] == k).any()]
        rules = sorted(set(tail.loc[tail["special_cause"].isin(kinds), "rule"]))
        rows.append(
            {
                "CSP": name,
                "Mean per month": round(float(s["mean"].iloc[-1]), 1),
                "Special cause in the latest months": " and ".join(kinds) or "none",
                "Rule": "; ".join(rules),
                "Improvement points": int((s["special_cause"] == "improvement").sum()),
                "Concern points": int((s["special_cause"] == "concern").sum()),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs["count_columns"] = []  # point counts are months, not offences or people
    res = SectionResult(name="special_cause_by_csp", data=table, table=table)
    start = ctx.months[-recent] if len(ctx.months) >= recent else ctx.months[0]
    flagged = table[~table["Special cause in the latest months"].isin(["none", "no offences"])]
    sentence = (
        f"Between {start:%B %Y} and {ctx.period_end:%B %Y}, {len(flagged)} of {len(table)} CSPs show "
        "special-cause variation"
        + (
            ": "
            + "; ".join(
                f"{r['CSP']} ({r['Special cause in the latest months']})" for _, r in flagged.iterrows()
            )
            if len(flagged)
            else ""
        )
        + "."
    )
    _say(sentence)
    res.message = sentence
    # point counts are counts of months, not of people: safe to publish
    res.csv = _publish(
        ctx,
        table,
        "special_cause_by_csp",
        f"Special-cause variation in the latest {recent} months by CSP, {ctx.force_name}",
        note="Improvement and concern points count months with a special-cause signal over the "
        "whole period (NHS Making Data Count rules; fewer offences is improvement).",
        counts=[],
    )
    res.values = {"flagged": flagged["CSP"].tolist()}
    return res


# =========================================================================== what
def offence_mix(ctx: ProfileContext) -> SectionResult:
    """Offences by ONS offence subgroup (record-level data) or every data.police.uk crime type."""
    res = SectionResult(name="offence_mix")
    if ctx.record_level:
        sel = ctx.selected
        counts = sel.groupby(sel["offence_subgroup"].astype(str)).size().sort_values(ascending=False)
        label, what, highlight = "Offence type", f"offences of {ctx.what}", None
    else:
        counts = (
            ctx.records.groupby(ctx.records["crime_type"].astype(str)).size().sort_values(ascending=False)
        )
        label, what, highlight = (
            "Crime type",
            "crimes of every type (data.police.uk)",
            "Violence and sexual offences",
        )
    if counts.sum() == 0:
        return _skip(ctx, "offence_mix", "The offence mix", f"no {what} were recorded in {ctx.name}")
    total = int(counts.sum())
    raw = pd.DataFrame(
        {
            label: counts.index,
            "Offences": counts.to_numpy(dtype="int64"),
            "Share (%)": (100 * counts / total).round(1).to_numpy(),
        }
    )
    res.data = raw
    shown = suppress(raw, ["Offences"], rates=["Share (%)"])
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "offence_mix",
        f"{label}s, {ctx.name}, {ctx.period}",
        note=f"Counts from 1 to {_threshold()} are shown as * and their shares left blank.",
    )
    top = raw.head(12).assign(shown=_masked(raw["Offences"].head(12)))
    hi = raw.iloc[0]
    alt = (
        f"Horizontal bar chart of {what} in {ctx.name}, {ctx.period}, by {label.lower()}: "
        f"{len(raw)} types, {_count(total)} in all. Largest: {hi[label]} ({_count(hi['Offences'])}, "
        f"{hi['Share (%)']:.0f}%)"
        + (f"; then {raw.iloc[1][label]} ({_count(raw.iloc[1]['Offences'])})" if len(raw) > 1 else "")
        + "."
    )
    fig = charts.bar_chart(
        top,
        label=label,
        value="shown",
        title=f"{label}s, {ctx.name}, {ctx.period}",
        xlabel="Offences",
        ylabel=label,
        highlight=highlight,
    )
    _show(fig, alt, res)
    res.values = {"total": total, "largest": str(hi[label]), "largest_count": int(hi["Offences"])}
    return res


# =========================================================================== where
def hotspots(ctx: ProfileContext) -> SectionResult:
    """Concentration in neighbourhoods: the share of offences in the top 5% of LSOAs, a Lorenz curve and the
    busiest LSOAs with rates per 1,000 residents a year."""
    from svtools.analysis.place_time import concentration_curve, lsoa_counts, top_share

    title = "Neighbourhood hotspots"
    sel = ctx.selected
    if len(sel) == 0:
        return _skip(ctx, "hotspots", title, f"no offences of {ctx.what} were recorded in {ctx.name}")
    counts = lsoa_counts(sel, ctx.lsoa, csp_codes=ctx.csp_codes, years=ctx.years)
    ts = top_share(counts)
    t = ts.iloc[0].to_dict()
    t["top_lsoas"], t["lsoas"] = int(t["top_lsoas"]), int(t["lsoas"])
    res = SectionResult(name="hotspots", data=counts)
    lorenz = concentration_curve(counts)
    ordered = counts.set_index("lsoa_code").loc[lorenz["lsoa_code"]].reset_index()
    n = len(ordered)
    pop_share = t.get("population_share", float("nan"))
    sentence = (
        f"The busiest {t['top_lsoas']} of {ctx.name}'s {t['lsoas']} neighbourhoods (LSOAs, the top "
        f"{t['lsoa_share']:.0%}) had **{t['offence_share']:.0%}** of the offences of {ctx.what} in "
        f"{ctx.period}" + (f", and {pop_share:.0%} of the residents." if np.isfinite(pop_share) else ".")
    )
    _say(sentence)
    res.message = sentence
    none = int((counts["offences"] == 0).sum())
    alt = (
        f"Lorenz curve of {ctx.what} across the {n} LSOAs of {ctx.name}, {ctx.period}, busiest first. "
        "The top "
        f"{t['lsoa_share']:.0%} of LSOAs ({t['top_lsoas']}) had {t['offence_share']:.0%} of offences; "
        f"{none} LSOAs had none. The busiest LSOA had {_count(ordered['offences'].iloc[0])} offences."
    )
    _show(
        charts.lorenz_chart(
            lorenz,
            title=f"How concentrated {ctx.what_short} is in {ctx.name}'s neighbourhoods",
            top_share=float(t["lsoa_share"]),
            top_value=float(t["offence_share"]),
        ),
        alt,
        res,
    )
    top = ordered.head(max(10, int(t["top_lsoas"]))).head(15)
    rate_col = [c for c in counts.columns if c.startswith("rate_per_")][0]
    raw = pd.DataFrame(
        {
            "LSOA": top["lsoa_code"].to_numpy(),
            "Name": top["lsoa_name"].to_numpy() if "lsoa_name" in top else "",
            "IMD decile": top["imd_decile"].astype("Int64").to_numpy(),
            "Offences": top["offences"].to_numpy(),
            "Rate per 1,000 a year": top[rate_col].round(2),
            "Lower 95% CI": top["lower"].round(2).to_numpy(),
            "Upper 95% CI": top["upper"].round(2),
        }
    )
    raw = raw.reset_index(drop=True)
    shown = suppress(raw, ["Offences"], rates=["Rate per 1,000 a year", "Lower 95% CI", "Upper 95% CI"])
    shown["IMD decile"] = shown["IMD decile"].astype(object).where(shown["IMD decile"].notna(), "")
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "hotspot_lsoas",
        f"Busiest neighbourhoods (LSOAs), {ctx.name}, {ctx.period}",
        note=f"IMD decile 1 = most deprived 10% nationally. Counts from 1 to {_threshold()} are "
        "shown as * and their rates left blank.",
    )
    res.values = {
        "top_lsoas": int(t["top_lsoas"]),
        "lsoas": int(t["lsoas"]),
        "offence_share": float(t["offence_share"]),
        "top_codes": ts.attrs.get("top_codes", []),
    }
    return res


def deprivation(ctx: ProfileContext) -> SectionResult:
    """Rate per 1,000 residents a year by national IMD decile with 95% intervals, and the slope (SII) and
    relative (RII) indices of inequality."""
    from svtools.analysis.place_time import deprivation_gradient

    title = "The deprivation gradient"
    sel = ctx.selected
    if len(sel) == 0:
        return _skip(ctx, "deprivation", title, f"no offences of {ctx.what} were recorded in {ctx.name}")
    # the log-linear fit (PHE transform = TRUE, recommended for rates) when every decile has offences
    g = deprivation_gradient(sel, ctx.lsoa, csp_codes=ctx.csp_codes, years=ctx.years, transform=True)
    if not np.isfinite(g.sii):
        g = deprivation_gradient(sel, ctx.lsoa, csp_codes=ctx.csp_codes, years=ctx.years)
    tab = g.table
    rate_col = [c for c in tab.columns if c.startswith("rate_per_")][0]
    res = SectionResult(name="deprivation", data=tab)
    present = tab[tab["population"] > 0]
    line = g.line if len(g.line) else None
    note = f"SII {g.sii:.2f}, RII {g.rii:.2f}" if np.isfinite(g.sii) else None
    # a rate of a decile with 1 to threshold offences would reveal the count: not drawn, not described
    shown_deciles = present[~present["offences"].map(_is_small)]
    hidden_deciles = present.loc[present["offences"].map(_is_small), "imd_decile"].astype(int).tolist()
    if shown_deciles.empty:
        return _skip(
            ctx,
            "deprivation",
            title,
            f"every decile of {ctx.name} has fewer than {_threshold() + 1} "
            f"offences of {ctx.what}, too few to show",
        )
    chart_data = shown_deciles.rename(columns={rate_col: "value"})[["imd_decile", "value", "lower", "upper"]]
    chart_data = chart_data.astype(float)
    hi = shown_deciles.loc[shown_deciles[rate_col].idxmax()]
    lo = shown_deciles.loc[shown_deciles[rate_col].idxmin()]
    direction = (
        "higher in more deprived neighbourhoods"
        if g.sii < 0
        else "higher in less deprived neighbourhoods"
        if g.sii > 0
        else "flat"
    )
    fit = "log-linear fit" if g.transform else "linear fit"
    sii_text = (
        f"Slope index of inequality {g.sii:.2f} per 1,000 ({_ci(g.sii_lower, g.sii_upper)}); relative "
        f"index {g.rii:.2f} ({_ci(g.rii_lower, g.rii_upper)}; {fit}): rates are {direction}."
        if np.isfinite(g.sii)
        else f"No SII/RII: {g.note}."
    )
    alt = (
        f"Dot plot of {ctx.what} rates per 1,000 residents a year in {ctx.name}, {ctx.period}, by "
        "national IMD "
        "decile (1 = most deprived), with 95% confidence intervals. Highest in decile "
        f"{int(hi['imd_decile'])} "
        f"({_fmt(hi[rate_col])}), lowest in decile {int(lo['imd_decile'])} ({_fmt(lo[rate_col])}). {sii_text}"
        + (
            f" Deciles with 1 to {_threshold()} offences are not drawn: "
            f"{', '.join(map(str, hidden_deciles))}."
            if hidden_deciles
            else ""
        )
    )
    _show(
        charts.gradient_chart(
            chart_data,
            title=f"{ctx.what_short.capitalize()} by deprivation, {ctx.name}",
            ylabel="Rate per 1,000 residents a year",
            line=line,
            note=note,
        ),
        alt,
        res,
    )
    _say(sii_text + (f" ({g.note})" if g.note and np.isfinite(g.sii) else ""))
    raw = pd.DataFrame(
        {
            "IMD decile": tab["imd_decile"].astype(int).to_numpy(),
            "LSOAs": tab["lsoas"].to_numpy(),
            "Residents": tab["population"].round(-1).astype("int64").to_numpy(),
            "Offences": tab["offences"].astype("int64").to_numpy(),
            "Rate per 1,000 a year": tab[rate_col].round(2).to_numpy(),
            "Lower 95% CI": tab["lower"].round(2).to_numpy(),
            "Upper 95% CI": tab["upper"].round(2),
        }
    )
    shown = suppress(raw, ["Offences"], rates=["Rate per 1,000 a year", "Lower 95% CI", "Upper 95% CI"])
    # LSOAs counts areas, not people; residents are rounded
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "deprivation",
        f"Rates by IMD decile, {ctx.name}, {ctx.period}",
        note=f"{sii_text} Counts from 1 to {_threshold()} are shown as * and their rates left blank.",
    )
    res.values = {
        "sii": g.sii,
        "sii_lower": g.sii_lower,
        "sii_upper": g.sii_upper,
        "rii": g.rii,
        "rii_lower": g.rii_lower,
        "rii_upper": g.rii_upper,
        "transform": g.transform,
        "hidden_deciles": hidden_deciles,
    }
    res.message = sii_text
    return res


# =========================================================================== when
def when(ctx: ProfileContext) -> SectionResult:
    """Day of week by hour of day (heatmap, cividis) from the recorded occurrence time."""
    from svtools.analysis.place_time import time_tables

    title = "Day of week and time of day"
    skip = _need_records(ctx, "when", title, "only the month of each crime: no day or time")
    if skip:
        return skip
    sel = ctx.selected
    if len(sel) == 0 or "occurred_at" not in sel.columns:
        return _skip(ctx, "when", title, f"no offences of {ctx.what} with a recorded time in {ctx.name}")
    tt = time_tables(sel)
    heat = tt.heatmap
    known = int(heat.to_numpy().sum())
    if known == 0:
        return _skip(ctx, "when", title, f"no offences of {ctx.what} in {ctx.name} have a recorded hour")
    res = SectionResult(name="when", data=tt.counts)
    hours = tt.hour.set_index("hour")["offences"]
    days = tt.day_of_week.set_index("day_name")["offences"]
    top3 = hours.sort_values(ascending=False, kind="mergesort").head(3)
    r, c = np.unravel_index(np.argmax(heat.to_numpy()), heat.shape)
    alt = (
        f"Heatmap of {ctx.what} in {ctx.name}, {ctx.period}, by day of week and hour of day ({_count(known)} "
        f"offences with a known hour). Busiest single hour: {heat.index[r]} {int(heat.columns[c]):02d}:00. "
        f"Busiest hours over the week: {', '.join(f'{h:02d}:00' for h in top3.index)}; busiest day "
        f"{days.idxmax()} ({_count(days.max())}), quietest {days.idxmin()} ({_count(days.min())})."
    )
    _show(
        charts.day_hour_heatmap(
            heat, title=f"When {ctx.what_short} happens, {ctx.name}", colorbar_label="Offences"
        ),
        alt,
        res,
    )
    unknown = tt.unknown.set_index("item")["records"]
    sentence = (
        f"The busiest hours are {', '.join(f'{h:02d}:00 to {h:02d}:59' for h in top3.index)}. "
        f"{_count(int(unknown.iloc[0]) + int(unknown.iloc[1]))} offences have no recorded hour and are "
        "left out."
    )
    _say(sentence)
    res.message = sentence
    by_hour = pd.DataFrame({"Hour": [f"{h:02d}:00" for h in hours.index], "Offences": hours.to_numpy()})
    by_day = pd.DataFrame({"Day": days.index, "Offences": days.to_numpy()})
    res.table = suppress(by_hour, ["Offences"])
    res.csv = _publish(
        ctx,
        res.table,
        "by_hour",
        f"Offences by hour of day, {ctx.name}, {ctx.period}",
        note=f"Counts from 1 to {_threshold()} are shown as *.",
    )
    _publish(
        ctx, suppress(by_day, ["Offences"]), "by_day", f"Offences by day of week, {ctx.name}, {ctx.period}"
    )
    res.values = {
        "busiest_hours": [int(h) for h in top3.index],
        "busiest_day": str(days.idxmax()),
        "known": known,
    }
    return res


# =========================================================================== who
_PYRAMID_BANDS = [0, 10, 15, 18, 25, 35, 45, 55, 65]


def who(ctx: ProfileContext) -> SectionResult:
    """Victims' and suspects' age and sex (population pyramids of offences)."""
    from svtools.analysis.cohorts import pyramid_data

    title = "Victims' and suspects' age and sex"
    skip = _need_records(ctx, "who", title, "no victim or suspect ages or sex")
    if skip:
        return skip
    sel = ctx.selected
    res = SectionResult(name="who")
    tables = []
    for role in ("victim", "suspect"):
        if f"{role}_id" not in sel.columns or sel[f"{role}_id"].notna().sum() == 0:
            _say(f"No {role}s are recorded for these offences.")
            continue
        p = pyramid_data(sel, role=role, bands=_PYRAMID_BANDS)
        total = int(p["male"].sum() + p["female"].sum())
        if total == 0:
            _say(f"No {role} has a recorded age and sex.")
            continue
        male_share = p["male"].sum() / total
        peak = p.set_index("age_band")[["male", "female"]].stack()
        (band, sex), peak_n = peak.idxmax(), peak.max()
        alt = (
            f"Population pyramid of {role}s of {ctx.what} in {ctx.name}, {ctx.period}, by age group and sex "
            f"({_count(total)} records with known age and sex). {male_share:.0%} were male. Largest group: "
            f"{sex} aged {band} ({_count(peak_n)}). {p.attrs.get('excluded', 0):,} records with unknown "
            "age or "
            "sex are left out."
        )
        chart_d = pd.DataFrame(
            {
                "age_band": p["age_band"].astype(str),
                "male": _masked(p["male"]),
                "female": _masked(p["female"]),
            }
        )
        _show(
            charts.pyramid_chart(
                chart_d,
                title=f"{role.capitalize()}s by age and sex, {ctx.name}",
                xlabel=f"{role.capitalize()} records",
            ),
            alt,
            res,
        )
        t = pd.DataFrame(
            {"Role": role, "Age group": p["age_band"].astype(str), "Male": p["male"], "Female": p["female"]}
        )
        tables.append(t)
        res.values[f"{role}_male_share"] = float(male_share)
        res.values[f"{role}_total"] = total
        res.values[f"{role}_largest"] = f"{sex} {band}"
    if not tables:
        return _skip(ctx, "who", title, "no victim or suspect has a recorded age and sex")
    raw = pd.concat(tables, ignore_index=True)
    res.data = raw
    res.table = suppress(raw, ["Male", "Female"])
    res.csv = _publish(
        ctx,
        res.table,
        "age_sex",
        f"Victims and suspects by age and sex, {ctx.name}, {ctx.period}",
        note=f"Offence records with a known age and sex F or M. Counts from 1 to {_threshold()} "
        "are shown as *.",
    )
    return res


def under25(ctx: ProfileContext) -> SectionResult:
    """Offences against victims under 25 and aged 10-24 by financial year: counts, share of victims of known
    age (Wilson interval) and rate per 1,000 residents of the same ages."""
    from svtools.analysis.cohorts import under25_cohort

    title = "Victims under 25"
    skip = _need_records(ctx, "under25", title, "no victim ages")
    if skip:
        return skip
    sel = ctx.selected
    years = sorted(set(_financial_years(ctx.months)))
    u25 = under25_cohort(sel, ctx.population, min_age=0, csp_codes=ctx.csp_codes, financial_years=years)
    y1024 = under25_cohort(sel, ctx.population, csp_codes=ctx.csp_codes, financial_years=years)
    res = SectionResult(name="under25", data=pd.concat([u25, y1024], ignore_index=True))
    rate_col = [c for c in u25.columns if c.startswith("rate_per_")][0]
    rows = []
    for frame in (u25, y1024):
        for _, r in frame.iterrows():
            rows.append(
                {
                    "Financial year": r["financial_year"],
                    "Victim age": r["age_group"],
                    "Offences": int(r["offences"]),
                    "Victims of known age": int(r["known_age"]),
                    "Share of known ages (%)": round(100 * r["share"], 1) if np.isfinite(r["share"]) else "",
                    "Rate per 1,000 residents of these ages": _r(r[rate_col]),
                    "Lower 95% CI": _r(r["lower"]),
                    "Upper 95% CI": _r(r["upper"]),
                }
            )
    raw = pd.DataFrame(rows)
    shown = _blank_where_small(
        suppress(raw, ["Offences", "Victims of known age"]),
        "Offences",
        ["Share of known ages (%)", "Rate per 1,000 residents of these ages", "Lower 95% CI", "Upper 95% CI"],
        source=raw,
    )
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "under25",
        f"Offences against young victims by financial year, {ctx.name}",
        note="Rates per 1,000 residents of the same ages a year (ONS mid-year estimates); the "
        f"share is of records with a known victim age. Counts from 1 to {_threshold()} are "
        "shown as * and the figures computed from them left blank.",
    )
    allyrs = u25[u25["financial_year"] == "all years"].iloc[0]
    chart_t = pd.DataFrame(
        {
            "financial_year": u25["financial_year"].iloc[:-1].to_numpy(),
            "Under 25": _masked(u25["offences"].iloc[:-1]).to_numpy(),
            "Aged 10-24": _masked(y1024["offences"].iloc[:-1]).to_numpy(),
        }
    )
    hi, lo = _extremes(u25.iloc[:-1].set_index("financial_year")["offences"])
    alt = (
        f"Bar chart of {ctx.what} offences against victims under 25 and aged 10 to 24 in {ctx.name} by "
        f"financial year. Under 25: highest {hi}, lowest {lo}. Over the period {allyrs['share']:.0%} of "
        "victims of known age were under 25."
    )
    _show(
        charts.yearly_chart(chart_t, title=f"Offences against young victims, {ctx.name}", ylabel="Offences"),
        alt,
        res,
    )
    sentence = (
        f"Over {ctx.period}, {_count(allyrs['offences'])} offences of {ctx.what} had a victim under 25: "
        f"{allyrs['share']:.0%} of those with a known victim age."
    )
    _say(sentence)
    res.message = sentence
    res.values = {
        "under25": int(allyrs["offences"]),
        "share": float(allyrs["share"]),
        "aged_10_24": int(y1024[y1024["financial_year"] == "all years"]["offences"].iloc[0]),
    }
    return res


def repeat_victims(ctx: ProfileContext) -> SectionResult:
    """Repeat victimisation: people who were victims of two or more offences, and their share of offences."""
    from svtools.analysis.cohorts import repeat_victims as repeat_fn

    title = "Repeat victims"
    skip = _need_records(ctx, "repeat_victims", title, "no victim identifiers")
    if skip:
        return skip
    sel = ctx.selected
    if "victim_id" not in sel.columns or sel["victim_id"].notna().sum() == 0:
        return _skip(ctx, "repeat_victims", title, "no victims with a pseudonymised id are recorded")
    rv = repeat_fn(sel)
    s = rv.summary.iloc[0]
    res = SectionResult(name="repeat_victims", data=rv.distribution)
    sentence = (
        f"Of {_count(s['people'])} victims of {ctx.what} in {ctx.name} in {ctx.period}, "
        f"{_count(s['repeat_people'])} were victims more than once"
        + (
            f" ({s['repeat_share']:.0%}, "
            f"{_ci(100 * s['repeat_share_lower'], 100 * s['repeat_share_upper'], 0)}%)"
            if not _is_small(s["repeat_people"])
            else ""
        )
        + (
            f"; they account for {s['repeat_offence_share']:.0%} of the offences with a victim."
            if not _is_small(s["repeat_people"]) and s["repeat_people"] > 0
            else "."
        )
    )
    _say(sentence)
    res.message = sentence
    d = rv.distribution
    raw = pd.DataFrame(
        {
            "Offences per victim": d["offences_per_person"],
            "Victims": d["people"],
            "Offences": d["offences"],
            "Share of victims (%)": (100 * d["people_share"]).round(1),
            "Share of offences (%)": (100 * d["offence_share"]).round(1),
        }
    )
    shown = suppress(raw, ["Victims", "Offences"])
    shown = _blank_where_small(
        shown, "Victims", ["Share of victims (%)", "Share of offences (%)", "Offences"], source=raw
    )
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "repeat_victims",
        f"Victims by number of offences, {ctx.name}, {ctx.period}",
        note=f"Victims are pseudonymised ids. Counts from 1 to {_threshold()} are shown as * and "
        "the figures computed from them left blank.",
    )
    res.values = {
        "people": int(s["people"]),
        "repeat_people": int(s["repeat_people"]),
        "repeat_share": float(s["repeat_share"]),
        "repeat_offence_share": float(s["repeat_offence_share"]),
    }
    return res


def harm_concentration(ctx: ProfileContext) -> SectionResult:
    """How concentrated harm is among victims (Crime Severity Score weights): Lorenz curve, Gini coefficient,
    the share of harm experienced by the top 5% of victims and how many victims experienced 20% of it."""
    from svtools.analysis.cohorts import harm_concentration as harm_fn

    title = "Concentration of harm"
    skip = _need_records(
        ctx, "harm_concentration", title, "no victim identifiers or offence codes for severity weights"
    )
    if skip:
        return skip
    sel = ctx.selected
    if "victim_id" not in sel.columns or sel["victim_id"].notna().sum() == 0:
        return _skip(ctx, "harm_concentration", title, "no victims with a pseudonymised id are recorded")
    h = harm_fn(sel)
    res = SectionResult(name="harm_concentration")
    n20 = h.people_for_share(0.2)
    sentence = (
        f"The most-harmed {100 * h.top:g}% of victims ({_count(h.top_people)}) experienced "
        f"**{h.top_harm_share:.0%}** of the harm (Crime Severity Score), and {_count(n20)} victims "
        f"experienced 20% of it (Gini coefficient {h.gini:.2f})."
    )
    _say(sentence)
    res.message = sentence
    lor = h.lorenz
    busiest = pd.DataFrame(
        {
            "area_share": 1 - lor["people_share"].to_numpy()[::-1],
            "offence_share": 1 - lor["harm_share"].to_numpy()[::-1],
        }
    ).iloc[1:]
    alt = (
        f"Lorenz curve of harm (Crime Severity Score weights) across the {_count(h.people)} victims of "
        f"{ctx.what} in {ctx.name}, {ctx.period}, most harmed first. The top {100 * h.top:g}% of victims had "
        f"{h.top_harm_share:.0%} of the harm; Gini coefficient {h.gini:.2f}."
    )
    fig = charts.lorenz_chart(
        busiest,
        title=f"How concentrated harm is among victims, {ctx.name}",
        xlabel="Share of victims, most harmed first",
        ylabel="Share of harm",
        top_share=h.top,
        top_value=h.top_harm_share,
        curve_label="Harm",
    )
    _show(fig, alt, res)
    table = pd.DataFrame(
        [
            ("Victims", _count(h.people)),
            (f"Most-harmed {100 * h.top:g}% of victims", _count(h.top_people)),
            ("Their share of harm (%)", round(100 * h.top_harm_share, 1)),
            ("Victims who experienced 20% of the harm", _count(n20)),
            ("Gini coefficient (0 = equal)", round(h.gini, 3)),
        ],
        columns=["Measure", "Value"],
    )
    table["Value"] = table["Value"].astype(str)
    res.table = table
    res.data = h.summary()
    res.csv = _publish(
        ctx,
        table,
        "harm_concentration",
        f"Concentration of harm among victims, {ctx.name}",
        note="Harm = sum of ONS Crime Severity Score weights (equivalent days of custody) of each "
        "victim's offences.",
    )
    res.values = {
        "gini": h.gini,
        "top_harm_share": h.top_harm_share,
        "top_people": h.top_people,
        "people_for_20pct": n20,
        "people": h.people,
    }
    return res


# =========================================================================== trend and seasonality
def _enough_months(ctx: ProfileContext, name: str, title: str, need: int = 24) -> SectionResult | None:
    if len(ctx.monthly) < need:
        return _skip(
            ctx,
            name,
            title,
            f"it needs at least {need} months of data and {ctx.period} has {len(ctx.monthly)}",
        )
    if ctx.monthly.sum() == 0:
        return _skip(ctx, name, title, f"no offences of {ctx.what} were recorded in {ctx.name}")
    return None


def _trend_fit(ctx: ProfileContext, interruption=None):
    """Fit the trend model (negative binomial), falling back to quasi-Poisson when the NB2 fit fails
    numerically (very small counts); returns (result, note)."""
    from svtools.analysis.trends import fit_trend_model, interrupted_time_series

    def fit(family):
        if interruption is None:
            return fit_trend_model(ctx.monthly, family=family)
        return interrupted_time_series(ctx.monthly, interruption, covid=False, family=family)

    try:
        return fit("negbin"), ""
    except (ArithmeticError, np.linalg.LinAlgError, ValueError) as exc:
        note = (
            f"The negative binomial fit failed ({type(exc).__name__}), so a quasi-Poisson model "
            "(Poisson with overdispersion-scaled intervals) is used."
        )
        return fit("quasipoisson"), note


def stl_trend(ctx: ProfileContext) -> SectionResult:
    """Seasonal-trend decomposition (STL): the monthly series, its trend and the seasonally adjusted
    series."""
    from svtools.analysis.trends import stl_decompose

    title = "The trend"
    skip = _enough_months(ctx, "stl_trend", title)
    if skip:
        return skip
    stl = stl_decompose(ctx.monthly)
    res = SectionResult(name="stl_trend", data=stl)
    t = stl.set_index("month")["trend"]
    first, last = t.iloc[0], t.iloc[-1]
    change = (last / first - 1) if first > 0 else float("nan")
    alt = (
        f"Line chart of monthly {ctx.what} offences in {ctx.name}, {ctx.period}, with the STL trend and the "
        f"seasonally adjusted series. The trend moves from {first:.1f} a month in "
        f"{output.month_label(t.index[0])} to {last:.1f} in {output.month_label(t.index[-1])}"
        + (f" ({change:+.0%})" if np.isfinite(change) else "")
        + f"; its highest point is {t.max():.1f} in {output.month_label(t.idxmax())} and its lowest "
        f"{t.min():.1f} in {output.month_label(t.idxmin())}."
    )
    _show(
        charts.trend_chart(stl, title=f"{ctx.what_short.capitalize()} per month and its trend, {ctx.name}"),
        alt,
        res,
    )
    fy = pd.Series(_financial_years(stl["month"]))
    yearly = (
        pd.DataFrame({"Financial year": fy, "trend": stl["trend"], "sa": stl["seasonally_adjusted"]})
        .groupby("Financial year")
        .agg(months=("trend", "size"), trend=("trend", "mean"), sa=("sa", "mean"))
        .reset_index()
    )
    table = pd.DataFrame(
        {
            "Financial year": yearly["Financial year"],
            "Months": yearly["months"],
            "Trend (offences a month)": yearly["trend"].round(1),
            "Seasonally adjusted (offences a month)": yearly["sa"].round(1),
        }
    )
    res.table = table
    res.csv = _publish(
        ctx,
        table,
        "stl_trend",
        f"Average monthly trend by financial year, {ctx.name}",
        note="STL decomposition (Cleveland et al. 1990), robust fit; averages of monthly values, not counts.",
        counts=[],
    )
    sentence = f"The underlying trend went from {first:.1f} offences a month to {last:.1f}" + (
        f" ({change:+.0%})." if np.isfinite(change) else "."
    )
    _say(sentence)
    res.message = sentence
    res.values = {"trend_first": float(first), "trend_last": float(last), "trend_change": float(change)}
    return res


def seasonality(ctx: ProfileContext) -> SectionResult:
    """The seasonal pattern: the average STL seasonal component by calendar month, with the trend model's
    seasonal curve, its peak month and amplitude."""
    from svtools.analysis.trends import stl_decompose

    title = "The seasonal pattern"
    skip = _enough_months(ctx, "seasonality", title)
    if skip:
        return skip
    stl = stl_decompose(ctx.monthly)
    prof = stl.groupby(pd.DatetimeIndex(stl["month"]).month)["seasonal"].mean()
    profile = pd.DataFrame({"month_of_year": prof.index.astype(int), "value": prof.to_numpy()})
    model, fit_note = _trend_fit(ctx)
    if fit_note:
        _say(fit_note)
    res = SectionResult(name="seasonality", data=profile)
    mean_level = float(ctx.monthly.mean())
    m = np.arange(1, 13)
    curve = None
    # the model's seasonal curve relative to its mean, in offences a month at the average level
    amp, peak = model.seasonal_log_amplitude, model.seasonal_peak
    if np.isfinite(amp) and np.isfinite(peak):
        rel = np.exp(amp * np.cos(2 * np.pi * (m - peak) / 12))
        curve = pd.DataFrame({"month_of_year": m, "value": mean_level * (rel / rel.mean() - 1)})
    month_names = [pd.Timestamp(2000, k, 1).strftime("%B") for k in range(1, 13)]
    hi, lo = int(prof.idxmax()), int(prof.idxmin())
    peak_month = month_names[model.seasonal_peak_month - 1]
    alt = (
        f"Bar chart of the seasonal pattern of {ctx.what} in {ctx.name}: average difference from the "
        "trend by "
        f"calendar month, {ctx.period}. Highest in {month_names[hi - 1]} ({prof.max():+.1f} offences a "
        "month), "
        f"lowest in {month_names[lo - 1]} ({prof.min():+.1f}). The trend model puts the peak in "
        f"{peak_month}, "
        f"with the peak month {model.seasonal_amplitude:.2f} times the average month."
    )
    _show(
        charts.seasonal_chart(
            profile, title=f"Seasonal pattern of {ctx.what_short}, {ctx.name}", model=curve
        ),
        alt,
        res,
    )
    sentence = (
        f"Offences peak in **{peak_month}**: the peak month runs at {model.seasonal_amplitude:.2f} times the "
        f"average month (peak {model.seasonal_peak:.1f}, {_ci(*model.seasonal_peak_ci, nd=1)} on a 0-12 "
        "month scale)."
    )
    _say(sentence)
    res.message = sentence
    table = pd.DataFrame(
        {"Month": month_names, "Seasonal effect (offences a month)": prof.round(2).to_numpy()}
    )
    res.table = table
    res.csv = _publish(
        ctx,
        table,
        "seasonal_pattern",
        f"Seasonal pattern by calendar month, {ctx.name}",
        note="Mean of the STL seasonal component for each calendar month: the average number of "
        "offences above (+) or below (-) the trend.",
        counts=[],
    )
    res.values = {
        "peak_month": int(model.seasonal_peak_month),
        "amplitude": float(model.seasonal_amplitude),
        "stl_peak_month": hi,
        "family": model.family,
    }
    return res


def trend_model(ctx: ProfileContext, horizon: int = 12) -> SectionResult:
    """The log-linear trend model (negative binomial): annual rate ratio with its interval, the COVID-19
    lockdown rate ratio, and a 12-month forecast with its 95% prediction band."""
    title = "The trend model and forecast"
    skip = _enough_months(ctx, "trend_model", title)
    if skip:
        return skip
    model, fit_note = _trend_fit(ctx)
    if fit_note:
        _say(fit_note)
    fc = model.forecast(horizon)
    res = SectionResult(name="trend_model", data=model.summary())
    rr, (lo, hi) = model.annual_rate_ratio, model.annual_rate_ratio_ci
    direction = "are **falling**" if hi < 1 else "are **rising**" if lo > 1 else "show **no clear change**"
    sentence = (
        f"Allowing for the season and the first COVID-19 lockdown, offences of {ctx.what} in {ctx.name} "
        f"{direction}: the annual rate ratio is {rr:.3f} ({_ci(lo, hi, 3)}), i.e. "
        f"{(rr - 1):+.1%} a year."
    )
    if np.isfinite(model.covid_rate_ratio):
        sentence += (
            f" During the lockdown (April to June 2020) offences were {model.covid_rate_ratio:.2f} times "
            f"the expected level ({_ci(*model.covid_rate_ratio_ci)})."
        )
    _say(sentence)
    res.message = sentence
    alt = (
        f"Line chart of monthly {ctx.what} offences in {ctx.name}, {ctx.period}, with the fitted trend model "
        f"and a {horizon}-month forecast. Annual rate ratio {rr:.3f} ({_ci(lo, hi, 3)}). The forecast for "
        f"{output.month_label(fc['month'].iloc[0])} to {output.month_label(fc['month'].iloc[-1])} ranges from "
        f"{fc['expected'].min():.1f} to {fc['expected'].max():.1f} offences a month, with 95% prediction "
        f"limits from {fc['lower'].min():.0f} to {fc['upper'].max():.0f}."
    )
    _show(
        charts.forecast_chart(
            ctx.monthly,
            fc,
            fitted=model.fitted,
            title=f"Trend model and {horizon}-month forecast, {ctx.name}",
        ),
        alt,
        res,
    )
    summ = model.summary()
    table = pd.DataFrame(
        {
            "Measure": summ["measure"],
            "Estimate": summ["estimate"].round(3),
            "Lower 95% CI": summ["lower"].round(3),
            "Upper 95% CI": summ["upper"].round(3),
        }
    )
    res.table = table
    res.csv = _publish(
        ctx,
        table,
        "trend_model",
        f"Trend model estimates, {ctx.name}, {ctx.period}",
        note=f"Log-linear count model ({model.family}): trend, one seasonal harmonic and "
        "a COVID-19 lockdown term. Rate ratios per year.",
        counts=[],
    )
    ftable = pd.DataFrame(
        {
            "Month": pd.DatetimeIndex(fc["month"]).strftime("%b %Y"),
            "Expected offences": fc["expected"].round(1),
            "Lower 95% prediction limit": fc["lower"].round(0),
            "Upper 95% prediction limit": fc["upper"].round(0),
        }
    )
    _publish(
        ctx,
        ftable,
        "forecast",
        f"Forecast, {ctx.name}",
        note="Model expectations, not recorded counts.",
        counts=[],
    )
    res.values = {
        "annual_rate_ratio": rr,
        "annual_rate_ratio_ci": (lo, hi),
        "covid_rate_ratio": model.covid_rate_ratio,
        "forecast": fc,
        "family": model.family,
    }
    return res


def covid_interruption(ctx: ProfileContext) -> SectionResult:
    """The COVID-19 interruption as an interrupted time series: level change at the first lockdown and the
    change in trend after it."""
    title = "The COVID-19 interruption"
    skip = _enough_months(ctx, "covid_interruption", title)
    if skip:
        return skip
    start = pd.Timestamp(config.settings()["periods"]["covid_start"])
    months = ctx.monthly.index
    if (months < start).sum() < 6 or (months >= start).sum() < 6:
        return _skip(
            ctx,
            "covid_interruption",
            title,
            f"the period ({ctx.period}) needs at least 6 months before and after {start:%B %Y}",
        )
    its, fit_note = _trend_fit(ctx, interruption=start)
    if fit_note:
        _say(fit_note)
    res = SectionResult(name="covid_interruption", data=its.table)
    lvl, (l_lo, l_hi) = its.level_change, its.level_change_ci
    sl, (s_lo, s_hi) = its.slope_change, its.slope_change_ci
    sentence = (
        f"At the first lockdown ({start:%B %Y}) offences stepped by a factor of {lvl:.2f} "
        f"({_ci(l_lo, l_hi)}); the yearly trend was {its.pre_trend[0]:.3f} before and "
        f"{its.post_trend[0]:.3f} "
        f"after (ratio {sl:.3f}, {_ci(s_lo, s_hi, 3)})."
    )
    _say(sentence)
    res.message = sentence
    alt = (
        f"Line chart of monthly {ctx.what} offences in {ctx.name}, {ctx.period}, with a segmented regression "
        f"model interrupted in {start:%B %Y} and the expected series without the interruption. Level change "
        f"{lvl:.2f} ({_ci(l_lo, l_hi)}); annual rate ratio {its.pre_trend[0]:.3f} before and "
        f"{its.post_trend[0]:.3f} after."
    )
    _show(
        charts.its_chart(
            its.fitted,
            its.interruption,
            title=f"The COVID-19 interruption, {ctx.name}",
            interruption_label="First lockdown",
        ),
        alt,
        res,
    )
    table = pd.DataFrame(
        {
            "Measure": its.table["measure"],
            "Estimate": its.table["estimate"].round(3),
            "Lower 95% CI": its.table["lower"].round(3),
            "Upper 95% CI": its.table["upper"].round(3),
            "p-value": its.table["p_value"].round(3),
        }
    )
    res.table = table
    res.csv = _publish(
        ctx,
        table,
        "covid_interruption",
        f"Interrupted time series at the first lockdown, {ctx.name}",
        note="Segmented negative binomial regression with one seasonal harmonic (Bernal et al. 2017).",
        counts=[],
    )
    res.values = {
        "level_change": lvl,
        "level_change_ci": (l_lo, l_hi),
        "slope_change": sl,
        "family": its.model.family,
    }
    return res


# =========================================================================== young people
def young_people(ctx: ProfileContext) -> SectionResult:
    """Victims and suspects under 25 by financial year: offences with a victim under 25 and with a suspect
    under 25, and their shares of offences where the age is known."""
    title = "Victims and suspects under 25"
    skip = _need_records(ctx, "young_people", title, "no victim or suspect ages")
    if skip:
        return skip
    from svtools.analysis.stats import proportion

    sel = ctx.selected
    u25_max = int(config.settings()["age_bands"]["under_25_max_age"])
    fy = sel["financial_year"].astype(str)
    rows = []
    for role in ("victim", "suspect"):
        age = sel[f"{role}_age"].astype("Float64")
        known = age.notna().to_numpy(dtype=bool)
        young = (age <= u25_max).fillna(False).to_numpy(dtype=bool)
        for year in sorted(fy.unique()):
            inyear = (fy == year).to_numpy()
            rows.append(
                {
                    "role": role,
                    "financial_year": year,
                    "under_25": int((young & inyear).sum()),
                    "known_age": int((known & inyear).sum()),
                }
            )
    raw = pd.DataFrame(rows)
    p = proportion(raw["under_25"], raw["known_age"].where(raw["known_age"] > 0), multiplier=100)
    raw["share"], raw["lower"], raw["upper"] = (
        p["value"].to_numpy(),
        p["lower"].to_numpy(),
        p["upper"].to_numpy(),
    )
    res = SectionResult(name="young_people", data=raw)
    table = pd.DataFrame(
        {
            "Role": raw["role"].str.capitalize(),
            "Financial year": raw["financial_year"],
            "Under 25": raw["under_25"],
            "Age known": raw["known_age"],
            "Share under 25 (%)": raw["share"].round(1),
            "Lower 95% CI": raw["lower"].round(1),
            "Upper 95% CI": raw["upper"].round(1),
        }
    )
    shown = _blank_where_small(
        suppress(table, ["Under 25", "Age known"]),
        "Under 25",
        ["Share under 25 (%)", "Lower 95% CI", "Upper 95% CI"],
        source=table,
    )
    shown = _blank_where_small(
        shown, "Age known", ["Share under 25 (%)", "Lower 95% CI", "Upper 95% CI"], source=table
    )
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "victims_suspects_under25",
        f"Offences with a victim or suspect under 25 by financial year, {ctx.name}",
        note="Shares of records with a known age, Wilson 95% intervals. Counts from 1 to "
        f"{_threshold()} are shown as * and the figures computed from them left blank.",
    )
    wide = raw.pivot_table(index="financial_year", columns="role", values="under_25")
    chart_t = pd.DataFrame(
        {
            "financial_year": wide.index,
            "Victim under 25": _masked(wide.get("victim", pd.Series(0, index=wide.index))).to_numpy(),
            "Suspect under 25": _masked(wide.get("suspect", pd.Series(0, index=wide.index))).to_numpy(),
        }
    )
    tot = raw.groupby("role")[["under_25", "known_age"]].sum()
    vs = (
        tot.loc["victim", "under_25"] / tot.loc["victim", "known_age"]
        if tot.loc["victim", "known_age"]
        else np.nan
    )
    ss = (
        tot.loc["suspect", "under_25"] / tot.loc["suspect", "known_age"]
        if tot.loc["suspect", "known_age"]
        else np.nan
    )
    alt = (
        f"Bar chart of {ctx.what} offences in {ctx.name} by financial year with a victim under 25 and with a "
        f"suspect under 25. Victims: highest {_extremes(wide['victim'])[0]}, lowest "
        f"{_extremes(wide['victim'])[1]}; "
        f"over the period {vs:.0%} of victims and {ss:.0%} of suspects of known age were under 25."
    )
    _show(
        charts.yearly_chart(
            chart_t, title=f"Offences with a victim or suspect under 25, {ctx.name}", ylabel="Offences"
        ),
        alt,
        res,
    )
    sentence = f"Over {ctx.period}, {vs:.0%} of victims and {ss:.0%} of suspects of known age were under 25."
    _say(sentence)
    res.message = sentence
    res.values = {
        "victim_share": float(vs),
        "suspect_share": float(ss),
        "victims_under25": int(tot.loc["victim", "under_25"]),
        "suspects_under25": int(tot.loc["suspect", "under_25"]),
    }
    return res


def young_ages(ctx: ProfileContext) -> SectionResult:
    """Ages 10 to 24 year by year: victims and suspects of each single year of age."""
    from svtools.analysis.cohorts import age_sex_table

    title = "Ages 10 to 24 in detail"
    skip = _need_records(ctx, "young_ages", title, "no victim or suspect ages")
    if skip:
        return skip
    cfg = config.settings()["age_bands"]
    lo, hi = int(cfg["young_people_min_age"]), int(cfg["under_25_max_age"])
    bands = [0] + list(range(lo, hi + 2))
    sel = ctx.selected
    parts = {}
    for role in ("victim", "suspect"):
        t = age_sex_table(sel, role=role, bands=bands)
        by_age = t.groupby("age_band", observed=False)["count"].sum()
        parts[role] = by_age.reindex([str(a) for a in range(lo, hi + 1)]).fillna(0).astype("int64")
    raw = pd.DataFrame(
        {
            "Age": list(range(lo, hi + 1)),
            "Victims": parts["victim"].to_numpy(),
            "Suspects": parts["suspect"].to_numpy(),
        }
    )
    res = SectionResult(name="young_ages", data=raw)
    shown = suppress(raw, ["Victims", "Suspects"])
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "ages_10_24",
        f"Victim and suspect records by single year of age, {lo} to {hi}, {ctx.name}",
        note=f"Counts from 1 to {_threshold()} are shown as *.",
    )
    chart_d = pd.DataFrame({"age": raw["Age"].astype(str), "victims": _masked(raw["Victims"])})
    v = raw.set_index("Age")["Victims"]
    s = raw.set_index("Age")["Suspects"]
    alt = (
        f"Bar chart of {ctx.what} victims aged {lo} to {hi} in {ctx.name}, {ctx.period}, by single year "
        "of age. "
        f"Most victims at age {v.idxmax()} ({_count(v.max())}), fewest at age {v.idxmin()} "
        f"({_count(v.min())}). "
        f"Suspects peak at age {s.idxmax()} ({_count(s.max())})."
    )
    _show(
        charts.bar_chart(
            chart_d,
            label="age",
            value="victims",
            sort=False,
            title=f"Victims aged {lo} to {hi} by age, {ctx.name}",
            xlabel="Victim records",
            ylabel="Age (years)",
        ),
        alt,
        res,
    )
    res.values = {
        "victim_peak_age": int(v.idxmax()),
        "suspect_peak_age": int(s.idxmax()),
        "victims": int(v.sum()),
        "suspects": int(s.sum()),
    }
    return res


def young_sex(ctx: ProfileContext) -> SectionResult:
    """Sex of victims and suspects aged 10 to 24."""
    from svtools.analysis.cohorts import age_sex_table

    title = "Sex of young victims and suspects"
    skip = _need_records(ctx, "young_sex", title, "no victim or suspect ages or sex")
    if skip:
        return skip
    cfg = config.settings()["age_bands"]
    lo, hi = int(cfg["young_people_min_age"]), int(cfg["under_25_max_age"])
    rows = []
    for role in ("victim", "suspect"):
        t = age_sex_table(ctx.selected, role=role, bands=[0, lo, hi + 1])
        band = t[t["age_band"] == f"{lo}-{hi}"].set_index("sex")["count"]
        for sex, label in (("M", "Male"), ("F", "Female"), ("X", "Other"), ("Unknown", "Not recorded")):
            rows.append({"Role": role.capitalize(), "Sex": label, "Records": int(band.get(sex, 0))})
    raw = pd.DataFrame(rows)
    known = raw[raw["Sex"].isin(["Male", "Female", "Other"])].groupby("Role")["Records"].sum()
    raw["Share of known (%)"] = [
        round(100 * r / known[role], 1) if s != "Not recorded" and known.get(role) else ""
        for role, s, r in zip(raw["Role"], raw["Sex"], raw["Records"])
    ]
    res = SectionResult(name="young_sex", data=raw)
    shown = suppress(raw, ["Records"], rates=["Share of known (%)"])
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "young_sex",
        f"Sex of victims and suspects aged {lo} to {hi}, {ctx.name}",
        note=f"Counts from 1 to {_threshold()} are shown as * and their shares left blank.",
    )
    male = {
        r: raw[(raw["Role"] == r) & (raw["Sex"] == "Male")]["Records"].sum() / known[r]
        if known.get(r)
        else float("nan")
        for r in ("Victim", "Suspect")
    }
    sentence = (
        f"Of victims aged {lo} to {hi} with a recorded sex, {male['Victim']:.0%} were male; of suspects, "
        f"{male['Suspect']:.0%}."
    )
    _say(sentence)
    res.message = sentence
    res.values = {"victim_male_share": float(male["Victim"]), "suspect_male_share": float(male["Suspect"])}
    return res


def _population_ethnicity(ctx: ProfileContext) -> pd.Series | None:
    """Resident population shares by ethnic group for the force, when known (synthetic demo only)."""
    if not ctx.synthetic:
        return None
    try:
        from svtools.ingest.demo import demo_config
        from svtools.ingest.geography import geography_settings

        slugs = {v: k for k, v in geography_settings()["demo_forces"].items()}
        pct = demo_config()["victims"]["population_ethnicity_pct"][slugs[ctx.force_code]]
    except (ImportError, KeyError):
        return None
    return pd.Series({str(k): float(v) for k, v in pct.items()})


def young_ethnicity(ctx: ProfileContext) -> SectionResult:
    """Ethnicity of victims aged 10 to 24 against the resident population: shares and rate ratios relative
    to White residents, with 95% intervals."""
    from svtools.analysis.cohorts import ethnicity_disproportionality

    title = "Ethnicity of young victims against the population"
    skip = _need_records(ctx, "young_ethnicity", title, "no victim ages or ethnicity")
    if skip:
        return skip
    shares = _population_ethnicity(ctx)
    if shares is None:
        return _skip(
            ctx, "young_ethnicity", title, "no resident population by ethnic group is held for this area"
        )
    young = ctx if ctx.victim_ages else ctx.young()
    sel = young.selected
    if len(sel) == 0 or sel["victim_ethnicity"].notna().sum() == 0:
        return _skip(ctx, "young_ethnicity", title, f"no {young.cohort_label} have a recorded ethnicity")
    e = ethnicity_disproportionality(sel, shares)
    res = SectionResult(name="young_ethnicity", data=e)
    table = pd.DataFrame(
        {
            "Ethnic group": e["ethnicity"],
            "Victim records": e["victims"],
            "Share of victims (%)": (100 * e["share"]).round(1),
            "Share of residents (%)": (100 * e["population_share"]).round(1),
            "Rate ratio (vs White)": e["rate_ratio"].round(2),
            "Lower 95% CI": e["lower"].round(2),
            "Upper 95% CI": e["upper"].round(2),
        }
    )
    shown = _blank_where_small(
        suppress(table, ["Victim records"]),
        "Victim records",
        ["Share of victims (%)", "Rate ratio (vs White)", "Lower 95% CI", "Upper 95% CI"],
        source=table,
    )
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "young_ethnicity",
        f"Ethnicity of {young.cohort_label}, {ctx.name}, {ctx.period}",
        note="Resident shares: approximate Census 2021 shares for the force area, entered by hand for "
        "the synthetic demo data (not an official extract). Counts from 1 to "
        f"{_threshold()} are shown as * and the figures computed from them left blank.",
    )
    groups = e[e["ethnicity"] != "Not known"].set_index("ethnicity")
    visible = groups[~groups["victims"].map(_is_small)]  # a ratio from a hidden count would reveal it
    hidden = [g for g in groups.index if g not in visible.index]
    highest = visible["rate_ratio"].idxmax()
    alt = (
        f"Bar chart of rate ratios of {ctx.what} victimisation by ethnic group relative to White residents, "
        f"{young.cohort_label}, {ctx.name}, {ctx.period}, with 95% confidence intervals. Highest shown: "
        f"{highest} ({visible.loc[highest, 'rate_ratio']:.2f}); lowest shown: "
        f"{visible['rate_ratio'].idxmin()} "
        f"({visible['rate_ratio'].min():.2f})."
        + (f" Not shown (fewer than {_threshold() + 1} victims): {', '.join(hidden)}." if hidden else "")
    )
    others = visible[(visible.index != "White") & (visible["victims"] > 0)]
    if others.empty:
        line = (
            f"The chart is left out: every group other than White had no {young.cohort_label} or fewer than "
            f"{_threshold() + 1}, too few to compare without risk of identifying people."
        )
        _say(line)
        res.message = line
        res.values = {"highest": None, "rate_ratios": groups["rate_ratio"].to_dict(), "hidden": hidden}
        return res
    chart_d = groups.reset_index()
    small = chart_d["victims"].map(_is_small)
    chart_d = chart_d.assign(
        rr=chart_d["rate_ratio"].where(~small),
        lo=chart_d["lower"].where(~small),
        hi=chart_d["upper"].where(~small),
    )
    _show(
        charts.bar_chart(
            chart_d,
            label="ethnicity",
            value="rr",
            lower="lo",
            upper="hi",
            reference=1.0,
            reference_label="White residents",
            value_format="{:.2f}",
            title=f"Victimisation rate ratio by ethnic group, {young.cohort_label}, {ctx.name}",
            xlabel="Rate ratio (White = 1)",
            ylabel="Ethnic group",
        ),
        alt,
        res,
    )
    res.values = {"highest": highest, "rate_ratios": groups["rate_ratio"].to_dict(), "hidden": hidden}
    return res


def knife_involvement(ctx: ProfileContext) -> SectionResult:
    """Knife involvement: of the offences in the definition's offence codes (knife flag or not), the share
    with the Home Office knife or sharp-instrument flag, for victims aged 10-24 and 25 and over, by financial
    year."""
    from svtools.analysis.stats import proportion

    title = "Knife involvement"
    skip = _need_records(ctx, "knife_involvement", title, "no knife flags or victim ages")
    if skip:
        return skip
    cfg = config.settings()["age_bands"]
    lo, hi = int(cfg["young_people_min_age"]), int(cfg["under_25_max_age"])
    recs = ctx.records
    codes = recs["ho_offence_code"].astype("string")
    base = recs[codes.isin(ctx.definition.offence_codes).fillna(False).to_numpy(bool)]
    age = base["victim_age"].astype("Float64")
    group = np.where(
        ((age >= lo) & (age <= hi)).fillna(False).to_numpy(bool),
        f"{lo}-{hi}",
        np.where((age > hi).fillna(False).to_numpy(bool), f"{hi + 1}+", ""),
    )
    frame = pd.DataFrame(
        {
            "fy": base["financial_year"].astype(str).to_numpy(),
            "group": group,
            "knife": base["knife_flag"].astype("boolean").fillna(False).to_numpy(bool),
        }
    )
    frame = frame[frame["group"] != ""]
    if frame.empty:
        return _skip(ctx, "knife_involvement", title, "no victims of known age in these offence types")
    agg = frame.groupby(["group", "fy"]).agg(knife=("knife", "sum"), offences=("knife", "size")).reset_index()
    allp = (
        frame.groupby("group")
        .agg(knife=("knife", "sum"), offences=("knife", "size"))
        .reset_index()
        .assign(fy="all years")
    )
    agg = pd.concat([agg, allp], ignore_index=True)
    p = proportion(agg["knife"], agg["offences"], multiplier=100)
    agg["share"], agg["lower"], agg["upper"] = (
        p["value"].to_numpy(),
        p["lower"].to_numpy(),
        p["upper"].to_numpy(),
    )
    res = SectionResult(name="knife_involvement", data=agg)
    table = pd.DataFrame(
        {
            "Victim age": agg["group"],
            "Financial year": agg["fy"],
            "Offences": agg["offences"].astype("int64"),
            "With a knife": agg["knife"].astype("int64"),
            "Share with a knife (%)": agg["share"].round(1),
            "Lower 95% CI": agg["lower"].round(1),
            "Upper 95% CI": agg["upper"].round(1),
        }
    )
    shown = suppress(table, ["Offences", "With a knife"])
    for c in ("Offences", "With a knife"):
        shown = _blank_where_small(
            shown, c, ["Share with a knife (%)", "Lower 95% CI", "Upper 95% CI"], source=table
        )
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "knife_involvement",
        f"Share of offences with a knife or sharp instrument by victim age, {ctx.name}",
        note=f"Offences of the codes in '{ctx.definition.title}', with or without the knife flag. "
        "Wilson 95% intervals. Counts from 1 to "
        f"{_threshold()} are shown as * and the figures computed from them left blank.",
    )
    overall = agg[agg["fy"] == "all years"].set_index("group")
    chart_d = overall.reset_index().assign(label=lambda d: "Victims aged " + d["group"])
    alt = (
        f"Bar chart of the share of offences in {ctx.name}, {ctx.period}, that involved a knife or sharp "
        f"instrument, by victim age, with 95% confidence intervals: "
        + "; ".join(
            f"aged {g}: {r['share']:.0f}% ({_ci(r['lower'], r['upper'], 0)})" for g, r in overall.iterrows()
        )
        + "."
    )
    _show(
        charts.bar_chart(
            chart_d,
            label="label",
            value="share",
            lower="lower",
            upper="upper",
            title=f"Share of offences involving a knife, by victim age, {ctx.name}",
            xlabel="Offences with a knife or sharp instrument (%)",
            ylabel="Victim age",
            value_format="{:.0f}%",
        ),
        alt,
        res,
    )
    res.values = {g: float(r["share"]) for g, r in overall.iterrows()}
    return res


# =========================================================================== data quality
def _force_rows(ctx: ProfileContext) -> pd.DataFrame:
    """Every kept record reported by the force (including those placed in other forces' CSPs), in the
    period."""
    from svtools.ingest.store import dataset_dir

    path = dataset_dir(ctx.dataset) / "records"
    frame = pd.read_parquet(path, filters=[("reporting_force", "==", ctx.force_code)])
    frame = frame[(frame["month"] >= ctx.period_start) & (frame["month"] <= ctx.period_end)]
    return frame


def _force_excluded(ctx: ProfileContext) -> pd.DataFrame:
    from svtools.ingest.store import load_table

    ex = load_table("excluded", ctx.dataset)
    if "reporting_force" in ex.columns:
        ex = ex[ex["reporting_force"] == ctx.force_code]
    if "month" in ex.columns:
        ex = ex[(ex["month"].isna()) | ((ex["month"] >= ctx.period_start) & (ex["month"] <= ctx.period_end))]
    return ex


_POLICE_UK_FIELDS = {"last_outcome": "Outcome recorded", "lsoa_code": "LSOA recorded"}


def completeness(ctx: ProfileContext) -> SectionResult:
    """Completeness of each field by month (share of records with it filled in)."""
    from svtools.analysis.quality import QUALITY_FIELDS, completeness_by_month, completeness_summary

    recs = ctx.records
    fields = QUALITY_FIELDS if ctx.record_level else _POLICE_UK_FIELDS
    fields = {k: v for k, v in fields.items() if k in recs.columns}
    if not fields or recs.empty:
        return _skip(ctx, "completeness", "Field completeness", "the data hold none of the fields checked")
    by_month = completeness_by_month(recs, fields)
    summary = completeness_summary(recs, fields)
    res = SectionResult(name="completeness", data=by_month)
    shares = by_month.drop(columns=["records"])
    worst = summary.sort_values("share_known").iloc[0]
    best = summary.sort_values("share_known").iloc[-1]
    month_min = shares.min(axis=1)
    alt = (
        f"Line chart of the share of records with each field filled in, by month, {ctx.name}, {ctx.period}: "
        f"{len(fields)} fields. Least complete overall: {worst['field']} ({worst['share_known']:.0%}); most "
        f"complete: {best['field']} ({best['share_known']:.0%}). The lowest monthly value of any field is "
        f"{month_min.min():.0%} in {output.month_label(month_min.idxmin())}."
    )
    _show(
        charts.completeness_chart(shares, title=f"Completeness of each field by month, {ctx.name}"), alt, res
    )
    table = pd.DataFrame(
        {
            "Field": summary["field"],
            "Known": summary["known"],
            "Missing": summary["missing"],
            "Known (%)": (100 * summary["share_known"]).round(1),
        }
    )
    shown = suppress(table, ["Known", "Missing"])
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "completeness",
        f"Completeness of each field, {ctx.name}, {ctx.period}",
        note="Victim fields are judged on records that have a victim. Counts from 1 to "
        f"{_threshold()} are shown as *.",
    )
    monthly = shares.copy()
    monthly.index = pd.DatetimeIndex(monthly.index).strftime("%b %Y")
    monthly = (100 * monthly).round(1).reset_index(names="Month")
    _publish(
        ctx,
        monthly,
        "completeness_by_month",
        f"Completeness by month (% of records), {ctx.name}",
        counts=[],
        show_last=12,
    )
    res.values = {"least_complete": str(worst["field"]), "least_share": float(worst["share_known"])}
    return res


def location_quality(ctx: ProfileContext) -> SectionResult:
    """How well records could be placed: in the force, outside it, unlocated, unknown LSOA; exclusions by
    month."""
    from svtools.analysis.quality import exclusions_table
    from svtools.analysis.quality import location_quality as location_fn

    rows = _force_rows(ctx)
    ex = _force_excluded(ctx)
    table = location_fn(rows, ex)
    res = SectionResult(name="location_quality", data=table)
    shown = pd.DataFrame(
        {"Status": table["status"], "Records": table["records"], "Share (%)": (100 * table["share"]).round(2)}
    )
    shown = suppress(shown, ["Records"], rates=["Share (%)"])
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "location_quality",
        f"Where the records of {ctx.force_name} could be placed",
        note=f"Counts from 1 to {_threshold()} are shown as * and their shares left blank.",
    )
    t = table.set_index("status")["records"]
    total = int(t.sum())
    sentence = (
        f"Of {total:,} rows reported by {ctx.force_name} in {ctx.period}, {_count(t.iloc[0])} were placed in "
        f"one of its CSPs, {_count(t.iloc[1])} in an LSOA outside the force area, {_count(t.iloc[2])} had no "
        f"location and {_count(t.iloc[3])} an LSOA code not in the lookups."
    )
    _say(sentence)
    res.message = sentence
    if len(ex):
        wide = exclusions_table(ex)
        wide.index = pd.DatetimeIndex(wide.index).strftime("%b %Y")
        wide.columns = [str(c).replace("_", " ").capitalize() for c in wide.columns]
        wide = wide.reset_index(names="Month")
        cols = [c for c in wide.columns if c != "Month"]
        _publish(
            ctx,
            suppress(wide, cols),
            "exclusions_by_month",
            f"Rows excluded at ingest by month, {ctx.force_name}",
            note=f"Counts from 1 to {_threshold()} are shown as *.",
            show_last=12,
        )
    res.values = {"total": total, **{k: int(v) for k, v in t.items()}}
    return res


def unknown_ages(ctx: ProfileContext) -> SectionResult:
    """Victim records with no recorded age, by CSP and financial year."""
    title = "Unknown victim ages"
    skip = _need_records(ctx, "unknown_ages", title, "no victim ages to check")
    if skip:
        return skip
    recs = ctx.records
    with_victim = recs[recs["victim_id"].notna()] if "victim_id" in recs.columns else recs
    grp = with_victim.groupby(
        [with_victim["csp_code"].astype(str), with_victim["financial_year"].astype(str)]
    )
    agg = grp["victim_age"].agg(records="size", unknown=lambda s: int(s.isna().sum())).reset_index()
    agg["share"] = 100 * agg["unknown"] / agg["records"]
    agg["CSP"] = agg["csp_code"].map(ctx.csp_name)
    res = SectionResult(name="unknown_ages", data=agg)
    table = pd.DataFrame(
        {
            "CSP": agg["CSP"],
            "Financial year": agg["financial_year"],
            "Victim records": agg["records"].astype("int64"),
            "Age not recorded": agg["unknown"].astype("int64"),
            "Age not recorded (%)": agg["share"].round(1),
        }
    )
    shown = suppress(table, ["Victim records", "Age not recorded"])
    shown = _blank_where_small(shown, "Age not recorded", ["Age not recorded (%)"], source=table)
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "unknown_ages",
        f"Victim records with no age by CSP and year, {ctx.force_name}",
        note=f"Counts from 1 to {_threshold()} are shown as * and their shares left blank.",
    )
    total = int(agg["records"].sum())
    share = agg["unknown"].sum() / total if total else float("nan")
    by_csp = agg.groupby("CSP")[["unknown", "records"]].sum()
    by_csp = by_csp["unknown"] / by_csp["records"]
    sentence = (
        f"{share:.1%} of victim records in {ctx.period} have no age (from {by_csp.min():.1%} in "
        f"{by_csp.idxmin()} to {by_csp.max():.1%} in {by_csp.idxmax()}); they count in all-ages figures but "
        "not in the under-25 figures."
    )
    _say(sentence)
    res.message = sentence
    res.values = {"share_unknown": float(share)}
    return res


def reconciliation(ctx: ProfileContext) -> SectionResult:
    """The ingest reconciliation: rows read = rows kept + rows excluded, for the whole dataset and for each of
    the force's input files."""
    from svtools.ingest.store import reconciliation as load_reconciliation
    from svtools.analysis.quality import reconciliation_table

    report = load_reconciliation(ctx.dataset)
    full = reconciliation_table(report)
    full.columns = ["Item", "Rows"]
    numeric = full["Rows"].map(lambda v: isinstance(v, (int, np.integer)))
    table = pd.concat(
        [suppress(full[numeric].astype({"Rows": "int64"}), ["Rows"]), full[~numeric]], ignore_index=True
    )
    table.attrs["count_columns"] = ["Rows"]
    res = SectionResult(name="reconciliation", data=table)
    res.table = table
    res.csv = _publish(
        ctx,
        table,
        "reconciliation",
        f"Ingest reconciliation, whole '{ctx.dataset}' dataset",
        note="Every input row is either kept or excluded with a reason.",
    )
    slug = ctx.force_name.lower().replace(" ", "-")
    files = {name: v for name, v in (report.get("by_file") or {}).items() if slug in name.lower()}
    if files:
        rows = []
        for name, v in sorted(files.items()):
            row = {"File": name, "Rows read": int(v["rows_in"]), "Rows kept": int(v["rows_kept"])}
            for reason, n in (v.get("excluded_by_reason") or {}).items():
                row[f"Excluded: {reason.replace('_', ' ')}"] = int(n)
            rows.append(row)
        ft = pd.DataFrame(rows).fillna(0)
        for c in ft.columns[1:]:
            ft[c] = ft[c].astype("int64")
        _publish(
            ctx,
            suppress(ft, list(ft.columns[1:])),
            "reconciliation_by_file",
            f"Ingest reconciliation for the files of {ctx.force_name}",
            note=f"Counts from 1 to {_threshold()} are shown as *.",
        )
        res.values["files"] = len(ft)
    balanced = bool(report.get("balanced"))
    sentence = (
        f"{int(report['rows_in']):,} rows were read and {int(report['rows_kept']):,} kept; the rest were "
        f"excluded with a reason. Rows read = rows kept + rows excluded: "
        f"{'yes' if balanced else 'NO - the ingest needs checking'}."
    )
    _say(sentence)
    res.message = sentence
    res.values.update(balanced=balanced, rows_in=int(report["rows_in"]), rows_kept=int(report["rows_kept"]))
    return res
