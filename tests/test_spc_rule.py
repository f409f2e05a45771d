"""The SPC rule (issue 9 item 1): one rule decides an XmR chart by month or quarter, rolling 12-month totals, or a
one-line note, from the disclosure gate's ``time_series`` rules; the CSP chart and the force's special-cause table
both use it; lower limits below zero are drawn as calculated."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from section_helpers import CSP, page_dir, check_published
from svtools.analysis.stats import spc
from svtools.analysis.stats.spc import aggregate_series, rolling_totals, spc_plan
from svtools.publish import disclosure, sections, tables

MONTHS = pd.date_range("2018-04-01", periods=84, freq="MS")
RULE = {"min_mean_per_point": 10.0, "min_points": 12}


def monthly(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=MONTHS[: len(values)])


# --------------------------------------------------------------------------- one source of truth
def test_the_rule_reads_the_gates_time_series_block():
    cfg = disclosure.rules()["time_series"]
    # the gate tries the resolutions in the order the rule treats as finest-first
    assert tuple(cfg["resolutions"]) == tables.RESOLUTIONS
    assert {"spc_min_mean_per_point", "spc_min_points", "spc_rolling_months"} <= set(cfg)


# --------------------------------------------------------------------------- the rule
def test_monthly_xmr_when_the_months_are_big_enough():
    plan = spc_plan(monthly(np.full(84, 20.0)), "month", **RULE)
    assert (plan.kind, plan.resolution, plan.points, plan.mean_per_point) == ("xmr", "month", 84, 20.0)


def test_small_months_are_summed_to_quarters():
    plan = spc_plan(monthly(np.full(84, 6.0)), "month", **RULE)
    assert (plan.kind, plan.resolution, plan.points) == ("xmr", "quarter", 28)
    assert plan.values.iloc[0] == 18.0 and plan.values.index[0] == pd.Timestamp("2018-04-01")
    assert "summed" in plan.reason and "6.0" in plan.reason
    assert [t[0] for t in plan.tried] == ["month", "quarter"]


def test_never_finer_than_the_gate_publishes():
    q = aggregate_series(monthly(np.full(84, 30.0)), "month", "quarter")
    plan = spc_plan(q, "quarter", **RULE)  # quarters of 90: months would qualify, but are not published
    assert plan.resolution == "quarter"
    with pytest.raises(ValueError):
        aggregate_series(q, "quarter", "month")


def test_rolling_totals_when_no_resolution_qualifies():
    """Eden: about 1.5 offences a month. Quarters average 4.5 and years give 7 points: no XmR chart."""
    rng = np.random.default_rng(3)
    y = monthly(rng.poisson(1.5, 84))
    plan = spc_plan(y, "month", **RULE)
    assert plan.kind == "rolling" and plan.resolution == "rolling_12_months"
    assert plan.points == 84 - 11
    assert plan.values.iloc[0] == y.iloc[:12].sum() and plan.values.index[0] == MONTHS[11]
    assert "without process limits" in plan.reason


def test_a_note_when_nothing_qualifies():
    years = aggregate_series(monthly(np.full(84, 2.0)), "month", "financial_year")
    plan = spc_plan(years, "financial_year", **RULE)
    assert plan.kind == "none" and plan.values is None and "7 financial years" in plan.reason
    plan = spc_plan(monthly(np.full(36, 0.5)), "month", **RULE)  # rolling totals of 6: too small too
    assert plan.kind == "none" and "0.5" in plan.reason


def test_quarterly_series_rolls_by_four_quarters():
    q = aggregate_series(monthly(np.full(84, 2.5)), "month", "quarter")  # 7.5 a quarter; 7 years
    plan = spc_plan(q, "quarter", **RULE)
    assert plan.kind == "rolling" and plan.points == 28 - 3 and plan.values.iloc[0] == 30.0
    assert plan.values.index[0] == pd.Timestamp("2019-03-01")  # last month of the first four quarters


def test_aggregation_keeps_complete_periods_only():
    y = pd.Series(1.0, index=pd.date_range("2018-05-01", "2020-03-01", freq="MS"))
    q = aggregate_series(y, "month", "quarter")
    assert q.index[0] == pd.Timestamp("2018-07-01") and q.index[-1] == pd.Timestamp("2020-01-01")
    assert (q == 3).all()
    fy = aggregate_series(y, "month", "financial_year")
    assert list(fy.index) == [pd.Timestamp("2019-04-01")] and fy.iloc[0] == 12
    with pytest.raises(ValueError):
        rolling_totals(fy, "financial_year")


def test_why_small_counts_fail_xmr():
    """The reason for the rule: on stable Poisson counts averaging 1.5 a month, XmR puts several times more
    points beyond its limits (chance called "special cause") than at 20 a month."""
    rng = np.random.default_rng(11)

    def share_flagged(mean):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flags = [spc(rng.poisson(mean, 84).astype(float))["outside_limits"].mean() for _ in range(150)]
        return float(np.mean(flags))

    assert share_flagged(1.5) > 2 * share_flagged(20.0)


# --------------------------------------------------------------------------- the pages
@pytest.fixture(scope="module")
def big(demo_data):
    """Hartlepool on the broadest definition: a monthly series big enough for an XmR chart."""
    return sections.ProfileContext.load(CSP, "demo", "most_serious_violence", "2025-03-31")


@pytest.mark.parametrize("which", ["ctx", "big"])
def test_csp_chart_follows_the_rule(which, request, shown):
    from svtools.publish.sections.monthly import spc_plan_for

    ctx = request.getfixturevalue(which)
    fam = tables.series_cube(ctx.dataset, ctx.force_code, ctx.definition.name, ctx.period_start, ctx.period_end)
    plan = spc_plan_for(fam, CSP)
    res = sections.monthly_spc(ctx)
    if plan is None or plan.kind == "none":
        assert res.data is None
        return
    assert res.values["plan"] == plan.kind
    if plan.kind == "xmr":
        assert res.values["resolution"] == plan.resolution and res.values["points"] == plan.points
        assert res.values["mean"] == pytest.approx(plan.mean_per_point)
        assert plan.mean_per_point >= 10 and plan.points >= 12
    check_published(res, page_dir())


def test_force_table_uses_the_same_rule(force_ctx, shown):
    from svtools.publish.sections.monthly import spc_plan_for

    fam = tables.series_cube(force_ctx.dataset, force_ctx.force_code, force_ctx.definition.name,
                             force_ctx.period_start, force_ctx.period_end)
    res = sections.special_cause_by_csp(force_ctx)
    table = res.table.set_index("CSP")
    for code in force_ctx.csp_codes:
        plan = spc_plan_for(fam, code)
        row = table.loc[force_ctx.csp_name(code)]
        charted = not str(row["Special cause in the latest points"]).startswith("no SPC chart")
        assert charted == (plan is not None and plan.kind == "xmr"), code
        if charted:
            assert row["SPC points"] == plan.resolution and float(row["Mean per point"]) >= 10
    assert res.values["charted"] == sum(
        1 for c in force_ctx.csp_codes if (p := spc_plan_for(fam, c)) is not None and p.kind == "xmr")
    check_published(res, page_dir())


def test_rolling_section_has_no_limits(big, shown, monkeypatch):
    """A CSP whose rule gives rolling totals: a line chart with no process limits and a sentence saying why."""
    from svtools.analysis.stats.spc import SPCPlan
    from svtools.publish.sections import monthly as mod

    ctx = big
    fam = tables.series_cube(ctx.dataset, ctx.force_code, ctx.definition.name, ctx.period_start, ctx.period_end)
    real = mod.spc_plan_for(fam, CSP)
    assert real.kind == "xmr" and real.resolution == fam.resolution[CSP] == "month"
    roll = rolling_totals(real.values, "month")
    monkeypatch.setattr(mod, "spc_plan_for", lambda f, c: SPCPlan("rolling", "rolling_12_months", roll,
                                                                    "test reason", len(roll), roll.mean()))
    res = sections.monthly_spc(ctx)
    assert res.values["plan"] == "rolling" and "cannot be judged with process limits" in res.message
    assert "no process limits" in res.alt
    check_published(res, page_dir())


# --------------------------------------------------------------------------- negative lower limits
def test_a_negative_lower_limit_is_drawn_as_calculated():
    from svtools.publish import charts
    from svtools.publish.sections.monthly import _lower_limit_note

    y = pd.Series([10, 2, 15, 3, 12, 1, 14, 4, 11, 2, 16, 3, 12, 5], dtype=float,
                  index=pd.date_range("2020-04-01", periods=14, freq="QS-APR"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = spc(y)
    assert (s["lower_limit"] < 0).all()  # as calculated by the NHSRplotthedots method
    from svtools.publish.disclosure import _mark

    data = _mark(pd.DataFrame({"month": s["date"], "value": s["value"], "mean": s["mean"],
                               "lower": s["lower_limit"], "upper": s["upper_limit"],
                               "variation": s["special_cause"]}), "test")
    fig = charts.spc_chart(data, title="Negative limit")
    ax = fig.axes[0]
    assert ax.get_ylim()[0] < s["lower_limit"].min()  # the axis shows the limit, not clipped at 0
    drawn = [line.get_ydata() for line in ax.get_lines()]
    assert any(np.allclose(np.asarray(d, dtype=float), s["lower_limit"].to_numpy()) for d in drawn)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("Below 0" in t for t in labels)
    note = _lower_limit_note(float(s["lower_limit"].iloc[-1]), "quarter")
    assert "drawn as calculated" in note and "cannot be a signal" in note
    assert _lower_limit_note(3.0, "month") == ""
