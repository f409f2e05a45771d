"""Pages of a count table (``london_csp.ipynb``, ``london_overview.ipynb``): the London borough series.

A count table (a ``kind: counts`` dataset such as ``london_mps``: area x month x category, no records) has no
offence codes, ages, places or times, so its pages are about how much and when: for the page's definition (the
serious-violence group) and each of its measures (``measures:`` in the definition's YAML),

* :func:`count_about` - what is counted, the caveats, and how each series is published;
* :func:`count_years` - offences by financial year, and rates per resident against the 2019/20 baseline with
  rate-ratio intervals (:func:`svtools.analysis.stats.compare.rate_ratio`; "no clear change" when the interval
  includes 1);
* :func:`count_measure` - a measure's heading, what it counts and its resolution;
* :func:`count_trend` - trend and seasonality: STL decomposition, the seasonal pattern and the negative binomial
  trend model (:mod:`svtools.analysis.trends`);
* :func:`count_spc` - the NHS "Making Data Count" XmR chart of the published series;
* :func:`count_covid` - the first COVID-19 lockdown against what the trend and season predict (the same model
  as :func:`count_trend`: :func:`svtools.analysis.trends.covid_trend_model`, rates per resident);
* :func:`count_funnel`, :func:`count_league`, :func:`count_special_cause` - every CSP of the force compared:
  funnel plot with over-dispersion (:func:`svtools.analysis.stats.funnels.overdispersion`), league table with
  intervals, special-cause variation in the latest points.

Every number comes from the protected families of :mod:`svtools.publish.count_tables` (the disclosure gate):
models, limits and rates are computed from published counts only, and a section whose series is not published
finely enough says so in one line. Rates divide by ONS mid-year residents of each financial year
(:mod:`svtools.analysis.population`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from svtools import config
from svtools.analysis.trends import family_sentence, family_words
from svtools.errors import SvtoolsError
from svtools.ingest.definitions import Definition
from svtools.publish import charts, count_tables, disclosure, output
from svtools.publish.sections.context import (
    SectionResult,
    _ci,
    _fmt,
    _publish,
    _say,
    _show,
    _skip,
    _spc_frame,
    chart_period,
    funnel_chart_data,
    hidden_note,
    publish_gated,
    spc_chart_data,
)

from svtools.publish.sections.monthly import _period_start

__all__ = [
    "CountsContext",
    "count_about",
    "count_years",
    "count_measure",
    "count_trend",
    "count_spc",
    "count_covid",
    "count_funnel",
    "count_league",
    "count_special_cause",
]

_WORD = count_tables.RESOLUTION_WORDS


# =========================================================================== the context
def _month_start(value) -> pd.Timestamp:
    return pd.Timestamp(value).to_period("M").to_timestamp()


@dataclass
class CountsContext:
    """One area (a CSP or a force) of a count table, its page definition and measures, and the period.

    Build it with :meth:`load` (a CSP) or :meth:`load_force` (a force).

    Attributes
    ----------
    level : {"csp", "force"}
    code, name : str
    dataset : str
        A ``counts`` dataset (``dataset.json`` schema).
    definition : Definition
        The page's definition (:func:`svtools.ingest.definitions.definition_for`: a definition of offence codes
        asked for by the build is replaced by the dataset's count definition).
    measures : tuple of Definition
        ``definition`` first, then its measures.
    period_start, period_end : Timestamp
        First and last month (month starts).
    csp_codes : list of str
        CSPs of the area (one for a CSP).
    force_code, force_name : str
    areas : DataFrame
        The dataset's ``areas`` table.
    info : dict
        ``dataset.json``.
    notes : list of str
        Caveats found while loading.
    """

    level: str
    code: str
    name: str
    dataset: str
    definition: Definition
    measures: tuple
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    csp_codes: list
    force_code: str
    force_name: str
    areas: pd.DataFrame
    info: dict
    notes: list = field(default_factory=list)
    victim_ages: Any = None
    prefix: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, csp_code: str, dataset: str = "london_mps", definition: str = "london_serious_violence",
             period_end: str | None = None) -> CountsContext:
        """Context for one CSP of a count table."""
        from svtools.errors import MissingAreaError
        from svtools.ingest.store import load_table

        areas = load_table("areas", dataset)
        hit = areas[areas["csp_code"] == csp_code]
        if hit.empty:
            raise MissingAreaError(csp_code, known=sorted(areas["csp_code"].astype(str)))
        row = hit.iloc[0]
        return cls._build("csp", csp_code, str(row["csp_name"]), dataset, definition, period_end, [csp_code],
                          str(row["pfa_code"]), str(row["pfa_name"]), areas)

    @classmethod
    def load_force(cls, pfa_code: str, dataset: str = "london_mps", definition: str = "london_serious_violence",
                   period_end: str | None = None) -> CountsContext:
        """Context for a police force area of a count table (all its CSPs)."""
        from svtools.ingest.store import csp_codes, load_table

        areas = load_table("areas", dataset)
        codes = csp_codes(dataset, pfa_code)
        row = areas[areas["csp_code"].isin(codes)].iloc[0]
        return cls._build("force", str(row["pfa_code"]), str(row["pfa_name"]), dataset, definition, period_end,
                          list(codes), str(row["pfa_code"]), str(row["pfa_name"]), areas)

    @classmethod
    def _build(cls, level, code, name, dataset, definition, period_end, codes, force_code, force_name, areas):
        from svtools.ingest.store import dataset_info

        info = dataset_info(dataset)
        if str(info.get("schema")) != "counts":
            raise SvtoolsError(f"dataset '{dataset}' is not a count table (a {info.get('schema')} dataset); "
                               "these pages are for count tables")
        measures = count_tables.page_definitions(definition, dataset)
        notes = []
        start, data_end = _month_start(info["period_start"]), _month_start(info["period_end"])
        end = data_end
        if period_end:
            try:
                end = _month_start(period_end)
            except (ValueError, TypeError):
                raise SvtoolsError(f"period_end must be a date like 2023-02-28, not {period_end!r}") from None
            if end > data_end:
                notes.append(f"The data end in {data_end:%B %Y}, so the period ends there (not "
                             f"{pd.Timestamp(period_end):%B %Y}).")
                end = data_end
        if end < start:
            raise SvtoolsError(f"period_end {period_end} is before the data start ({info['period_start']})")
        return cls(level=level, code=code, name=name, dataset=dataset, definition=measures[0],
                   measures=tuple(measures), period_start=start, period_end=end, csp_codes=list(codes),
                   force_code=force_code, force_name=force_name, areas=areas, info=info, notes=notes)

    # ------------------------------------------------------------------ lookups
    def measure(self, name: str | int | None = None) -> Definition:
        """The page definition (``None`` or 0) or one of its measures, by name or position (1 = the first
        measure of ``measures:``)."""
        if name is None:
            return self.definition
        if isinstance(name, (int, np.integer)) and not isinstance(name, bool):
            if not 0 <= int(name) < len(self.measures):
                raise SvtoolsError(f"'{self.definition.name}' has {len(self.measures) - 1} measures; there is no "
                                   f"measure {int(name)}")
            return self.measures[int(name)]
        for d in self.measures:
            if d.name == name:
                return d
        raise SvtoolsError(f"'{name}' is not '{self.definition.name}' or one of its measures "
                           f"({', '.join(d.name for d in self.measures[1:])})")

    def has_measure(self, which: str | int) -> bool:
        """True when ``which`` (a name or a position) is the page definition or one of its measures."""
        if isinstance(which, (int, np.integer)) and not isinstance(which, bool):
            return 0 <= int(which) < len(self.measures)
        return any(d.name == which for d in self.measures)

    def family(self, name: str | int | None = None) -> count_tables.CountFamily:
        """The protected family holding a measure (cached once per process)."""
        return count_tables.family_for(self.dataset, self.force_code, self.definition.name,
                                       self.measure(name).name, self.period_start, self.period_end)

    def csp_name(self, code: str) -> str:
        hit = self.areas.loc[self.areas["csp_code"] == code, "csp_name"]
        return str(hit.iloc[0]) if len(hit) else str(code)

    @property
    def months(self) -> pd.DatetimeIndex:
        return pd.date_range(self.period_start, self.period_end, freq="MS", name="month")

    @property
    def period(self) -> str:
        return f"{self.period_start:%B %Y} to {self.period_end:%B %Y}"

    @property
    def source(self) -> str:
        from svtools.publish.provenance import source_label

        return source_label(self.info)

    @property
    def label(self) -> str:
        """The area as text names it: the CSP's name, or the force's ("London" for the Metropolitan Police)."""
        return self.force_word if self.level == "force" else self.name

    @property
    def force_word(self) -> str:
        """What the force is called in text ("London" for the Metropolitan Police area)."""
        return "London" if self.force_code == "E23000001" else self.force_name

    # ------------------------------------------------------------------ denominators
    @cached_property
    def population(self) -> pd.DataFrame:
        """The dataset's ``population.parquet`` (ONS mid-year estimates by single year of age)."""
        from svtools.ingest.store import load_table

        return load_table("population", self.dataset)

    def residents(self, financial_years: Sequence[str], codes: Sequence[str] | None = None) -> pd.DataFrame:
        """Residents of ``codes`` (default the area's CSPs) in each financial year
        (:func:`svtools.analysis.population.residents`: its own mid-year, else the nearest, flagged)."""
        from svtools.analysis.population import residents

        return residents(self.population, list(financial_years), list(codes or self.csp_codes))

    def person_years(self, months, codes: Sequence[str] | None = None) -> float:
        """Person-years of residents over ``months``, each month at its financial year's estimate."""
        from svtools.analysis.population import person_years

        return person_years(self.population, months, list(codes or self.csp_codes))


# =========================================================================== small helpers
def _category_words(category: str) -> str:
    """An MPS category in sentence case: "ROBBERY / ROBBERY OF PERSONAL PROPERTY" -> "Robbery / robbery of
    personal property"."""
    parts = [p.strip().lower() for p in str(category).split("/")]
    text = " / ".join(parts)
    return text[:1].upper() + text[1:]


def _what(ctx: CountsContext, name: str | None) -> str:
    return ctx.measure(name).short_title


def _title(d: Definition) -> str:
    """The measure's title without the dataset suffix: "Violence with injury"."""
    return d.title.split(" (")[0]


def _per_words(per: int) -> str:
    return f"per {per:,} residents a year"


def _resolution_phrase(ctx: CountsContext, name: str, area: str | None = None, short: bool = False) -> str:
    """How an area's series of a measure is published, to follow "the series is published ...": "by month",
    "by quarter (why)", or years and totals only; ``short`` leaves out the reason."""
    area = area or ctx.code
    fam = ctx.family(name)
    r = fam.resolution(area, name)
    t = fam.cube_of(area).threshold
    if r == "month":
        return "by month"
    if r is None:
        return ("only as financial years and totals" if short else
                f"only as financial years and totals, because even some financial years hold 1 to {t} offences "
                "(those years, and any that would reveal them, are shown as *)")
    if short:
        return f"by {_WORD[r]}"
    own = fam.own.get((area, name))
    why = fam.reasons.get((area, name))
    if why is None and own is not None and own != r and count_tables.RESOLUTIONS.index(own) < \
            count_tables.RESOLUTIONS.index(r):
        why = "otherwise some of its points would have to be hidden to protect other published tables"
    if why is None:
        why = f"some {'months' if r == 'quarter' else 'quarters'} hold 1 to {t} offences"
    return f"by {_WORD[r]}: {why}"


def _rule_words(rule: str, resolution: str) -> str:
    """An SPC rule label in plain words for points of ``resolution`` (:func:`svtools.analysis.stats.spc.rule_words`,
    the one mapping)."""
    from svtools.analysis.stats.spc import rule_words

    return rule_words(rule, _WORD.get(resolution, resolution))


def _monthly(ctx: CountsContext, name: str):
    """(monthly series indexed by month starts, its PublishedTable) when the area's series is published by
    month with every point visible, else None."""
    key = ("monthly", name)
    if key in ctx._cache:
        return ctx._cache[key]
    fam = ctx.family(name)
    out = None
    if fam.resolution(ctx.code, name) == "month":
        s = fam.series(ctx.code, name, "month")
        if s is not None:
            table = fam.table(ctx.code, name, fam.levels["month"], name=f"monthly_{name}", row_title="Month")
            out = (pd.Series(s.astype("int64").to_numpy(), index=pd.DatetimeIndex(
                [pd.Timestamp(x + "-01") for x in s.index], name="month"), name="offences"), table)
    ctx._cache[key] = out
    return out


def _monthly_or_skip(ctx: CountsContext, name: str, section: str, title: str, need: int = 24):
    got = _monthly(ctx, name)
    if got is None:
        return None, _skip(ctx, section, title, f"the monthly series of {_what(ctx, name)} is not published for "
                           f"{ctx.label} (it is published {_resolution_phrase(ctx, name, short=True)})")
    monthly, _ = got
    if len(monthly) < need:
        return None, _skip(ctx, section, title, f"it needs at least {need} months and {ctx.period} has "
                           f"{len(monthly)}")
    if monthly.sum() == 0:
        return None, _skip(ctx, section, title, f"no offences of {_what(ctx, name)} were recorded in {ctx.label}")
    return got, None


def _model(ctx: CountsContext, name: str, monthly: pd.Series):
    """(the one model of the measure's published monthly series, fit note, population note), fitted once per
    page: :func:`svtools.analysis.trends.covid_trend_model` (trend, one seasonal harmonic and a temporary term
    for the first lockdown) with the area's residents by month as the offset, so its ratios are of rates per
    resident. The trend and COVID-19 sections both read it, so a page gives one trend and one lockdown answer."""
    key = ("model", name)
    if key in ctx._cache:
        return ctx._cache[key]
    from svtools.analysis.population import monthly_residents, residents, year_note
    from svtools.analysis.trends import covid_trend_model

    try:
        pop = monthly_residents(ctx.population, monthly.index, ctx.csp_codes).reindex(monthly.index)
        years = list(dict.fromkeys(_financial_years(monthly.index)))
        pop_note = year_note(residents(ctx.population, years, ctx.csp_codes))
        if pop.isna().any() or (pop <= 0).any():
            raise ValueError("residents not known for every month")
    except Exception as exc:  # no population for the area: a model of counts, said so
        pop, pop_note = None, (f"No resident population is available for every month ({type(exc).__name__}), so "
                               "the model is of counts and its ratios are ratios of counts, not of rates.")
    model, note = covid_trend_model(monthly, population=pop)
    ctx._cache[key] = (model, note, pop_note)
    return ctx._cache[key]


def _financial_years(months) -> list[str]:
    from svtools.ingest import financial_year

    return financial_year(pd.Series(pd.to_datetime(list(months)))).tolist()


def _words(lo, hi, words=("higher", "lower", "no clear change"), reference: float = 1.0) -> str:
    """The words for an interval (:func:`svtools.analysis.stats.compare.interval_words`: the interval decides,
    never the point estimate)."""
    from svtools.analysis.stats.compare import interval_words

    return interval_words(lo, hi, reference=reference, words=words) or ""


def _num(v) -> str:
    return str(disclosure.rules()["marker"]) if v is None or pd.isna(v) else f"{int(v):,}"


def _csps(n: int) -> str:
    return f"{n} CSP" + ("" if n == 1 else "s")


def _rate_text(v, nd: int = 2) -> str:
    return "" if v is None or not np.isfinite(v) else f"{v:,.{nd}f}"


def _per_measure(fn):
    """Sections taking a measure accept its name or its position (0 = the page definition, 1 = its first
    measure ...); a position past the definition's measures shows nothing, so one notebook serves any count
    definition with up to as many measures as it has cells for."""
    import functools

    @functools.wraps(fn)
    def run(ctx: CountsContext, which: str | int, *args, **kwargs) -> SectionResult:
        if isinstance(which, (int, np.integer)) and not isinstance(which, bool) and not ctx.has_measure(which):
            return SectionResult(name=f"{fn.__name__}_{int(which)}", available=False,
                                 message=f"no measure {int(which)} in {ctx.definition.name}")
        return fn(ctx, ctx.measure(which).name, *args, **kwargs)

    return run


# =========================================================================== what is counted
def count_about(ctx: CountsContext) -> SectionResult:
    """What the page counts: the definition, its measures (with their categories and how each series is
    published for this area) and the caveats, in plain words."""
    d = ctx.definition
    rows = []
    for m in ctx.measures:
        rows.append({
            "Measure": _title(m) + (" (the group)" if m.name == d.name else ""),
            "Categories counted (MPS groupings)": "; ".join(_category_words(c) for c in m.categories),
            f"Series published for {ctx.label}": _resolution_phrase(ctx, m.name, short=True),
        })
    table = pd.DataFrame(rows)
    res = SectionResult(name="count_about", table=table)
    _say(f"**{d.title}**: {d.description}")
    for note in ctx.notes:
        _say(note)
    res.csv = _publish(ctx, table, "measures", f"What this page counts, {ctx.label}",
                       note=f"Source: {ctx.source}. Each series is published at the finest resolution (month, "
                            f"quarter or financial year) at which no point is a count of 1 to "
                            f"{disclosure.threshold('police')}.", counts=[])
    caveats = list(d.caveats) + [f"{_title(m)}: {c[:1].lower() + c[1:]}" for m in ctx.measures[1:]
                                 for c in m.caveats]
    _say("**Caveats**\n\n" + "\n".join(f"- {c}" for c in dict.fromkeys(caveats)))
    res.values = {"caveats": caveats, "measures": [m.name for m in ctx.measures]}
    res.message = d.description
    return res


# =========================================================================== how much, by year
def count_years(ctx: CountsContext) -> SectionResult:
    """Offences by financial year for the group and each measure, and the latest complete year's rate per
    resident against the 2019/20 baseline with the exact rate-ratio interval."""
    from svtools.analysis.stats.compare import format_ratio, rate_ratio

    res = SectionResult(name="count_years")
    by_family: dict[tuple, list[Definition]] = {}
    for m in ctx.measures:
        by_family.setdefault(ctx.family(m.name).definitions, []).append(m)
    tables = []
    for names, defs in by_family.items():
        fam = ctx.family(defs[0].name)
        cols = {m.name: _title(m) for m in defs}
        t = fam.years_table(ctx.code, list(cols), name="years_" + "_".join(m.name for m in defs)[:60],
                            column_titles=cols)
        tables.append((fam, defs, t))
        what = " and ".join(_title(m).lower() for m in defs) if len(defs) < 3 else "serious violence and its parts"
        publish_gated(ctx, t, f"Offences by financial year, {ctx.label}: {what}",
                      name="years_" + defs[0].name, note="Financial years run April to March; the last row is "
                      f"the whole period ({ctx.period}), including any part year. " + hidden_note())
    # Rates: the baseline year and the latest complete financial year.
    baseline = str(config.settings()["periods"]["baseline_financial_year"])
    years = tables[0][0].levels["financial_year"]
    latest = years[-1] if years else None
    if latest is None or baseline not in years or latest == baseline:
        _say(f"The rate comparison with {baseline} needs {baseline} and a later complete financial year in the "
             "period.")
        res.values = {"baseline": baseline, "latest": latest}
        return res
    pops = ctx.residents([baseline, latest])
    pop = dict(zip(pops["financial_year"], pops["population"]))
    rows, values = [], {}
    for fam, defs, _ in tables:
        for m in defs:
            x1, x0 = fam.value(ctx.code, m.name, latest), fam.value(ctx.code, m.name, baseline)
            per = m.rate_per
            r1 = np.nan if x1 is None else 1.0 * x1 / pop[latest] * per
            r0 = np.nan if x0 is None else 1.0 * x0 / pop[baseline] * per
            rr = rate_ratio(np.nan if x1 is None else x1, np.nan if x0 is None else x0, pop[latest],
                            pop[baseline]).iloc[0]
            words = _words(rr["lower"], rr["upper"], ("higher", "lower", "no clear change"))
            change = "" if x1 is None or x0 is None else (
                f"{words.capitalize()} than in {baseline}" if words != "no clear change"
                else f"No clear change from {baseline}")
            rows.append({"Measure": f"{_title(m)} (rate per {per:,})",
                         f"{baseline}: offences (rate)": _num(x0) + (f" ({_rate_text(r0)})" if x0 is not None else ""),
                         f"{latest}: offences (rate)": _num(x1) + (f" ({_rate_text(r1)})" if x1 is not None else ""),
                         "Rate ratio (95% CI)": format_ratio(rr["ratio"], rr["lower"], rr["upper"]),
                         f"Compared with {baseline}": change})
            values[m.name] = {"baseline": x0, "latest": x1, "rate_baseline": r0, "rate_latest": r1,
                              "ratio": float(rr["ratio"]), "lower": float(rr["lower"]), "upper": float(rr["upper"]),
                              "words": words if change else None}
    table = pd.DataFrame(rows)
    res.table = table
    from svtools.analysis.population import year_note

    res.csv = _publish(ctx, table, "rates_vs_baseline",
                       f"Rates in {latest} against the {baseline} baseline, {ctx.label}",
                       note=f"Rates are offences per 1,000 residents (homicide per 100,000) in the financial "
                            f"year. {year_note(pops)} Rate ratio: exact conditional (Clopper-Pearson) interval of the "
                            "ratio of two Poisson rates; \"no clear change\" when the interval includes 1. Hidden "
                            "counts (*) have no rate.", counts=[])
    g = values.get(ctx.definition.name, {})
    if g.get("words"):
        lo, hi = g["lower"], g["upper"]
        sentence = (f"In {latest}, {ctx.label} recorded {_num(g['latest'])} offences of {ctx.definition.short_title}"
                    f" ({_rate_text(g['rate_latest'])} per {ctx.definition.rate_per:,} residents), against "
                    f"{_num(g['baseline'])} ({_rate_text(g['rate_baseline'])}) in {baseline}: "
                    + ("**no clear change**" if g["words"] == "no clear change" else f"**{g['words']}**")
                    + f" (rate ratio {g['ratio']:.2f}, {_ci(lo, hi)}).")
        bases = set(int(b) for b in pops["census_base"].dropna()) if "census_base" in pops.columns else set()
        if len(bases) > 1:
            sentence += (f" The residents of {baseline} are a 2011 Census-based estimate and those of {latest} "
                         "Census 2021-based, so part of a change in the rate can be the rebasing of the "
                         "population, not a change in offending.")
        _say(sentence)
        res.message = sentence
    res.values = {"baseline": baseline, "latest": latest, **values}
    return res


# =========================================================================== one measure
@_per_measure
def count_measure(ctx: CountsContext, name: str) -> SectionResult:
    """A measure's heading, what it counts and how its series is published for this area."""
    m = ctx.measure(name)
    _say(f"## {_title(m)}" + (" (the group)" if m.name == ctx.definition.name else ""))
    text = f"{m.description} For {ctx.label} the series is published {_resolution_phrase(ctx, name)}."
    _say(text)
    return SectionResult(name=f"measure_{name}", message=text,
                         values={"resolution": ctx.family(name).resolution(ctx.code, name)})


@_per_measure
def count_trend(ctx: CountsContext, name: str) -> SectionResult:
    """Trend and seasonality of a measure's published monthly series: the STL trend and seasonally adjusted
    series, the seasonal pattern by calendar month with the trend model's curve, and the model's annual rate
    ratio (negative binomial or Poisson, as fitted; one seasonal harmonic, a COVID-19 lockdown term)."""
    from svtools.analysis.trends import seasonal_profile, stl_decompose

    title = f"Trend and seasonality of {_what(ctx, name)}"
    got, skip = _monthly_or_skip(ctx, name, f"trend_{name}", title)
    if skip:
        return skip
    monthly, pub = got
    what = _what(ctx, name)
    stl = stl_decompose(monthly)
    model, note, pop_note = _model(ctx, name, monthly)
    res = SectionResult(name=f"trend_{name}", data=stl)
    _say(f"### {title[0].upper() + title[1:]}")
    if note:
        _say(note)
    t = stl.set_index("month")["trend"]
    first, last = float(t.iloc[0]), float(t.iloc[-1])
    change = last / first - 1 if first > 0 else math.nan
    alt = (f"Line chart of monthly {what} offences in {ctx.label}, {ctx.period}, with the STL trend and the "
           f"seasonally adjusted series. The trend moves from {first:.1f} a month in "
           f"{output.month_label(t.index[0])} to {last:.1f} in {output.month_label(t.index[-1])}"
           + (f" ({change:+.0%})" if np.isfinite(change) else "")
           + f"; its highest point is {t.max():.1f} in {output.month_label(t.idxmax())} and its lowest "
           f"{t.min():.1f} in {output.month_label(t.idxmin())}. The shaded band is the first COVID-19 lockdown.")
    stl_data = disclosure.derived(pd.DataFrame({
        "month": stl["month"], "offences": stl["observed"], "trend_offences_a_month": stl["trend"],
        "seasonally_adjusted_offences_a_month": stl["seasonally_adjusted"]}), pub)
    _show(charts.trend_chart(disclosure.derived(stl, pub), title=f"{what.capitalize()} per month and its trend, "
                             f"{ctx.label}"), alt, res, stl_data, ctx=ctx, counts=["offences"])
    prof = seasonal_profile(stl)
    curve = model.seasonal_curve(level=float(monthly.mean()))[["month_of_year", "value"]]
    names = prof["month_name"].tolist()
    hi_m, lo_m = int(prof["value"].idxmax()), int(prof["value"].idxmin())
    peak = names[model.seasonal_peak_month - 1]
    alt2 = (f"Bar chart of the seasonal pattern of {what} in {ctx.label}: the average difference from the trend "
            f"by calendar month, {ctx.period}. Highest in {names[hi_m]} ({prof['value'].max():+.1f} offences a "
            f"month), lowest in {names[lo_m]} ({prof['value'].min():+.1f}). The trend model's curve (line) puts the "
            f"peak in {peak}, the peak month at {model.seasonal_amplitude:.2f} times the average month.")
    season_data = pd.DataFrame({"month_of_year": prof["month_of_year"].to_numpy(), "month_name": names,
                                "seasonal_effect_offences_a_month": prof["value"].to_numpy()})
    season_data = season_data.merge(curve.rename(columns={"value": "model_seasonal_effect_offences_a_month"}),
                                    on="month_of_year", how="left")
    _show(charts.seasonal_chart(disclosure.derived(prof[["month_of_year", "value"]], pub),
                                title=f"Seasonal pattern of {what}, {ctx.label}", model=curve), alt2, res,
          disclosure.derived(season_data, pub), ctx=ctx)
    rr, (lo, hi) = model.annual_rate_ratio, model.annual_rate_ratio_ci
    kind = model.ratio_kind
    words = _words(lo, hi, ("rising", "falling", "no clear change"))
    subject = f"{what} per resident" if kind == "rate" else what
    sentence = (f"The underlying trend went from {first:.1f} offences a month to {last:.1f}"
                + (f" ({change:+.0%})" if np.isfinite(change) else "") + ". Allowing for the season and the "
                f"first lockdown, the trend model finds {subject} "
                + ("showing **no clear change**" if words == "no clear change" else f"**{words}**")
                + f": an annual {kind} ratio of {rr:.3f} ({_ci(lo, hi, 3)}), {rr - 1:+.1%} a year. The busiest month "
                f"is usually **{names[hi_m]}** ({prof['value'].max():+.1f} offences above the trend) and the quietest "
                f"{names[lo_m]}; the model's smooth yearly curve peaks in {peak}, at "
                f"{model.seasonal_amplitude:.2f} times the average month. " + family_sentence(model.family))
    _say(sentence)
    res.message = sentence
    table = pd.DataFrame({"Measure": model.summary()["measure"], "Estimate": model.summary()["estimate"].round(3),
                          "Lower 95% CI": model.summary()["lower"].round(3),
                          "Upper 95% CI": model.summary()["upper"].round(3)})
    keep = ["Annual rate ratio", "COVID-19 lockdown rate ratio", "Seasonal amplitude (peak / mean)",
            "Overdispersion alpha (NB2)"]
    table = table[table["Measure"].isin(keep)].reset_index(drop=True)
    res.table = table
    r1 = model.residual_autocorrelation
    if np.isfinite(r1) and r1 > 2 / np.sqrt(len(monthly)):
        _say(f"The months the model misses by most come in runs (lag-1 autocorrelation of its residuals {r1:.2f}), "
             "so the interval for the annual change is likely too narrow: read it as a guide.")
    res.csv = _publish(ctx, table, f"trend_model_{name}", f"Trend model of {what}, {ctx.label}, {ctx.period}",
                       note=f"Log-linear count model ({family_words(model.family)} regression) of the published "
                            "monthly counts"
                            + (" with residents by month as the offset (ratios of rates per resident)" if
                               kind == "rate" else " (ratios of counts)")
                            + ": trend, one seasonal harmonic and a term for the first COVID-19 lockdown (April to "
                            f"June 2020). Ratios per year; Student-t intervals. {pop_note}", counts=[])
    res.values = {"trend_first": first, "trend_last": last, "annual_rate_ratio": rr, "ratio_kind": kind,
                  "annual_rate_ratio_ci": (lo, hi), "words": words, "covid_rate_ratio": model.covid_rate_ratio,
                  "peak_month": int(model.seasonal_peak_month),
                  "amplitude": float(model.seasonal_amplitude), "family": model.family}
    return res


def _label(ts, resolution: str) -> str:
    """The label of a period starting at ``ts``: ``2019-07``, ``2019/20 Q2`` or ``2019/20``."""
    from svtools.publish.tables import quarter_label

    ts = pd.Timestamp(ts)
    if resolution == "month":
        return f"{ts:%Y-%m}"
    if resolution == "quarter":
        return quarter_label(ts)
    return f"{ts.year}/{(ts.year + 1) % 100:02d}"


def _spc_plan(fam: count_tables.CountFamily, area: str, name: str):
    """(SPC plan, published resolution) of an area's published series: :func:`svtools.analysis.stats.spc.spc_plan`
    with the ``time_series`` rules of ``config/disclosure.yaml`` (an XmR chart at the published resolution or a
    coarser one, else rolling 12-month totals without limits, else a note); (None, None) when no series is
    published."""
    from svtools.analysis.stats.spc import spc_plan

    r = fam.resolution(area, name)
    s = fam.series(area, name, r) if r else None
    if s is None:
        return None, None
    series = pd.Series(s.astype(float).to_numpy(), index=pd.DatetimeIndex([_period_start(x, r) for x in s.index]))
    cfg = disclosure.rules()["time_series"]
    plan = spc_plan(series, r, min_mean_per_point=float(cfg["spc_min_mean_per_point"]),
                    min_points=int(cfg["spc_min_points"]), resolutions=tuple(cfg["resolutions"]),
                    rolling_months=int(cfg.get("spc_rolling_months", 12)))
    return plan, r


@_per_measure
def count_spc(ctx: CountsContext, name: str) -> SectionResult:
    """The published series of a measure on an NHS "Making Data Count" XmR chart where the SPC rule allows it
    (:func:`svtools.analysis.stats.spc.spc_plan`: at the published resolution or a coarser one, with at least
    12 points and 10 offences a point), else rolling 12-month totals without limits, else the published counts
    with one line saying why. Limits and signals are computed from the published points only."""
    title = f"SPC chart of {_what(ctx, name)}"
    what = _what(ctx, name)
    fam = ctx.family(name)
    plan, r = _spc_plan(fam, ctx.code, name)
    res = SectionResult(name=f"spc_{name}")
    _say(f"### Statistical process control: {what}")
    if plan is None:
        out = _skip(ctx, f"spc_{name}", title, f"the series of {what} for {ctx.label} is published "
                    f"{_resolution_phrase(ctx, name, short=True)} (see the table by financial year)")
        out.values = {"resolution": None, "plan": None}
        return out
    pub_word = _WORD[r]
    labels = fam.levels[r]
    t = fam.table(ctx.code, name, labels, name=f"spc_{name}", row_title=pub_word.capitalize())
    t.counts.columns = ["Offences"]
    if plan.kind == "none":
        publish_gated(ctx, t, f"{what.capitalize()} per {pub_word}, {ctx.label}", name=f"spc_{name}",
                      note="Published counts. " + hidden_note(), show_last=12)
        _say(f"**SPC chart**: not drawn, because {plan.reason}; the published counts are in the table.")
        res.values = {"resolution": r, "plan": "none", "points": len(labels), "drawn": False}
        res.message = plan.reason
        return res
    if plan.kind == "rolling":
        roll = plan.values
        data = disclosure.derived(pd.DataFrame({"month": roll.index, "value": roll.to_numpy()}), t)
        alt = (f"Line chart of rolling 12-month totals of {what} offences in {ctx.label}, {roll.index[0]:%B %Y} to "
               f"{roll.index[-1]:%B %Y} (from published counts, no process limits). The total moves from "
               f"{roll.iloc[0]:,.0f} to {roll.iloc[-1]:,.0f}; highest {roll.max():,.0f}, lowest {roll.min():,.0f}.")
        from svtools.publish.charts import time_series as charts_ts

        _show(charts_ts.rolling_chart(data, title=f"{what.capitalize()}: rolling 12-month totals, {ctx.label}"),
              alt, res, disclosure.derived(pd.DataFrame({"month": roll.index,
                                                          "offences_in_12_months_to_month": roll.to_numpy()}), t),
              ctx=ctx, counts=["offences_in_12_months_to_month"])
        sentence = (f"**No SPC chart**: {plan.reason}. Overlapping totals share 11 of their 12 months, so they cannot "
                    "be judged with process limits; the line shows the direction.")
        _say(sentence)
        publish_gated(ctx, t, f"{what.capitalize()} per {pub_word}, {ctx.label}", name=f"spc_{name}",
                      note="Published counts. " + hidden_note(), show_last=12)
        res.message = sentence
        res.data = roll
        res.values = {"resolution": r, "plan": "rolling", "points": plan.points, "drawn": True}
        return res
    word = _WORD[plan.resolution]
    s = _spc_frame(plan.values)
    res.data = s
    points = [_label(d, plan.resolution) for d in s["date"]]
    trial = bool(s["trial_limits"].any())
    chart = disclosure.derived(pd.DataFrame({"month": s["date"], "value": s["value"], "mean": s["mean"],
                                             "lower": s["lower_limit"], "upper": s["upper_limit"],
                                             "variation": s["special_cause"]}), t)
    counts = s["special_cause"].value_counts()
    n_imp, n_con = int(counts.get("improvement", 0)), int(counts.get("concern", 0))
    last = s.iloc[-1]
    latest = str(last["special_cause"])
    recent = s.tail(6 if plan.resolution == "month" else 4 if plan.resolution == "quarter" else 2)
    flagged = recent[recent["special_cause"] != "common cause"]
    below_zero = last["lower_limit"] < 0
    alt = (f"SPC chart of {what} offences per {word} in {ctx.label}, {points[0]} to {points[-1]} ({len(s)} "
           f"{word}s, from published counts). Mean {last['mean']:.1f} a {word}; process limits "
           f"{last['lower_limit']:.1f} to {last['upper_limit']:.1f}"
           + (" (the lower limit is below zero: no single low point can be a signal)" if below_zero else "")
           + f". {n_imp} {word}(s) show special-cause improvement (fewer offences) and {n_con} special-cause "
           f"concern; the latest {word} shows "
           f"{'common-cause variation' if latest == 'common cause' else 'special-cause ' + latest}.")
    fig = charts.spc_chart(chart, title=f"{what.capitalize()} per {word}, {ctx.label}: SPC chart",
                           ylabel=f"Offences per {word}", xlabel=f"{word.capitalize()} (start)", trial_limits=trial)
    _show(fig, alt, res, disclosure.derived(spc_chart_data(s, points, plan.resolution), t), ctx=ctx,
          counts=["offences"])
    rules = sorted(set(flagged["rule"]))
    sentence = (f"The latest {word} ({points[-1]}) shows "
                f"{'common-cause variation' if latest == 'common cause' else '**special-cause ' + latest + '**'}"
                + (f"; in the latest {len(recent)} {word}s: {'; '.join(_rule_words(x, plan.resolution) for x in rules)}"
                   if rules else "")
                + f". Across the period {n_imp} {word}(s) show special-cause improvement (fewer offences) and "
                f"{n_con} special-cause concern"
                + (f"; over {len(s)} {word}s the limits describe the whole period, so these mark the stretches "
                   "below and above its average" if len(s) > 36 else "") + "."
                + ("" if plan.resolution == r else f" The chart is by {word}: {plan.reason}.")
                + (f" The lower process limit is below zero ({last['lower_limit']:.1f}), drawn as calculated: no "
                   f"single low {word} can be a signal, only a run below the mean or a trend." if below_zero else ""))
    _say(sentence)
    res.message = sentence
    extra = pd.DataFrame({
        "Mean": s["mean"].map(lambda v: f"{v:.1f}").to_numpy(),
        "Lower process limit": s["lower_limit"].map(lambda v: f"{v:.1f}").to_numpy(),
        "Upper process limit": s["upper_limit"].map(lambda v: f"{v:.1f}").to_numpy(),
        "Variation": s["special_cause"].to_numpy(),
        "Rule": [_rule_words(x, plan.resolution) for x in s["rule"]],
    })
    note = ("Limits from the published counts, drawn as calculated (NHS Making Data Count rules; fewer offences is "
            "improvement). " + hidden_note())
    if plan.resolution == r:
        res.csv = publish_gated(ctx, t, f"{what.capitalize()} per {word} and SPC signals, {ctx.label}",
                                name=f"spc_{name}", extra=extra, note=note, show_last=12)
        res.table = t.text()
    else:  # sums of published points: nothing the gate did not publish
        table = pd.DataFrame({word.capitalize(): points, "Offences": plan.values.round().astype("int64").to_numpy()})
        for c in extra.columns:
            table[c] = extra[c].to_numpy()
        res.csv = _publish(ctx, table, f"spc_{name}", f"{what.capitalize()} per {word} (sums of the published "
                           f"counts by {pub_word}) and SPC signals, {ctx.label}", note=note, counts=["Offences"],
                           show_last=12)
        res.table = table
    res.values = {"resolution": plan.resolution, "published_resolution": r, "plan": "xmr", "drawn": True,
                  "mean": float(last["mean"]), "upper": float(last["upper_limit"]),
                  "lower": float(last["lower_limit"]), "improvement": n_imp, "concern": n_con, "latest": latest,
                  "recent_rules": rules, "points": len(s)}
    return res


@_per_measure
def count_covid(ctx: CountsContext, name: str) -> SectionResult:
    """The first COVID-19 lockdown in a measure's published monthly series, from the same model as
    :func:`count_trend` (:func:`svtools.analysis.trends.covid_trend_model`): the months of April to June 2020
    against what the trend and the season predict for them ("expected without COVID")."""
    title = f"The first COVID-19 lockdown: {_what(ctx, name)}"
    got, skip = _monthly_or_skip(ctx, name, f"covid_{name}", title)
    if skip:
        return skip
    monthly, pub = got
    what = _what(ctx, name)
    model, note, pop_note = _model(ctx, name, monthly)
    w = model.covid_window
    months = monthly.index
    if w is None or (months < w[0]).sum() < 12 or (months > w[1]).sum() < 12:
        start = pd.Timestamp(config.settings()["periods"]["covid_start"])
        return _skip(ctx, f"covid_{name}", title, f"the period ({ctx.period}) needs at least 12 months before and "
                     f"after the first lockdown ({start:%B %Y})")
    res = SectionResult(name=f"covid_{name}")
    _say(f"### {title}")
    if note:
        _say(note)
    eff = model.covid_effect()
    span = f"{w[0]:%B} to {w[1]:%B %Y}"
    rr, (lo, hi) = model.covid_rate_ratio, model.covid_rate_ratio_ci
    if model._model.covid_separated:
        sentence = (f"No offences of {what} were recorded in {ctx.label} in the first lockdown ({span}), so its "
                    f"effect cannot be estimated as a ratio; the model expected {eff['expected']:,.0f}.")
        verdict = "no offences"
    else:
        verdict = _words(lo, hi, ("clearly above it", "clearly below it", "not clearly different from it"))
        sentence = (f"In the first lockdown ({span}) {ctx.label} recorded {eff['observed']:,.0f} offences of {what} "
                    f"against {eff['expected']:,.0f} expected from the trend and the season: {rr:.2f} times the "
                    f"expected level ({_ci(lo, hi)}), **{verdict}**.")
    _say(sentence)
    res.message = sentence
    chart = model.fitted[["month", "observed", "fitted", "counterfactual"]].copy()
    alt = (f"Line chart of monthly {what} offences in {ctx.label}, {ctx.period}, with the offences expected without "
           f"COVID (trend and season) and the model's level in the first lockdown ({span}). {eff['observed']:,.0f} "
           f"offences were recorded in the lockdown months against {eff['expected']:,.0f} expected"
           + (f"; ratio {rr:.2f} ({_ci(lo, hi)})." if verdict != "no offences" else "."))
    its_data = pd.DataFrame({"month": chart["month"], "offences": chart["observed"],
                             "model_offences": chart["fitted"], "expected_without_covid": chart["counterfactual"]})
    its_months = pd.DatetimeIndex(chart["month"])
    its_data["first_lockdown"] = (its_months >= w[0]) & (its_months <= w[1])
    _show(charts.its_chart(disclosure.derived(chart, pub), w[0], title=f"The first COVID-19 lockdown: {what}, "
                           f"{ctx.label}", interruption_label="First lockdown", window_end=w[1]), alt, res,
          disclosure.derived(its_data, pub), ctx=ctx, counts=["offences"])
    table = pd.DataFrame({
        "Measure": [f"Ratio to the expected level in the first lockdown ({span})", "Offences recorded in those months",
                    "Offences expected without COVID", "Difference (recorded - expected)"],
        "Estimate": [_fmt(rr, 3), f"{eff['observed']:,.0f}", f"{eff['expected']:,.1f}", f"{eff['difference']:+,.1f}"],
        "Lower 95% CI": [_fmt(lo, 3), "", "", ""],
        "Upper 95% CI": [_fmt(hi, 3), "", "", ""],
    })
    res.table = table
    res.csv = _publish(ctx, table, f"covid_{name}", f"The first COVID-19 lockdown: {what}, {ctx.label}",
                       note=f"Trend model ({family_words(model.family)} regression) with one seasonal harmonic "
                            f"and a term for {span}; expected without COVID = the model with that term off. "
                            f"{pop_note}", counts=[])
    res.values = {"covid_rate_ratio": rr, "covid_rate_ratio_ci": (lo, hi), "observed": eff["observed"],
                  "expected": eff["expected"], "verdict": verdict, "family": model.family}
    return res


# =========================================================================== every CSP compared
def _window(ctx: CountsContext, name: str) -> tuple[str, pd.DatetimeIndex, str]:
    """(period node, its months, words) over which a measure's rates are compared."""
    m = ctx.measure(name)
    months = ctx.months
    if m.compare_over == "latest_12_months" and len(months) >= 12:
        from svtools.publish.tables import LATEST_12

        w = months[-12:]
        return LATEST_12, w, f"{w[0]:%B %Y} to {w[-1]:%B %Y}"
    from svtools.publish.tables import TOTAL

    return TOTAL, months, ctx.period


def _csp_rates(ctx: CountsContext, name: str) -> tuple[pd.DataFrame, dict]:
    """Every CSP's published count of a measure over its comparison window, person-years, rate with 95% CI,
    and the funnel flags against the force rate allowing for over-dispersion (cached per page)."""
    key = ("rates", name)
    if key in ctx._cache:
        return ctx._cache[key]
    from svtools.analysis.stats import rate
    from svtools.analysis.stats.funnels import adjusted_funnel_significance, overdispersion

    m = ctx.measure(name)
    per = m.rate_per
    node, months, words = _window(ctx, name)
    fam = ctx.family(name)
    codes = [c for c in fam.cube_of(ctx.csp_codes[0]).cube.dim("area_code").base]
    table = fam.areas_table(codes, name, node, name=f"csp_counts_{name}", row_title="CSP")
    counts = table.counts.iloc[:, 0]
    d = pd.DataFrame({"csp_code": codes, "csp_name": [ctx.csp_name(c) for c in codes],
                      "offences": [None if pd.isna(v) else int(v) for v in counts]})
    years = len(months) / 12.0
    from svtools.analysis.population import person_years_by_csp

    py = person_years_by_csp(ctx.population, months)  # each month at its own financial year's estimate
    d["person_years"] = py.reindex(codes).to_numpy(dtype=float)
    d["residents"] = d["person_years"] / years
    ok = d["offences"].notna()
    d["rate"] = np.nan
    d["lower"] = np.nan
    d["upper"] = np.nan
    if ok.any():
        r = rate(d.loc[ok, "offences"].astype(float), d.loc[ok, "person_years"], multiplier=per)
        d.loc[ok, "rate"] = r["value"].to_numpy()
        d.loc[ok, "lower"] = r["lower"].to_numpy()
        d.loc[ok, "upper"] = r["upper"].to_numpy()
    shown = d[ok]
    force_rate = float(shown["offences"].sum() / shown["person_years"].sum() * per) if len(shown) else math.nan
    cfg = config.settings().get("funnels", {})
    od = overdispersion(shown["offences"].astype(float), shown["person_years"], force_rate,
                        method=str(cfg.get("method", "auto")), winsorise=float(cfg.get("winsorise", 0.1)),
                        multiplier=per)
    d["funnel_95"] = None
    d["funnel_998"] = None
    if len(shown):
        sig = adjusted_funnel_significance(shown["offences"].astype(float), shown["person_years"], force_rate, od,
                                           multiplier=per)
        d.loc[ok, "funnel_95"] = sig["significance_95"].to_numpy()
        d.loc[ok, "funnel_998"] = sig["significance_998"].to_numpy()
    verdict = {"high": "higher", "low": "lower", "not significant": "within the expected range"}
    d["vs_force"] = [verdict.get(v, "") if isinstance(v, str) else "" for v in d["funnel_95"]]
    info = {"node": node, "months": months, "window": words, "years": years, "per": per, "force_rate": force_rate,
            "od": od, "table": table, "hidden": d.loc[~ok, "csp_name"].tolist(),
            "force_offences": int(shown["offences"].sum()), "force_person_years": float(shown["person_years"].sum())}
    ctx._cache[key] = (d, info)
    return d, info


@_per_measure
def count_funnel(ctx: CountsContext, name: str) -> SectionResult:
    """Funnel plot of every CSP's rate of a measure against the force rate, with 95% and 99.8% limits that
    allow for over-dispersion between CSPs (Spiegelhalter 2005) when the CSPs vary more than chance."""
    from svtools.analysis.stats.funnels import adjusted_funnel_limits

    d, info = _csp_rates(ctx, name)
    what = _what(ctx, name)
    per, od = info["per"], info["od"]
    pts = d[d["offences"].notna()]
    title = f"Funnel plot of {what}"
    if len(pts) < 3 or not np.isfinite(info["force_rate"]):
        return _skip(ctx, f"funnel_{name}", title, f"fewer than 3 CSPs have a published count over {info['window']}")
    _say(f"### Compared with the other CSPs: {what}")
    grid = np.geomspace(max(pts["person_years"].min() * 0.5, 1000.0), pts["person_years"].max() * 1.1, 200)
    limits = adjusted_funnel_limits(info["force_rate"], grid, od, multiplier=per)
    limits["denominator"] = limits["denominator"] / info["years"]  # plot against residents
    signal = pts["funnel_998"].map({"high": "high", "low": "low"}).fillna("")
    points = disclosure.derived(pd.DataFrame({"label": pts["csp_name"].to_numpy(),
                                              "denominator": pts["residents"].to_numpy(),
                                              "value": pts["rate"].to_numpy(), "signal": signal.to_numpy()}),
                                info["table"])
    highlight = ctx.name if ctx.level == "csp" else None
    high = pts.loc[pts["funnel_998"] == "high", "csp_name"].tolist()
    low = pts.loc[pts["funnel_998"] == "low", "csp_name"].tolist()
    hi_row, lo_row = pts.loc[pts["rate"].idxmax()], pts.loc[pts["rate"].idxmin()]
    area = ctx.force_word
    alt = (f"Funnel plot of {what} rates {_per_words(per)}, {info['window']}, for {len(pts)} CSPs of "
           f"{ctx.force_name} against the {area} rate ({info['force_rate']:.2f}), with 95% and "
           f"{od.limits_phrase('99.8%')}. "
           + (f"{ctx.label}: {float(d.loc[d['csp_code'] == ctx.code, 'rate'].iloc[0]):.2f}. "
              if ctx.level == "csp" and ctx.code in set(pts["csp_code"]) else "")
           + f"Highest: {hi_row['csp_name']} ({hi_row['rate']:.2f}); lowest: {lo_row['csp_name']} "
           f"({lo_row['rate']:.2f}). Above the 99.8% limits: {', '.join(high) or 'none'}; below: "
           f"{', '.join(low) or 'none'}."
           + (f" Not drawn (count hidden): {', '.join(info['hidden'])}." if info["hidden"] else ""))
    labels = ("95% limits" + (", over-dispersion allowed" if od.adjusted else ""),
              "99.8% limits" + (", over-dispersion allowed" if od.adjusted else ""))
    res = SectionResult(name=f"funnel_{name}", data=d)
    fig = charts.funnel_plot(points, limits, target=info["force_rate"], highlight=highlight,
                             title=f"{what.capitalize()}: rate {_per_words(per)}, {info['window']}, CSPs of "
                                   f"{ctx.force_name}", xlabel="Residents (average over the window)",
                             ylabel=f"Rate {_per_words(per)}", limit_labels=labels)
    fdata = funnel_chart_data(pts["csp_code"], pts["csp_name"], pts["offences"], pts["person_years"], info["years"],
                              info["force_rate"], od, per, ctx.force_code, ctx.force_name, pts["funnel_95"],
                              pts["funnel_998"])
    _show(fig, alt, res, disclosure.derived(chart_period(fdata, info["months"]), info["table"]), ctx=ctx,
          counts=["offences"])
    sentence = (f"Over {info['window']}, {area} recorded {info['force_rate']:.2f} offences of {what} "
                f"{_per_words(per)}. {od.explanation('CSPs', around=f'around the {area} rate')} Above the 99.8% "
                f"limits: {', '.join(high) or 'none'}; "
                f"below: {', '.join(low) or 'none'}.")
    _say(sentence)
    res.message = sentence
    res.values = {"force_rate": info["force_rate"], "high": high, "low": low, "overdispersion": od.summary(),
                  "window": info["window"]}
    return res


@_per_measure
def count_league(ctx: CountsContext, name: str) -> SectionResult:
    """The CSPs ranked by rate of a measure with 95% intervals, against the force rate, with the funnel flag."""
    d, info = _csp_rates(ctx, name)
    what = _what(ctx, name)
    per = info["per"]
    shown = d[d["offences"].notna()]
    title = f"League table of {what}"
    if shown.empty:
        return _skip(ctx, f"league_{name}", title, f"no CSP has a published count over {info['window']}")
    res = SectionResult(name=f"league_{name}", data=d)
    chart_d = disclosure.derived(d[["csp_name", "rate", "lower", "upper"]].copy(), info["table"])
    above = d.loc[d["vs_force"] == "higher", "csp_name"].tolist()
    below = d.loc[d["vs_force"] == "lower", "csp_name"].tolist()
    hi_row, lo_row = shown.loc[shown["rate"].idxmax()], shown.loc[shown["rate"].idxmin()]
    area = ctx.force_word
    limits = info["od"].limits_phrase("95%")
    alt = (f"Bar chart ranking the {len(d)} CSPs of {ctx.force_name} by {what} rate {_per_words(per)}, "
           f"{info['window']}, with 95% confidence intervals and the {area} rate ({info['force_rate']:.2f}) as a "
           f"dashed line. Highest {hi_row['csp_name']} ({hi_row['rate']:.2f}), lowest {lo_row['csp_name']} "
           f"({lo_row['rate']:.2f}). Outside the {limits} around the {area} rate: {_csps(len(above))} above, "
           f"{len(below)} below." + (f" No bar (count hidden): {', '.join(info['hidden'])}." if info["hidden"] else ""))
    fig = charts.bar_chart(chart_d, label="csp_name", value="rate", lower="lower", upper="upper",
                           title=f"{what.capitalize()}: rate {_per_words(per)} by CSP, {info['window']}",
                           xlabel=f"Rate {_per_words(per)}", ylabel="Community Safety Partnership",
                           highlight=ctx.name if ctx.level == "csp" else None, reference=info["force_rate"],
                           reference_label=area, value_format="{:.2f}")
    league = pd.DataFrame({"area_code": d["csp_code"], "area_name": d["csp_name"], "offences": d["offences"],
                           "residents": d["residents"], f"rate_per_{per}": d["rate"], "lower_95_ci": d["lower"],
                           "upper_95_ci": d["upper"], "comparator_code": ctx.force_code,
                           "comparator_name": ctx.force_name, "comparator_value": info["force_rate"],
                           "vs_comparator": d["vs_force"]})
    _show(fig, alt, res, disclosure.derived(chart_period(league, info["months"]), info["table"]), ctx=ctx,
          counts=["offences"])
    sentence = (f"Over {info['window']}, the highest rate of {what} was in {hi_row['csp_name']} "
                f"({hi_row['rate']:.2f} {_per_words(per)}) and the lowest in {lo_row['csp_name']} "
                f"({lo_row['rate']:.2f}). Against the {area} rate ({info['force_rate']:.2f}), "
                f"{_csps(len(above))} {'is' if len(above) == 1 else 'are'} higher and {len(below)} lower, outside "
                f"the {limits}; the others are within the expected range.")
    if ctx.level == "csp" and ctx.code in set(shown["csp_code"]):
        me = d[d["csp_code"] == ctx.code].iloc[0]
        rank = int((shown["rate"] > me["rate"]).sum()) + 1
        sentence += (f" {ctx.label} ranks {rank} of {len(shown)} ({me['rate']:.2f}, {_ci(me['lower'], me['upper'])})"
                     + (f": {me['vs_force']} than the {area} rate." if me["vs_force"] in ("higher", "lower")
                        else f": {me['vs_force'] or 'not compared'}."))
    _say(sentence)
    res.message = sentence
    flag = {"high": "above", "low": "below", "not significant": "inside"}
    raw = d.sort_values("rate", ascending=False, na_position="last")
    extra = pd.DataFrame({
        "Residents": raw["residents"].round(-1).map(lambda v: f"{v:,.0f}").to_numpy(),
        "Rate (95% CI)": [f"{_rate_text(r)} ({_rate_text(lo)} to {_rate_text(hi)})" if np.isfinite(r) else ""
                          for r, lo, hi in zip(raw["rate"], raw["lower"], raw["upper"])],
        f"Compared with {area}": raw["vs_force"].map(lambda v: v or "").to_numpy(),
        "Funnel, 99.8% limits": raw["funnel_998"].map(lambda v: flag.get(v, "") if isinstance(v, str) else "")
        .to_numpy(),
    })
    ordered = ctx.family(name).areas_table(raw["csp_code"].tolist(), name, info["node"],
                                           name=f"league_{name}", row_title="CSP")
    ordered.counts.index = pd.Index(raw["csp_name"].tolist(), name="CSP")
    ordered.counts.columns = ["Offences"]
    res.csv = publish_gated(ctx, ordered, f"CSPs of {ctx.force_name} by rate of {what}, {info['window']}",
                            name=f"league_{name}", extra=extra,
                            note=f"Rate {_per_words(per)}. Residents: ONS mid-year estimates of each financial year "
                                 f"(average over the window). Compared with the {area} rate: higher or lower only "
                                 f"outside the {limits}, the limits of the funnel plot; the 95% CI of a rate allows "
                                 "for chance only "
                                 f"(exact Poisson below 10 offences, Byar's from 10). " + hidden_note())
    res.table = ordered.text()
    res.values = {"above": above, "below": below, "highest": hi_row["csp_name"], "lowest": lo_row["csp_name"],
                  "force_rate": info["force_rate"]}
    return res


@_per_measure
def count_special_cause(ctx: CountsContext, name: str, recent: int = 6) -> SectionResult:
    """For every CSP of the force: does the SPC chart of its published series of a measure show special-cause
    variation in its latest points (``recent`` months, or the latest 4 quarters or 2 years)?"""
    what = _what(ctx, name)
    fam = ctx.family(name)
    codes = list(fam.cube_of(ctx.csp_codes[0]).cube.dim("area_code").base)
    rows = []
    for code in codes:
        plan, r = _spc_plan(fam, code, name)
        base = {"CSP": ctx.csp_name(code), "Published by": _WORD.get(r, "not as a series")}
        empty = {"Charted by": "", "Mean per point": "", "Latest points": "", "Rule": "", "Improvement points": "",
                 "Concern points": ""}
        if plan is None:
            rows.append({**base, **empty, "Special cause in the latest points": "no SPC chart (series not published)"})
            continue
        if plan.kind != "xmr":
            rows.append({**base, **empty, "Special cause in the latest points": "no SPC chart (too few offences: "
                         + plan.reason + ")"})
            continue
        f = _spc_frame(plan.values)
        n = recent if plan.resolution == "month" else 4 if plan.resolution == "quarter" else 2
        tail = f.tail(n)
        kinds = [k for k in ("concern", "improvement") if (tail["special_cause"] == k).any()]
        rules = sorted(set(tail.loc[tail["special_cause"].isin(kinds), "rule"]))
        rows.append({**base, "Charted by": _WORD[plan.resolution],
                     "Mean per point": f"{float(f['mean'].iloc[-1]):.1f}",
                     "Latest points": f"{_label(f['date'].iloc[-n], plan.resolution)} to "
                                      f"{_label(f['date'].iloc[-1], plan.resolution)}",
                     "Special cause in the latest points": " and ".join(kinds) or "none",
                     "Rule": "; ".join(_rule_words(x, plan.resolution) for x in rules),
                     "Improvement points": str(int((f["special_cause"] == "improvement").sum())),
                     "Concern points": str(int((f["special_cause"] == "concern").sum()))})
    table = pd.DataFrame(rows).sort_values("CSP", kind="stable").reset_index(drop=True)
    res = SectionResult(name=f"special_cause_{name}", data=table, table=table)
    flagged = table[table["Special cause in the latest points"].isin(["concern", "improvement",
                                                                      "concern and improvement"])]
    charted = table[~table["Special cause in the latest points"].str.startswith("no SPC")]
    _say(f"### Special-cause variation by CSP: {what}")
    if charted.empty:
        sentence = (f"No CSP of {ctx.force_name} has an SPC chart of {what}: the series are not published finely "
                    "enough, or hold too few offences a point.")
    else:
        sentence = (f"In their latest points, {len(flagged)} of the {len(charted)} CSPs with an SPC chart of {what} "
                    "show special-cause variation"
                    + (": " + "; ".join(f"{r['CSP']} ({r['Special cause in the latest points']})"
                                        for _, r in flagged.iterrows()) if len(flagged) else "") + ".")
    _say(sentence)
    res.message = sentence
    caption = f"Special-cause variation of {what} in the latest points, by CSP, {ctx.force_name}"
    note = ("Improvement and concern points count the points (months, quarters or years) with a special-cause "
            "signal over the whole period (NHS Making Data Count rules on the published series; fewer offences is "
            "improvement).")
    # the page shows the CSPs with a signal; every CSP is in the CSV download
    res.csv = output.publish_table(table, ctx.prefix + f"special_cause_{name}", caption, note=note,
                                   count_columns=[], display_table=False)
    if len(flagged):
        shown = flagged[["CSP", "Charted by", "Latest points", "Special cause in the latest points", "Rule"]]
        output.show_table(shown.rename(columns={"Special cause in the latest points": "Signal"}),
                          f"CSPs with special-cause variation of {what} in their latest points", note=note,
                          count_columns=[])
    if res.csv is not None:
        from IPython.display import HTML, display

        display(HTML(f'<p><a href="{res.csv.name}" download>Download the table for every CSP ({len(table)} rows, '
                     'CSV)</a></p>'))
    res.values = {"flagged": flagged["CSP"].tolist(), "charted": len(charted)}
    return res
