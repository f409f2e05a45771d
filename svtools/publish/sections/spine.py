"""The spine chart, the red-red list (CSP pages) and the alert page (``alerts.ipynb``, one per dataset).

* :func:`spine_chart` - every indicator of ``config/indicators.yaml`` for the CSP against the benchmark, the
  25th-75th percentile and the worst and best of the CSPs (Fingertips style), as a chart, an accessible table
  and a CSV;
* :func:`red_red` - the indicators significantly worse than the benchmark **and** getting worse by the trend
  model, or one sentence saying there are none;
* :func:`alerts` - the dataset's CSPs with special-cause change in the latest quarter or red-red status, by
  severity, each linked to its page.

Every number comes from :func:`svtools.publish.indicators.indicator_table` (published counts only; quantiles of
published values only). Works for :class:`~svtools.publish.sections.context.ProfileContext` (record-level data)
and :class:`~svtools.publish.sections.counts.CountsContext` (count tables).
"""

from __future__ import annotations

import html

import pandas as pd

from svtools.publish import disclosure, output
from svtools.publish.sections.context import SectionResult, _say, _show, _skip

__all__ = ["spine_chart", "red_red", "alerts", "CSV_COLUMNS", "CSP_PAGE"]

#: Columns of the spine chart's CSV download, in order (snake_case, explicit: ``indicator_value`` is the CSP's
#: value in the indicator's unit, a rate per ``per`` residents a year or a percentage).
CSV_COLUMNS = ["indicator", "area_code", "area_name", "period", "indicator_value", "lower_95_ci", "upper_95_ci", "benchmark",
               "benchmark_value", "p25", "p75", "worst", "best", "polarity", "verdict", "status", "trend_rate_ratio",
               "trend_lower_95_ci", "trend_upper_95_ci", "trend_period", "trend"]

#: The CSP page an alert links to, by dataset schema (relative to the run's root).
CSP_PAGE = {"police_extract": "csp_profile", "counts": "london_csp"}

_BENCHMARK_WORDS = {"all_csps_in_data": "all CSPs in the data", "force": "the force area",
                    "england_wales": "England and Wales"}
_TREND_WORDS = {"getting worse": "getting worse", "improving": "improving", "no clear change": "no clear change",
                "rising": "rising", "falling": "falling", "not assessed": "not assessed"}


def _unit_short(unit: str) -> str:
    """"per 1,000 residents a year" from "offences per 1,000 residents a year"; "%" for percentages."""
    u = str(unit)
    if u.startswith("percentage"):
        return "per cent"
    return u[u.index("per "):] if "per " in u else u


def _fmt(v, nd: int = 2) -> str:
    return "" if v is None or pd.isna(v) else f"{float(v):,.{nd}f}"


def _rows(ctx) -> pd.DataFrame | None:
    from svtools.analysis.indicators import load_indicators
    from svtools.publish.indicators import indicator_table

    if not load_indicators(ctx.dataset):
        return None
    t = indicator_table(ctx.dataset, ctx.definition.name, ctx.period_end)
    return t[t["area_code"] == ctx.code].reset_index(drop=True)


def _not_applicable(ctx, name: str, title: str) -> SectionResult | None:
    if getattr(ctx, "level", "csp") != "csp":
        return _skip(ctx, name, title, "it compares one CSP with the others (see each CSP's page)")
    if getattr(ctx, "victim_ages", None):
        return _skip(ctx, name, title, "it is given for offences against victims of all ages")
    return None


def _status_words(r) -> str:
    from svtools.publish.indicators import STATUS_WORDS

    if r["status"] == "published":
        return ""
    w = STATUS_WORDS.get(r["status"], r["status"])
    return f"{w} ({r['note']})" if r.get("note") else w


def spine_chart(ctx) -> SectionResult:
    """The CSP's indicators against the benchmark and the spread of the CSPs: chart, table and CSV.

    Each indicator is compared with its benchmark (``config/indicators.yaml``; usually all CSPs in the data:
    their published counts over their residents): a rate by the funnel plot's rule (outside the over-dispersed
    95% funnel limits, :func:`svtools.analysis.indicators.funnel_verdicts`), a share by its 95% confidence
    interval; **similar** otherwise, else better or worse by the indicator's polarity (higher or lower when it
    has none). Rates: exact Poisson limits below 10 events, Byar's from 10; shares: Wilson. P25, P75, worst and best
    are of the CSPs whose value is published.
    """
    title = "Spine chart"
    skip = _not_applicable(ctx, "spine_chart", title)
    if skip:
        return skip
    rows = _rows(ctx)
    if rows is None or rows.empty:
        return _skip(ctx, "spine_chart", title, f"no indicator is configured for the '{ctx.dataset}' data "
                     "(config/indicators.yaml)")
    from svtools.publish import charts
    from svtools.publish.indicators import indicator_sources

    res = SectionResult(name="spine_chart", data=rows)
    from svtools.publish.indicators import STATUS_WORDS

    rows = rows.assign(unit_short=rows["unit"].map(_unit_short),
                       status_words=rows["status"].map(lambda s: STATUS_WORDS.get(s, s)))
    period = ", ".join(dict.fromkeys(rows["period"].astype(str)))
    bench = ", ".join(dict.fromkeys(_BENCHMARK_WORDS.get(b, b) for b in rows["benchmark"]))
    name = ctx.name
    sources = indicator_sources(ctx.dataset, ctx.definition.name, ctx.period_end)
    fig = charts.spine_chart(disclosure.derived(rows, *sources),
                             f"{name} against {bench}: each indicator's value, benchmark and spread, {period}")
    parts = []
    for _, r in rows.iterrows():
        if pd.notna(r["value"]):
            parts.append(f"{r['label']}: {_fmt(r['value'])} {_unit_short(r['unit'])}, {r['verdict']} (benchmark "
                         f"{_fmt(r['benchmark_value'])}; CSPs from {_fmt(min(r['worst'], r['best']))} to "
                         f"{_fmt(max(r['worst'], r['best']))}, middle half {_fmt(r['p25'])} to {_fmt(r['p75'])})")
        else:
            parts.append(f"{r['label']}: {_status_words(r)}")
    alt = (f"Spine chart of {len(rows)} indicators for {name}, {period}, each scaled so the benchmark ({bench}) is "
           "at the centre, worse to the left. " + "; ".join(parts) + ".")
    csv = rows.rename(columns={"value": "indicator_value"})[CSV_COLUMNS].copy()
    for c in ("indicator_value", "lower_95_ci", "upper_95_ci", "benchmark_value", "p25", "p75", "worst", "best",
              "trend_rate_ratio", "trend_lower_95_ci", "trend_upper_95_ci"):
        csv[c] = csv[c].map(lambda v: "" if pd.isna(v) else f"{float(v):.4f}")
    # the data behind the chart, as its CSV download (<section>_chart.csv): rates of published counts only
    _show(fig, alt, res, disclosure.derived(csv, *sources), ctx=ctx)
    res.table = csv
    res.csv = res.chart_csvs[0] if res.chart_csvs else None
    worse = rows.loc[rows["verdict"] == "worse", "label"].tolist()
    better = rows.loc[rows["verdict"] == "better", "label"].tolist()
    sentence = (f"Against {bench}, {name} is significantly worse on {len(worse)} and better on {len(better)} of the "
                f"{int(rows['value'].notna().sum())} indicators with a published value"
                + (f" (worse: {'; '.join(worse)})" if worse else "") + ". Elsewhere there is no clear difference "
                "from the benchmark (similar: a rate inside the funnel limits, a share whose 95% confidence interval "
                "includes it), the indicator has no polarity, or no value is published.")
    _say(sentence)
    res.message = sentence
    table = pd.DataFrame({
        "Indicator": rows["label"],
        "Period": rows["period"],
        "Value": [_fmt(v) or _status_words(r) for v, (_, r) in zip(rows["value"], rows.iterrows())],
        "Unit": rows["unit"],
        "95% CI": [f"{_fmt(lo)} to {_fmt(hi)}" if pd.notna(lo) else "" for lo, hi in
                   zip(rows["lower_95_ci"], rows["upper_95_ci"])],
        "Benchmark": [f"{_fmt(v)} ({_BENCHMARK_WORDS.get(b, b)})" if pd.notna(v) else "not available"
                      for v, b in zip(rows["benchmark_value"], rows["benchmark"])],
        "25th to 75th percentile": [f"{_fmt(a)} to {_fmt(b)}" if pd.notna(a) else "" for a, b in
                                    zip(rows["p25"], rows["p75"])],
        "Worst": [_fmt(v) for v in rows["worst"]],
        "Best": [_fmt(v) for v in rows["best"]],
        "Compared with the benchmark": rows["verdict"],
        "Trend (latest years)": [_trend_words(r) for _, r in rows.iterrows()],
    })
    note = ("Compared with the benchmark: a rate is worse or better only outside the 95% funnel limits around the "
            "rate of all CSPs (widened for the usual variation between CSPs when they differ by more than chance, as "
            "in the funnel plot); a share only when its 95% confidence interval excludes the benchmark. 95% CIs: "
            "rates exact Poisson below 10 events, Byar's from 10; shares Wilson score. Percentiles, worst and best are of the CSPs whose value is "
            "published (hidden counts take no part); for an indicator with no polarity, worst is the highest value "
            "and best the lowest. Trend: the annual rate ratio of the trend model over the latest three years of the "
            "CSP's monthly series, 'getting worse' only when its 95% interval excludes 1; not assessed when the "
            "series is not published by month or fewer than 24 of those months fall after the COVID-19 restrictions "
            "ended (August 2021 onwards: a window holding 2020 would measure the recovery from them). It can differ "
            "from the whole-period trend of the page's trend section. An indicator the data do not record is listed "
            "as such, never as 0.")
    output.show_table(table, f"Indicators for {name} against {bench}, {period}", count_columns=[], note=note,
                      row_header="Indicator")
    res.values = {"worse": worse, "better": better, "indicators": rows["indicator"].tolist()}
    return res


def _trend_words(r) -> str:
    t = str(r["trend"])
    if t == "not assessed":
        return "not assessed"
    return (f"{t} (rate ratio {_fmt(r['trend_rate_ratio'])} a year, 95% CI {_fmt(r['trend_lower_95_ci'])} to "
            f"{_fmt(r['trend_upper_95_ci'])}, {r['trend_period']})")


def red_red(ctx) -> SectionResult:
    """The CSP's indicators that are significantly worse than the benchmark and getting worse.

    Worse: the 95% confidence interval lies wholly on the adverse side of the benchmark. Getting worse: the
    trend model's annual rate ratio (:func:`svtools.analysis.trends.fit_trend_model` on the latest three years
    of the published monthly series, residents as the offset) has a 95% interval wholly on the adverse side of
    1. Both must hold; a clear sentence says when none does.
    """
    title = "Red-red indicators"
    skip = _not_applicable(ctx, "red_red", title)
    if skip:
        return skip
    rows = _rows(ctx)
    if rows is None or rows.empty:
        return _skip(ctx, "red_red", title, f"no indicator is configured for the '{ctx.dataset}' data")
    from svtools.publish.indicators import red_red_indicators

    rr = red_red_indicators(rows)
    assessed = int((rows["trend"] != "not assessed").sum())
    res = SectionResult(name="red_red", data=rr)
    if rr.empty:
        worse = int((rows["verdict"] == "worse").sum())
        why = (" No trend could be assessed: the trend model needs at least 24 months of a series published by "
               "month from August 2021 on, and none of this CSP's indicators has one." if assessed == 0 else "")
        sentence = (f"No indicator of {ctx.name} is both significantly worse than its benchmark and getting "
                    f"worse ({worse} worse than the benchmark; {assessed} of {len(rows)} with a trend assessed)."
                    + why)
        _say(f"**{title}**: {sentence}")
        res.message = sentence
        res.values = {"red_red": [], "assessed": assessed}
        return res
    sentence = (f"{len(rr)} indicator{'s' if len(rr) != 1 else ''} of {ctx.name} "
                f"{'are' if len(rr) != 1 else 'is'} significantly worse than the benchmark and getting worse: "
                + "; ".join(rr["label"]) + ".")
    _say(f"**{title}**: {sentence}")
    table = pd.DataFrame({
        "Indicator": rr["label"],
        "Value": [f"{_fmt(v)} {_unit_short(u)}" for v, u in zip(rr["value"], rr["unit"])],
        "95% CI": [f"{_fmt(lo)} to {_fmt(hi)}" for lo, hi in zip(rr["lower_95_ci"], rr["upper_95_ci"])],
        "Benchmark": [_fmt(v) for v in rr["benchmark_value"]],
        "Trend": [_trend_words(r) for _, r in rr.iterrows()],
    })
    res.table = table
    res.csv = output.publish_table(table, ctx.prefix + "red_red", f"Red-red indicators, {ctx.name}",
                                   count_columns=[], row_header="Indicator",
                                   note="Worse: the 95% CI excludes the benchmark on the adverse side. Getting "
                                        "worse: the trend model's annual rate ratio has a 95% CI excluding 1 on the "
                                        "adverse side.")
    res.message = sentence
    res.values = {"red_red": rr["indicator"].tolist(), "assessed": assessed}
    return res


# =========================================================================== the alert page
def csp_link(schema: str, code: str) -> str:
    """Relative link from ``dataset/alerts/index.html`` to a CSP's page (``csp/<code>/<notebook>/index.html``)."""
    return f"../../csp/{code}/{CSP_PAGE.get(schema, 'csp_profile')}/index.html"


def alerts(dataset: str, definition: str = "knife_serious_violence", period_end=None) -> SectionResult:
    """Every CSP of ``dataset`` with special-cause change in the latest quarter or red-red status, by severity.

    Special cause: NHS Making Data Count rules on the CSP's published series of the page definition, planned as
    on the force overview (:func:`svtools.publish.indicators.alert_table`); red-red: :func:`red_red`. The order
    is :data:`svtools.publish.indicators.SEVERITY_RULE`, stated on the page. Each CSP links to its page.
    """
    from svtools.ingest.store import dataset_info
    from svtools.publish.indicators import SEVERITY_RULE, alert_table

    from svtools.ingest.definitions import load_definition

    schema = str(dataset_info(dataset).get("schema", "police_extract"))
    if schema not in CSP_PAGE:
        return _skip(None, "alerts", "Alerts", f"the '{dataset}' data ({schema}) have no indicators or CSP pages "
                     "this page links to")
    try:
        what = load_definition(definition).short_title
    except Exception:  # noqa: BLE001 - a count table replaces the definition: its own words
        what = definition
    if schema == "counts":
        from svtools.publish import count_tables

        what = count_tables.page_definitions(definition, dataset)[0].short_title
    t = alert_table(dataset, definition, period_end)
    n_all = t.attrs.get("all_areas", 0)
    res = SectionResult(name="alerts", data=t)
    _say(SEVERITY_RULE)
    if t.empty:
        sentence = (f"None of the CSPs in the '{dataset}' data shows special-cause change in the latest quarter "
                    f"or has a red-red indicator ({what}).")
        _say(sentence)
        res.message = sentence
        res.values = {"flagged": []}
        return res
    sentence = (f"{len(t)} of the {n_all} CSPs in the data show special-cause change in the latest quarter "
                f"({what}) or have at least one red-red indicator.")
    _say(sentence)
    res.message = sentence
    from IPython.display import HTML, display

    items = []
    for _, r in t.iterrows():
        bits = []
        if r["red_red"]:
            bits.append(f"red-red: {r['red_red_indicators']}")
        if r["concern_points"] or r["improvement_points"]:
            c, i = int(r["concern_points"]), int(r["improvement_points"])
            bits.append(f"special cause in the latest quarter: {r['special_cause']} ({c} point{'s' if c != 1 else ''} "
                        f"of concern, {i} of improvement, charted by {str(r['spc_resolution']).replace('_', ' ')})")
        items.append(f'<li><a href="{html.escape(csp_link(schema, r["area_code"]))}">'
                     f'{html.escape(str(r["area_name"]))}</a>: {html.escape("; ".join(bits))}</li>')
    display(HTML("<ol class=\"alerts\">" + "".join(items) + "</ol>"))
    csv = t[["severity_rank", "area_code", "area_name", "red_red", "red_red_indicators", "special_cause",
             "concern_points", "improvement_points", "spc_resolution"]].copy()
    csv["page"] = [csp_link(schema, c) for c in csv["area_code"]]
    res.table = csv
    res.csv = output.publish_table(csv, "alerts", f"CSPs with special-cause change or red-red status, {dataset}",
                                   count_columns=[], display_table=False)
    if res.csv is not None:
        display(HTML(f'<p><a href="{html.escape(res.csv.name)}" download>Download this list (CSV, {len(csv)} '
                     'rows)</a></p>'))
    res.values = {"flagged": t["area_code"].tolist(), "links": csv["page"].tolist()}
    return res
