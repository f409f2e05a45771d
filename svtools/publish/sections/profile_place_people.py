"""CSP profile (``csp_profile.ipynb``), where, when and who: hotspots, deprivation, time of day and week,
victims and suspects, under-25s. Repeat victims and harm concentration are withheld in this version.

Every number shown - table, CSV, chart, alt text, sentence - comes from a
:class:`~svtools.publish.disclosure.PublishedTable` made by the disclosure gate (:mod:`svtools.publish.tables`).
The force overview and the under-25 cohort page (``cohort_under25.ipynb``) show several of these too.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from svtools.publish import charts, disclosure, tables
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _ci,
    _count,
    _need_cohort_ages,
    _need_field,
    _need_records,
    _say,
    _show,
    _skip,
    _withheld,
    fmt_or_hidden,
    gated_rate_bounds,
    gated_rates,
    cohort_caveat,
    hidden_note,
    known_phrase,
    not_recorded,
    publish_gated,
)

__all__ = [
    "hotspots",
    "deprivation",
    "when",
    "who",
    "under25",
    "repeat_victims",
    "harm_concentration",
]

#: Said instead of the per-victim sections (repeat victims, harm concentration).
PER_VICTIM_WITHHELD = (
    "it is not published in this version: the per-victim figures cannot yet be protected against differencing"
)


# =========================================================================== shared
def decile_label(decile: int) -> str:
    """``1`` -> ``"Decile 1 (most deprived)"``: national IMD deciles as a reader sees them (10 = least deprived)."""
    d = int(decile)
    return f"Decile {d}" + (" (most deprived)" if d == 1 else " (least deprived)" if d == 10 else "")


def _pct(num, den) -> str:
    """A whole-number percentage from two published counts ('' when either is hidden or the base is 0)."""
    return disclosure.share(num, den, 0) or ""


def _areas_population(ctx: ProfileContext) -> pd.DataFrame:
    """Residents by single year of age of the context's CSPs, averaged over the years of the period."""
    pop = ctx.population
    pop = pop[pop["csp_code"].isin(ctx.csp_codes)]
    years = set(range(ctx.period_start.year, ctx.period_end.year + 1))
    inside = pop[pop["year"].isin(years)]
    if inside.empty and len(pop):
        inside = pop[pop["year"] == pop["year"].max()]
    return inside.groupby(["year", "age"])["population"].sum().groupby("age").mean()


def _broken_down(cube, area: str, node: str) -> bool:
    """True when the area's breakdown is published (registered) in ``cube`` (``node``: a published category)."""
    try:
        cube.value((area, node))
    except disclosure.DisclosureError:
        return False
    return True


# =========================================================================== where
def hotspots(ctx: ProfileContext) -> SectionResult:
    """The busiest ten neighbourhoods (LSOAs) with rates per 1,000 residents a year, from the force's
    protected neighbourhood family (:func:`svtools.publish.tables.lsoa_cube`), and one sentence on how many of
    the area's offences they hold (published cells only)."""
    title = "Neighbourhood hotspots"
    skip = _need_cohort_ages(ctx, "hotspots", title)
    if skip:
        return skip
    cube, top = tables.lsoa_cube(ctx, top_n=10)
    codes = top.get(str(ctx.code), [])
    total = cube.value((ctx.code,))
    if not codes or total == 0:
        return _skip(ctx, "hotspots", title, f"no offences of {ctx.what} with a neighbourhood were recorded in "
                     f"{ctx.name}")
    t = cube.table("lsoa_code", None, row_nodes=codes + [ctx.code], name="neighbourhoods", row_title="LSOA")
    counts = t.counts.iloc[:, 0]
    top_counts = counts.iloc[:-1]
    lk = ctx.lsoa.set_index(ctx.lsoa["lsoa_code"].astype(str))
    pop = lk["population"].reindex(top_counts.index).astype(float)
    rates = gated_rates(top_counts.astype("Float64"), pop.fillna(0).to_numpy(), multiplier=1000, years=ctx.years)
    per = f"per 1,000 {ctx.residents_label} a year"  # the young page: residents aged 10 to 24, never all ages
    extra = pd.DataFrame(
        {
            "Name": list(lk["lsoa_name"].reindex(top_counts.index).fillna("").astype(str)) + [f"All of {ctx.name}"],
            "IMD decile": [("" if pd.isna(d) else str(int(d))) for d in lk["imd_decile"].reindex(top_counts.index)]
            + [""],
            f"Rate {per}": list(fmt_or_hidden(rates["rate"])) + [""],
            "Lower 95% CI": list(fmt_or_hidden(rates["lower_95_ci"])) + [""],
            "Upper 95% CI": list(fmt_or_hidden(rates["upper_95_ci"])) + [""],
        }
    )
    res = SectionResult(name="hotspots", data=disclosure.frame_of(t))
    visible = top_counts.dropna()
    n_top = len(codes)
    held = int(visible.sum())
    total_txt = _count(total) if total is not None else disclosure.rules()["marker"]
    if len(visible) == n_top and total is not None:
        sentence = (
            f"The {n_top} busiest neighbourhoods (LSOAs) of {ctx.name} hold **{held:,}** of the area's "
            f"{total:,} offences of {ctx.what} with a recorded neighbourhood in {ctx.period}"
            + (f" ({_pct(held, total)})." if _pct(held, total) else ".")
        )
    else:
        sentence = (
            f"The {n_top} busiest neighbourhoods (LSOAs) of {ctx.name} hold at least {held:,} of the area's "
            f"{total_txt} offences of {ctx.what} with a recorded neighbourhood in {ctx.period} (some of their "
            "counts are too small to show)."
        )
    caveat = cohort_caveat(ctx)
    sentence = sentence + (f" {caveat}" if caveat else "")
    _say(sentence)
    res.message = sentence
    res.table = t.text()
    res.csv = publish_gated(
        ctx,
        t,
        f"Busiest neighbourhoods (LSOAs), {ctx.name}, {ctx.period}",
        name="hotspot_lsoas",
        extra=extra,
        row_header="Name",
        note=f"IMD decile 1 = most deprived 10% nationally. Rates {per}: the neighbourhood's "
        + str(ctx.lsoa.attrs.get("residents") or ctx.residents_label) + ". "
        + (f"{caveat} " if caveat else "") + hidden_note(),
    )
    res.values = {
        "top_lsoas": n_top,
        "top_codes": list(codes),
        "top_offences": held,
        "top_all_visible": len(visible) == n_top,
        "total": None if total is None else int(total),
        "counts": {k: (None if pd.isna(v) else int(v)) for k, v in top_counts.items()},
        "rates": {k: (None if pd.isna(v) else float(v)) for k, v in rates["rate"].items()},
        "residents": ctx.residents_label,
    }
    return res


def deprivation(ctx: ProfileContext) -> SectionResult:
    """Offences and rates per 1,000 residents a year by national IMD decile from the protected neighbourhood
    family; the slope (SII) and relative (RII) indices of inequality only when every decile count is visible
    and above 0.

    The indices are PHE's log-linear method for rates (:func:`svtools.analysis.place_time.sii` with
    ``transform=True``, as PHEindicatormethods ``phe_sii(value_type = 1, transform = TRUE, rii = TRUE)``,
    100,000 repetitions): deciles ordered most to least deprived, population-share mid-point ranks, log rates
    regressed with square-root population weights; the 95% intervals pivot the simulated slope limits about
    the fitted mid-point. ``values`` keep PHE's signs (SII = least minus most deprived end, RII = least / most);
    the page states the gap as most minus least deprived and the ratio as most / least (``values["gap"]``,
    ``values["ratio"]``), so both are positive (> 1) when rates are higher in more deprived neighbourhoods. A
    gradient is claimed only when the RII's interval excludes 1.
    """
    from svtools.analysis.place_time import _line, sii

    def _sig3(x: float) -> str:
        """A ratio to 3 significant figures (0.0333, 0.442, 2.26, 30.0; whole numbers from 100)."""
        if not np.isfinite(x):
            return "unknown"
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:#.3g}".rstrip(".")


    def _gradient_words(s: dict) -> str:
        """The SII and RII of a log-linear fit in words a partner can read, claiming a gradient only when the
        interval of the RII excludes 1 (equivalently that of the SII excludes 0)."""
        sii_v, rii_v = float(s["sii"]), float(s["rii"])
        lo, hi = float(s["rii_lower"]), float(s["rii_upper"])
        if not np.isfinite(rii_v) or rii_v <= 0:  # cannot happen for the log-linear fit; never print one
            return ("No relative index of inequality: " + (s.get("rii_note") or "the fit gives no ratio") + ".")
        # PHE orders deciles most to least deprived, so its SII is (least - most) and its RII (least / most);
        # pages state the gap as most minus least deprived and the ratio as most / least, positive (> 1) when
        # rates are higher in more deprived neighbourhoods, the way partners read it
        gap_v, gap_lo, gap_hi = -sii_v, -float(s["sii_upper"]), -float(s["sii_lower"])
        ratio_v, ratio_lo, ratio_hi = 1 / rii_v, 1 / hi, 1 / lo
        gap = (f"Slope index of inequality {gap_v:,.2f} per 1,000 residents a year ({_ci(gap_lo, gap_hi)}): "
               "the fitted rate at the most deprived end of the area minus that at the least deprived end. "
               f"Relative index of inequality {_sig3(ratio_v)} (95% CI {_sig3(ratio_lo)} to {_sig3(ratio_hi)}): "
               "the fitted rate at the most deprived end as a multiple of that at the least deprived end "
               "(log-linear fit to the deciles, PHE method; the fitted ends lie beyond the first and last deciles, "
               "so the ratio is further from 1 than that of the two end deciles' own rates)")
        if ratio_lo > 1:
            return (f"{gap}. Rates are higher in more deprived neighbourhoods: the fitted rate at the most deprived "
                    f"end is {_sig3(ratio_v)} times that at the least deprived end.")
        if ratio_hi < 1:
            return (f"{gap}. Rates are higher in less deprived neighbourhoods: the fitted rate at the least deprived "
                    f"end is {_sig3(1 / ratio_v)} times that at the most deprived end.")
        return f"{gap}. The interval includes 1, so these data show no clear gradient by deprivation."


    title = "The deprivation gradient"
    skip = _need_cohort_ages(ctx, "deprivation", title)
    if skip:
        return skip
    cube, _ = tables.lsoa_cube(ctx, top_n=10)
    lk = ctx.lsoa[ctx.lsoa["csp_code"].isin(ctx.csp_codes)].dropna(subset=["imd_decile"])
    deciles = sorted(int(d) for d in lk["imd_decile"].unique())
    if not deciles:
        return _skip(ctx, "deprivation", title, f"no neighbourhood of {ctx.name} has an IMD decile")
    nodes = [f"{ctx.code}|decile {d}" for d in deciles]
    t = cube.table("lsoa_code", None, row_nodes=nodes, name="deprivation", row_title="IMD decile")
    counts = t.counts.iloc[:, 0]
    if counts.fillna(0).sum() == 0 and counts.notna().all():
        return _skip(ctx, "deprivation", title, f"no offences of {ctx.what} were recorded in {ctx.name}")
    pop = lk.groupby(lk["imd_decile"].astype(int))["population"].sum().reindex(deciles).astype(float)
    nl = lk.groupby(lk["imd_decile"].astype(int)).size().reindex(deciles)
    rates = gated_rates(counts.astype("Float64"), pop.to_numpy(), multiplier=1000, years=ctx.years)
    rates.index = deciles
    hidden_deciles = [d for d, v in zip(deciles, counts) if pd.isna(v)]
    zero_deciles = [d for d, v in zip(deciles, counts) if pd.notna(v) and v == 0]
    res = SectionResult(name="deprivation")
    line = None
    if len(hidden_deciles) == 0 and len(deciles) >= 5 and not zero_deciles:
        s = sii(rates["rate"].to_numpy(), pop.to_numpy(), rates["lower_95_ci"].to_numpy(),
                rates["upper_95_ci"].to_numpy(), transform=True, repetitions=100_000)
        sii_text = _gradient_words(s)
        res.values.update({"sii": float(s["sii"]), "rii": float(s["rii"]), "sii_lower": float(s["sii_lower"]),
                           "sii_upper": float(s["sii_upper"]), "rii_lower": float(s["rii_lower"]),
                           "rii_upper": float(s["rii_upper"]), "sii_method": s["method"],
                           "gap": -float(s["sii"]), "gap_ci": (-float(s["sii_upper"]), -float(s["sii_lower"])),
                           "ratio": 1 / float(s["rii"]),
                           "ratio_ci": (1 / float(s["rii_upper"]), 1 / float(s["rii_lower"]))})
        a = pop.to_numpy() / pop.sum()
        rank = np.cumsum(a) - a / 2
        line = pd.DataFrame({"imd_decile": deciles, "value": _line(s["beta0"], s["beta1"], rank, True)})
    else:
        if hidden_deciles:
            why = f"deciles {', '.join(map(str, hidden_deciles))} have counts too small to show"
        elif len(deciles) < 5:
            why = (f"{ctx.name} has neighbourhoods in only {len(deciles)} national deciles, and PHE's method needs "
                   "at least five")
        else:
            why = (f"no offences were recorded in decile{'s' if len(zero_deciles) > 1 else ''} "
                   f"{', '.join(map(str, zero_deciles))}, and PHE's log-linear method needs a rate above 0 in "
                   "every decile (the log of 0 is undefined)")
        sii_text = f"No slope or relative index of inequality: {why}."
        res.values.update({"sii": None, "rii": None})
    chart = pd.DataFrame({"imd_decile": deciles, "value": rates["rate"].to_numpy(),
                          "lower": rates["lower_95_ci"].to_numpy(), "upper": rates["upper_95_ci"].to_numpy()})
    chart = chart[chart["value"].notna()]
    res.data = disclosure.derived(chart.reset_index(drop=True), t)
    if len(chart):
        hi = chart.loc[chart["value"].idxmax()]
        lo = chart.loc[chart["value"].idxmin()]
        alt = (
            f"Dot plot of {ctx.what} rates per 1,000 residents a year in {ctx.name}, {ctx.period}, by national "
            f"IMD decile (1 = most deprived), with 95% confidence intervals"
            + (" and the fitted log-linear gradient as a dashed line" if line is not None else "")
            + f". Highest in decile {int(hi['imd_decile'])} ({hi['value']:,.2f}), lowest in decile "
            f"{int(lo['imd_decile'])} ({lo['value']:,.2f}). {sii_text}"
            + (f" Deciles with counts too small to show are not drawn: {', '.join(map(str, hidden_deciles))}."
               if hidden_deciles else "")
        )
        _show(
            charts.gradient_chart(
                res.data,
                title=f"{ctx.what_short.capitalize()} by deprivation, {ctx.name}",
                ylabel="Rate per 1,000 residents a year",
                line=None if line is None else disclosure.derived(line, t),
            ),
            alt,
            res,
            disclosure.derived(pd.DataFrame({
                "imd_decile": deciles, "offences": counts.astype("Float64").astype(float).to_numpy(),
                "residents": pop.to_numpy(), "rate_per_1000": rates["rate"].to_numpy(),
                "lower_95_ci": rates["lower_95_ci"].to_numpy(), "upper_95_ci": rates["upper_95_ci"].to_numpy(),
                "fitted_gradient_rate_per_1000": np.nan if line is None else line["value"].to_numpy()}), t),
            ctx=ctx,
            counts=["offences"],
        )
    caveat = cohort_caveat(ctx)
    _say(sii_text + (f" {caveat}" if caveat else ""))
    extra = pd.DataFrame(
        {
            "LSOAs": nl.astype(int).astype(str).to_numpy(),
            "Residents": pop.round(-1).astype("int64").map("{:,}".format).to_numpy(),
            "Rate per 1,000 a year": fmt_or_hidden(rates["rate"]).to_numpy(),
            "Lower 95% CI": fmt_or_hidden(rates["lower_95_ci"]).to_numpy(),
            "Upper 95% CI": fmt_or_hidden(rates["upper_95_ci"]).to_numpy(),
        }
    )
    res.table = t.text()
    res.csv = publish_gated(
        ctx, t, f"Rates by IMD decile, {ctx.name}, {ctx.period}", name="deprivation", extra=extra,
        note=f"{sii_text} Residents rounded to 10. " + (f"{caveat} " if caveat else "") + hidden_note(),
        row_labels={node: decile_label(d) for node, d in zip(nodes, deciles)},
    )
    res.values.update({
        "hidden_deciles": hidden_deciles,
        "counts": {d: (None if pd.isna(v) else int(v)) for d, v in zip(deciles, counts)},
    })
    res.message = sii_text
    return res


# =========================================================================== when
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIME_NOT_RECORDED = "Time not recorded"


def _hour_block() -> int:
    return int(disclosure.rules().get("when", {}).get("hour_block", 3))


def _blocks() -> list[str]:
    b = _hour_block()
    return [f"{h:02d}-{h + b:02d}" for h in range(0, 24, b)]


def _day_block_label(records: pd.DataFrame) -> pd.Series:
    """'<weekday>|<block>' of the occurrence time; 'Time not recorded' without a date or an hour."""
    from svtools.analysis.fields import hours

    b = _hour_block()
    when = pd.to_datetime(records["occurred_at"], errors="coerce") if "occurred_at" in records.columns else \
        pd.Series(pd.NaT, index=records.index)
    hour = hours(records)  # NA where no time is recorded (a date alone is never 00:00)
    ok = (when.notna() & hour.notna()).to_numpy(bool)
    out = pd.Series(TIME_NOT_RECORDED, index=records.index, dtype="string")
    if ok.any():
        h = hour[ok].astype("int64").to_numpy()
        start = (h // b) * b
        day = when[ok].dt.day_of_week.to_numpy()
        out[ok] = [f"{DAY_NAMES[d]}|{s:02d}-{s + b:02d}" for d, s in zip(day, start)]
    return out


def day_block_words(key: str) -> str:
    """A day-and-time key as a reader sees it: ``Monday|00-03`` -> ``Monday 00:00 to 03:00``,
    ``Monday|All`` -> ``Monday, all day``; other rows (time not recorded, the total) unchanged."""
    day, sep, block = key.partition("|")
    if not sep:
        return key
    if block == "All":
        return f"{day}, all day"
    start, _, end = block.partition("-")
    return f"{day} {start}:00 to {end}:00" if start.isdigit() and end.isdigit() else f"{day} {block}"


def _day_block_categories() -> tuple:
    return tuple(f"{d}|{blk}" for d in DAY_NAMES for blk in _blocks()) + (TIME_NOT_RECORDED,)


#: Day of week x hour block (config/disclosure.yaml when.hour_block): one family per force.
DAY_TIME = tables.Breakdown(
    "day_time",
    _day_block_label,
    categories=_day_block_categories(),
    groups=tuple((f"{d}|All", tuple(f"{d}|{blk}" for blk in _blocks())) for d in DAY_NAMES),
    not_recorded=TIME_NOT_RECORDED,
)


def _heat_frame(t) -> pd.DataFrame:
    """7 days x blocks grid of published counts (NaN where hidden), marked as derived from ``t``."""
    c = t.counts.iloc[:, 0]
    blocks = _blocks()
    grid = pd.DataFrame(np.nan, index=pd.Index(DAY_NAMES, name="day_name"), columns=blocks, dtype=float)
    for d in DAY_NAMES:
        for blk in blocks:
            v = c.get(f"{d}|{blk}")
            grid.loc[d, blk] = np.nan if v is None or pd.isna(v) else float(v)
    return grid


def when(ctx: ProfileContext) -> SectionResult:
    """Day of week by 3-hour block of the recorded occurrence time (heatmap, cividis); cells the gate hides are
    drawn in one hatched 'too few to show' grey, never at their value."""

    title = "Day of week and time of day"
    skip = _need_records(ctx, "when", title, "only the month of each crime: no day or time")
    if skip:
        return skip
    skip = _need_cohort_ages(ctx, "when", title) or _need_field(
        ctx, "when", title, "occurred_hour", "offences by day of the week and time of day", records=ctx.selected)
    if skip:
        return skip
    if "occurred_at" not in ctx.selected.columns:
        return _skip(ctx, "when", title, f"no offences of {ctx.what} with a recorded time in {ctx.name}")
    cube = tables.breakdown_cube(ctx, DAY_TIME)
    if not _broken_down(cube, ctx.code, TIME_NOT_RECORDED):
        return _skip(ctx, "when", title, f"{ctx.name} has too few offences of {ctx.what} to break down by day "
                     "and time")
    cats = [f"{d}|{blk}" for d in DAY_NAMES for blk in _blocks()]
    rows = cats + [f"{d}|All" for d in DAY_NAMES] + [TIME_NOT_RECORDED, tables.TOTAL]
    t = cube.table("category", None, fixed={"area_code": ctx.code}, row_nodes=rows, name="day_time",
                   row_title="Day and time")
    c = t.counts.iloc[:, 0]
    grid = _heat_frame(t)
    known = grid.stack().dropna()
    if known.empty or known.max() <= 0:
        return _skip(ctx, "when", title, f"no day-and-time cell of {ctx.name} is large enough to show")
    data = disclosure.derived(grid, t)
    res = SectionResult(name="when", data=data)
    (bday, bblock) = known.idxmax()
    days = c[[f"{d}|All" for d in DAY_NAMES]]
    days.index = list(DAY_NAMES)
    vis_days = days.dropna()
    unknown = c[TIME_NOT_RECORDED]
    n_hidden = int(grid.isna().sum().sum())
    chart = grid.copy()
    chart.columns = [int(b.split("-")[0]) for b in grid.columns]  # the chart wants start hours
    fig = charts.day_hour_heatmap(disclosure.derived(chart, t), title=f"When {ctx.what_short} happens, {ctx.name}",
                                  xlabel="Time of day", colorbar_label="Offences", column_labels=list(grid.columns),
                                  hidden_label="Too few to show")
    ax = fig.axes[0]
    ax.set_xlabel(f"Time of day (hours)\nX = busiest block: {bday} {bblock.replace('-', ':00 to ')}:00")
    alt = (
        f"Heatmap of {ctx.what} in {ctx.name}, {ctx.period}, by day of week and {_hour_block()}-hour block of "
        f"the day. Busiest block shown: {bday} {bblock}, {int(known.max()):,} offences."
        + (f" Busiest day {vis_days.idxmax()} ({int(vis_days.max()):,}), quietest {vis_days.idxmin()} "
           f"({int(vis_days.min()):,})." if len(vis_days) else "")
        + (f" {n_hidden} cells have too few offences to show and are drawn hatched grey." if n_hidden else "")
    )
    cells = pd.DataFrame([(d, f"{b.split('-')[0]}:00 to {b.split('-')[1]}:00", grid.loc[d, b])
                          for d in grid.index for b in grid.columns],
                         columns=["day_of_week", "time_block", "offences"])
    _show(fig, alt, res, disclosure.derived(cells, t), ctx=ctx, counts=["offences"])
    unk_txt = disclosure.rules()["marker"] if pd.isna(unknown) else f"{int(unknown):,}"
    time_known = known_phrase(c[tables.TOTAL], unknown, noun="time", of="offences")
    caveat = cohort_caveat(ctx)
    sentence = (
        ("Of the offences with a recorded time, the" if time_known else "The")
        + f" busiest {_hour_block()}-hour block is {bday} {bblock.replace('-', ':00 to ')}:00 "
        f"({int(known.max()):,} offences)" + (f"; {time_known}" if time_known else "")
        + f". Time not recorded: {unk_txt} offences (shown as their own row, not left out)."
        + (f" {caveat}" if caveat else "")
    )
    _say(sentence)
    res.message = sentence
    res.table = t.text()
    res.csv = publish_gated(ctx, t, f"Offences by day of week and time of day, {ctx.name}, {ctx.period}",
                            name="day_time", note=hidden_note(),
                            row_labels={str(k): day_block_words(str(k)) for k in t.counts.index})
    res.values = {
        "busiest_block": (str(bday), str(bblock)),
        "busiest_count": int(known.max()),
        "busiest_day": str(vis_days.idxmax()) if len(vis_days) else None,
        "time_not_recorded": None if pd.isna(unknown) else int(unknown),
        "hidden_cells": n_hidden,
    }
    return res


# =========================================================================== who
_BAND_ROWS = [f"{b}|All" for b in tables.AGE_BANDS] + [f"{tables.AGE_NOT_RECORDED}|All"]
_SEX_ROWS = ["All ages|F", "All ages|M", "All ages|Other or not recorded"]
_SEX_NAMES = {"All ages|F": "Female", "All ages|M": "Male", "All ages|Other or not recorded": "Other or not recorded"}


def _shares(counts: pd.Series, total) -> list[str]:
    return [_pct(v, total) if not pd.isna(v) else "" for v in counts]


def who(ctx: ProfileContext) -> SectionResult:
    """Victims' and suspects' age bands and sex (not crossed), from the protected age-and-sex families
    (:data:`svtools.publish.tables.VICTIM_AGE_SEX`, ``SUSPECT_AGE_SEX``): one bar chart of age bands per role
    and a table of age bands and sex with percentages of the (visible) total."""
    title = "Victims' and suspects' age and sex"
    skip = _need_records(ctx, "who", title, "no victim or suspect ages or sex")
    if skip:
        return skip
    full = dataclasses.replace(ctx, victim_ages=None) if ctx.victim_ages else ctx
    res = SectionResult(name="who")
    shown_any = False
    for role, spec in (("victim", tables.VICTIM_AGE_SEX), ("suspect", tables.SUSPECT_AGE_SEX)):
        cube = tables.breakdown_cube(full, spec)
        if not _broken_down(cube, ctx.code, "Under 25|All"):
            _say(f"{role.capitalize()}s' age and sex: {ctx.name} has too few records to break down.")
            continue
        age_status = full.field_status(f"{role}_age")
        res.values[f"{role}_age_status"] = age_status
        sex_known = full.field_status(f"{role}_sex") != "absent"
        if age_status == "absent":  # one line, and no table or chart of zero age bands
            _say(not_recorded(full, f"{role}_age", f"{role}s' age bands"))
            if not sex_known:
                continue
        band_rows = (_BAND_ROWS if age_status != "absent" else []) + [
            r for r in (f"{tables.AGE_BANDED}|All",) if age_status != "absent" and _broken_down(cube, ctx.code, r)]
        sex_rows = _SEX_ROWS if sex_known else []
        rows = band_rows + sex_rows + [tables.TOTAL]
        t = cube.table("category", None, fixed={"area_code": ctx.code}, row_nodes=rows, name=spec.name,
                       row_title="Age band or sex")
        c = t.counts.iloc[:, 0]
        total = c[tables.TOTAL]
        age_known = known_phrase(total, c.get(f"{tables.AGE_NOT_RECORDED}|All"), of=f"{role} records") \
            if age_status == "partial" else ""
        if age_known and role == "suspect":  # the records of offences with no suspect identified have no age
            age_known += " (offences with no suspect identified count as not recorded)"
        labels = ([r.split("|")[0] for r in band_rows] + [_SEX_NAMES[r] for r in sex_rows] + ["All records"])
        bars = pd.DataFrame({"label": [r.split("|")[0] for r in band_rows if r in _BAND_ROWS],
                             "value": c[[r for r in band_rows if r in _BAND_ROWS]].astype("Float64").astype(float)
                             .to_numpy()})
        data = disclosure.derived(bars, t)
        vis = bars.dropna()
        vis = vis[vis["label"] != tables.AGE_NOT_RECORDED]
        if len(vis) and vis["value"].max() > 0:
            big = vis.loc[vis["value"].idxmax()]
            m, f = c.get("All ages|M"), c.get("All ages|F")
            unk = c[f"{tables.AGE_NOT_RECORDED}|All"]
            alt = (
                f"Bar chart of {role} records of {ctx.what} in {ctx.name}, {ctx.period}, by age band"
                f" (of {_count(total) if not pd.isna(total) else '*'} records). Largest band: {big['label']} "
                f"({int(big['value']):,}). Age not recorded: {'*' if pd.isna(unk) else f'{int(unk):,}'}"
                + (" (including offences with no suspect identified)." if role == "suspect" else ".")
                + (f" Male {_pct(m, total)}, female {_pct(f, total)} of all records." if sex_known and
                   _pct(m, total) and _pct(f, total) else "")
                + (f" The bands count records with a recorded age ({age_known})." if age_known else "")
            )
            _show(
                charts.bar_chart(data, label="label", value="value", sort=False,
                                 title=f"{role.capitalize()}s by age band, {ctx.name}",
                                 xlabel=f"{role.capitalize()} records", ylabel="Age band"),
                alt,
                res,
                disclosure.derived(pd.DataFrame({f"{role}_age_band": bars["label"].to_numpy(),
                                                 f"{role}_records": bars["value"].to_numpy(),
                                                 f"all_{role}_records": None if pd.isna(total) else int(total)}),
                                   t),
                ctx=ctx,
                counts=[f"{role}_records", f"all_{role}_records"],
            )
            shown_any = True
        extra = pd.DataFrame({f"% of all {total if pd.isna(total) else int(total):,} records"
                              if not pd.isna(total) else "% of all records": _shares(c, total)})
        if age_known:
            _say(f"{role.capitalize()}s' age bands count the records with a recorded age ({age_known}).")
        what = ("by age band and by sex" if band_rows and sex_rows else "by age band" if band_rows else "by sex")
        publish_gated(ctx, t, f"{role.capitalize()}s {what}, {ctx.name}, {ctx.period}",
                      name=f"{role}_age_sex", extra=extra, row_labels=dict(zip(rows, labels)),
                      note=("Age bands and sex are shown separately (not crossed). " if band_rows and sex_rows
                            else "") + f"Percentages are of all {role} records, including those with "
                      + ("age or sex" if band_rows and sex_rows else "age" if band_rows else "sex")
                      + " not recorded. "
                      + ("Ages recorded as a band are counted in the published band holding the whole band, "
                         "never in a single year. " if f"{tables.AGE_BANDED}|All" in band_rows else "")
                      + hidden_note())
        res.values[f"{role}_counts"] = {k: (None if pd.isna(v) else int(v)) for k, v in c.items()}
        res.values[f"{role}_total"] = None if pd.isna(total) else int(total)
        if res.table is None:
            res.table = t.text()
            res.data = data
    if not shown_any and res.table is None:
        return _skip(ctx, "who", title, f"{ctx.name} has too few records to break down by age and sex")
    return res


# =========================================================================== under-25s
_U25_ROWS = ["Under 25|All", "10-24|All", f"{tables.AGE_NOT_RECORDED}|All", tables.TOTAL]


def under25(ctx: ProfileContext) -> SectionResult:
    """Offences against victims under 25 and aged 10-24 over the period, from the victims' age-and-sex family
    (the same family as the profile's and the cohort page's tables): counts, share of victims of known age
    (visible counts only) and rates per 1,000 residents of the same ages a year.

    The rates divide by person-years of residents aged 0 to 24 and 10 to 24 over the period
    (:meth:`ProfileContext.person_years`: each month at its own financial year's ONS mid-year estimate, else the
    nearest, named in the note). Where victim ages are partly recorded the table adds the rate if every victim
    of unrecorded age were in the group (:func:`~svtools.publish.sections.context.gated_rate_bounds`), so the rate
    lies between the two; both only from published cells."""
    from svtools import config
    from svtools.analysis.population import age_label, year_note
    from svtools.publish.sections.context import _financial_years, _fmt

    title = "Victims under 25"
    skip = _need_records(ctx, "under25", title, "no victim ages")
    if skip:
        return skip
    full = dataclasses.replace(ctx, victim_ages=None) if ctx.victim_ages else ctx
    skip = _need_field(full, "under25", title, "victim_under_25", "the under-25 measures")
    if skip:
        return skip
    cube = tables.breakdown_cube(full, tables.VICTIM_AGE_SEX)
    if not _broken_down(cube, ctx.code, "Under 25|All"):
        return _skip(ctx, "under25", title, f"{ctx.name} has too few offences of {full.what} to break down by "
                     "victim age")
    t = cube.table("category", None, fixed={"area_code": ctx.code}, row_nodes=_U25_ROWS, name="under25",
                   row_title="Victim age")
    c = t.counts.iloc[:, 0]
    u25, y1024, unk, total = (c[r] for r in _U25_ROWS)
    known = None if pd.isna(total) or pd.isna(unk) else int(total) - int(unk)
    partial = full.field_status("victim_under_25") == "partial"
    age_known = known_phrase(total, unk) if partial else ""
    cfg = config.settings()["age_bands"]
    hi_age, young_lo = int(cfg["under_25_max_age"]), int(cfg["young_people_min_age"])
    groups = c.index[:2]
    # person-years of residents of the numerators' ages: each month at its financial year's own estimate
    person_years = pd.Series([ctx.person_years(0, hi_age), ctx.person_years(young_lo, hi_age)], index=groups)
    rates = gated_rate_bounds(c.iloc[:2].astype("Float64"), pd.Series([unk, unk], index=groups, dtype="Float64"),
                              person_years, multiplier=1000)
    row_words = ["Under 25", "Aged 10 to 24", "Age not recorded", "All victims"]
    columns = {
        "Share of victims of known age (%)": [_pct(u25, known), _pct(y1024, known), "", ""],
        "Rate per 1,000 residents of these ages a year": list(fmt_or_hidden(rates["rate"])) + ["", ""],
        "Lower 95% CI": list(fmt_or_hidden(rates["lower_95_ci"])) + ["", ""],
        "Upper 95% CI": list(fmt_or_hidden(rates["upper_95_ci"])) + ["", ""],
    }
    if partial:  # the rate if every victim of unrecorded age were in the group: the other end of the range
        columns["Rate if every unrecorded age were in the group"] = (
            list(fmt_or_hidden(rates["rate_upper_bound"])) + ["", ""])
    extra = pd.DataFrame(columns)
    fys = list(dict.fromkeys(_financial_years(ctx.months)))
    estimates = year_note(ctx.residents(fys, 0, hi_age))
    residents_words = (f"person-years of residents {age_label(0, hi_age)} and {age_label(young_lo, hi_age)} over "
                       "the period, each month at its financial year's estimate. " + estimates)
    res = SectionResult(name="under25", data=disclosure.frame_of(t))
    res.table = t.text()
    res.csv = publish_gated(
        ctx, t, f"Offences against young victims, {ctx.name}, {ctx.period}", name="under25", extra=extra,
        row_labels=dict(zip(_U25_ROWS, row_words)),
        note="Rates per 1,000 residents of the same ages a year: " + residents_words + " Shares are of victims "
        "with a recorded age (all victims minus age not recorded). "
        + ("Victims whose age is not recorded are neither under 25 nor 25 and over: the counts and rates are of "
           f"victims with a recorded age, a minimum ({age_known}); the last column is the rate if every one of "
           "them were in the group, a maximum, and the true rate lies between the two. " if partial else "")
        + hidden_note(),
    )
    bars = pd.DataFrame({"label": ["Under 25", "Aged 10 to 24", "Age not recorded"],
                         "value": c.iloc[:3].astype("Float64").astype(float).to_numpy()})
    data = disclosure.derived(bars, t)
    fmt = lambda v: disclosure.rules()["marker"] if pd.isna(v) else f"{int(v):,}"  # noqa: E731
    share = _pct(u25, known)
    alt = (
        f"Bar chart of {full.what} offences in {ctx.name}, {ctx.period}, by victim age: under 25 {fmt(u25)}, "
        f"aged 10 to 24 {fmt(y1024)}, age not recorded {fmt(unk)}."
        + (f" {share} of victims of known age were under 25." if share else "")
    )
    _show(charts.bar_chart(data, label="label", value="value", sort=False,
                           title=f"Offences against young victims, {ctx.name}", xlabel="Offences",
                           ylabel="Victim age"), alt, res,
          disclosure.derived(pd.DataFrame({"victim_age_group": bars["label"].to_numpy(),
                                           "offences": bars["value"].to_numpy()}), t),
          ctx=ctx, counts=["offences"])
    sentence = (
        f"Over {ctx.period}, {fmt(u25)} offences of {full.what} had a victim under 25"
        + (f": {share} of the {known:,} with a recorded victim age" if share else
           " (of the victims with a recorded age)" if partial else "")
        + f". Victim age not recorded: {fmt(unk)}" + (f" ({age_known})." if age_known else ".")
    )
    lo_r, hi_r = rates["rate"].iloc[0], rates["rate_upper_bound"].iloc[0]
    if not pd.isna(lo_r):
        per = f"per 1,000 residents {age_label(0, hi_age)} a year"
        if not partial or (not pd.isna(hi_r) and hi_r <= lo_r):
            ci = _ci(rates["lower_95_ci"].iloc[0], rates["upper_95_ci"].iloc[0])
            sentence += f" That is {_fmt(lo_r)} {per} ({ci})."
        elif pd.isna(hi_r):
            sentence += f" That is at least {_fmt(lo_r)} {per} (victims with a recorded age)."
        else:
            sentence += (f" That is between {_fmt(lo_r)} and {_fmt(hi_r)} {per}: the first counts victims with a "
                         "recorded age, the second every victim of unrecorded age as if under 25.")
    _say(sentence)
    res.message = sentence
    res.values = {
        "under25": None if pd.isna(u25) else int(u25),
        "aged_10_24": None if pd.isna(y1024) else int(y1024),
        "age_not_recorded": None if pd.isna(unk) else int(unk),
        "total": None if pd.isna(total) else int(total),
        "share": (int(u25) / known) if share else None,
        "age_known": age_known,
        "rate": None if pd.isna(rates["rate"].iloc[0]) else float(rates["rate"].iloc[0]),
        "rates": {k: (None if pd.isna(v) else float(v)) for k, v in zip(("under25", "aged_10_24"), rates["rate"])},
        "upper_bounds": {k: (None if not partial or pd.isna(v) else float(v))
                         for k, v in zip(("under25", "aged_10_24"), rates["rate_upper_bound"])},
        "person_years": dict(zip(("under25", "aged_10_24"), person_years.astype(float).tolist())),
        "population_note": estimates,
    }
    return res


# =========================================================================== per victim (withheld)
def repeat_victims(ctx: ProfileContext) -> SectionResult:
    """Repeat victimisation: withheld in this version (one line saying why)."""
    title = "Repeat victims"
    return _withheld(ctx, "repeat_victims", title, "no victim identifiers",
                     PER_VICTIM_WITHHELD)


def harm_concentration(ctx: ProfileContext) -> SectionResult:
    """Concentration of harm among victims: withheld in this version (one line saying why)."""
    title = "Concentration of harm"
    return _withheld(ctx, "harm_concentration", title,
                     "no victim identifiers or offence codes for severity weights",
                     PER_VICTIM_WITHHELD)
