"""Tests for svtools.analysis.stats.spc.

References: NHSRplotthedots 0.2.2 test snapshots (``tests/testthat/_snaps/ptd_spc_standard.md``: R's
``set.seed(123); rnorm(20)`` with and without outlier screening) and unit-test vectors
(``tests/testthat/test-ptd_calculate_point_type.R``); the rest are hand-built series whose expected flags
follow from the rule definitions in docs/methods.md section 2 (each test checks its own construction, e.g.
that the "close" points really lie between the 2-sigma and 3-sigma lines).
"""

from __future__ import annotations

import doctest
import importlib
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svtools.analysis.stats import spc, spc_summary
from svtools.analysis.stats.spc import _part_of_runs, _part_of_trends, _two_in_three

# the package re-exports the function spc, which shadows the submodule attribute of the same name
spc_module = importlib.import_module("svtools.analysis.stats.spc")

# R 4.x: set.seed(123); rnorm(20) (the data of NHSRplotthedots' ptd_spc_standard snapshot test)
RNORM20 = [-0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499, 0.46091621,
           -1.26506123, -0.68685285, -0.44566197, 1.22408180, 0.35981383, 0.40077145, 0.11068272,
           -0.55584113, 1.78691314, 0.49785048, -1.96661716, 0.70135590, -0.47279141]
BASE = [12, 10] * 20  # 40 stable points: mean 11, every moving range 2
COLUMNS = ["date", "value", "mean", "lower_limit", "upper_limit", "near_lower", "near_upper",
           "outside_limits", "two_of_three", "run", "trend", "special_cause", "rule", "group",
           "trial_limits", "assurance"]


def quiet_spc(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return spc(*args, **kwargs)


def test_docstring_examples():
    """The Examples sections of spc.py run as printed."""
    assert doctest.testmod(spc_module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def test_columns():
    out = spc(BASE)
    assert list(out.columns) == COLUMNS
    assert out["date"].tolist() == list(range(40))
    assert out["assurance"].isna().all()


# --- limits ----------------------------------------------------------------------------------------------

def test_limits_match_nhsrplotthedots_snapshot():
    """ptd_spc_standard snapshot r1: mean 0.1416238, lpl -3.01138, upl 3.294627 (screening on)."""
    out = spc(RNORM20, dates=pd.date_range("2020-01-02", periods=20))
    assert out["mean"].iloc[0] == pytest.approx(0.1416238, abs=5e-8)
    assert out["lower_limit"].iloc[0] == pytest.approx(-3.01138, abs=5e-6)
    assert out["upper_limit"].iloc[0] == pytest.approx(3.294627, abs=5e-7)
    assert (out["special_cause"] == "common cause").all()
    # near lines: mean +/- (2/3)(2.66) AMR, i.e. 2/3 of the way to the process limits
    half = out["upper_limit"] - out["mean"]
    assert np.allclose(out["near_upper"] - out["mean"], half * 2 / 3)
    assert np.allclose(out["mean"] - out["near_lower"], half * 2 / 3)


def test_screening_changes_limits_as_in_snapshot():
    """Snapshots r2/r3: with y[15] = 10, screening gives -2.383666..3.722497; no screening -4.596625..5.935457
    (mean 0.6694159 in both: only the moving ranges are screened)."""
    y = list(RNORM20)
    y[14] = 10
    screened = spc(y)
    raw = spc(y, screen_outliers=False)
    assert screened["mean"].iloc[0] == pytest.approx(0.6694159, abs=5e-8)
    assert raw["mean"].iloc[0] == pytest.approx(0.6694159, abs=5e-8)
    assert screened["lower_limit"].iloc[0] == pytest.approx(-2.383666, abs=5e-7)
    assert screened["upper_limit"].iloc[0] == pytest.approx(3.722497, abs=5e-7)
    assert raw["lower_limit"].iloc[0] == pytest.approx(-4.596625, abs=5e-7)
    assert raw["upper_limit"].iloc[0] == pytest.approx(5.935457, abs=5e-7)
    # the jump is astronomical either way, but screening narrows the limits
    assert screened.at[14, "rule"] == raw.at[14, "rule"] == "Above UCL"


def test_limits_by_hand():
    """Mean +/- 2.66 AMR with AMR from the moving ranges (methods.md 2.1)."""
    y = np.array([5, 9, 6, 8, 7, 7, 10, 6, 8, 9, 5, 7, 8.0])
    mr = np.abs(np.diff(y))
    assert (mr < 3.267 * mr.mean()).all()  # nothing to screen
    out = spc(y)
    assert out["mean"].iloc[0] == pytest.approx(y.mean())
    assert out["upper_limit"].iloc[0] == pytest.approx(y.mean() + 2.66 * mr.mean())
    assert out["lower_limit"].iloc[0] == pytest.approx(y.mean() - 2.66 * mr.mean())
    assert out["near_upper"].iloc[0] == pytest.approx(y.mean() + 2 * 2.66 / 3 * mr.mean())


# --- rules -----------------------------------------------------------------------------------------------

def test_astronomical_point():
    y = BASE + [25.0] + [12, 10]
    out = spc(y)
    assert out.loc[40, ["outside_limits", "rule", "special_cause"]].tolist() == [True, "Above UCL", "concern"]
    assert out.loc[out.index != 40, "special_cause"].eq("common cause").all()
    low = spc(BASE + [-3.0] + [12, 10]).loc[40]
    assert (low["rule"], low["special_cause"]) == ("Below LCL", "improvement")


def test_run_of_seven_above_mean():
    """Seven consecutive points above the mean (not a trend: repeated values) are all flagged."""
    y = BASE + [11.5] * 7 + [10, 12, 10]
    out = spc(y)
    assert out["mean"].iloc[0] < 11.5
    flagged = out.index[out["run"]].tolist()
    assert flagged == list(range(40, 47))
    assert (out.loc[flagged, "rule"] == "7 Points Above CL").all()
    assert (out.loc[flagged, "special_cause"] == "concern").all()
    assert not out["trend"].any() and not out["outside_limits"].any() and not out["two_of_three"].any()


def test_six_point_run_needs_n_points_six():
    """Six points above: common cause with the package's 7, a shift with the MDC Excel option of 6."""
    y = BASE + [11.5] * 6 + [10, 12, 10]
    assert not spc(y)["run"].any()
    out = spc(y, n_points=6)
    assert out.index[out["run"]].tolist() == list(range(40, 46))
    assert (out.loc[out["run"], "rule"] == "6 Points Above CL").all()


def test_point_on_mean_breaks_a_run():
    """A point exactly on the mean is on neither side, so 3 + 0 + 3 points above is not a run of 7."""
    y = [-1.0, 1.0] * 5 + [0.5, 0.5, 0.5, 0.0, 0.5, 0.5, 0.5] + [-1, -0.5, 1, -1, -0.5, 1, -1, -1]
    out = spc(y)
    assert out["mean"].iloc[0] == 0.0  # exact: every value is a binary fraction
    assert not out["run"].any()
    assert out.loc[10:16, "run"].tolist() == [False] * 7
    # the two halves are runs of 3, which a 3-point rule would catch: the on-mean point is what breaks it
    assert spc(y, n_points=3).loc[[10, 11, 12, 14, 15, 16], "run"].all()


def test_trend_of_seven_increasing():
    """Seven strictly increasing points, crossing the mean (so not a run), flagged as a trend."""
    y = BASE + [10.2, 10.4, 10.6, 10.8, 11.0, 11.2, 11.4] + [10, 12, 10]
    out = spc(y)
    flagged = out.index[out["trend"]].tolist()
    assert flagged == list(range(39, 47))  # the 10 before 10.2 starts the rise: 8 points
    assert (out.loc[flagged, "rule"] == "7 Point Trend (Increasing)").all()
    assert (out.loc[flagged, "special_cause"] == "concern").all()
    assert not out["run"].any()


def test_trend_decreasing_is_improvement_when_lower_is_better():
    y = BASE + [11.8, 11.6, 11.4, 11.2, 11.0, 10.8, 10.6] + [12, 10, 12]
    out = spc(y)
    flagged = out.index[out["trend"]].tolist()
    assert flagged == list(range(40, 47))  # BASE ends on 10, below 11.8: the fall starts at 11.8
    assert (out.loc[flagged, "rule"] == "7 Point Trend (Decreasing)").all()
    assert (out.loc[flagged, "special_cause"] == "improvement").all()


def test_repeated_value_breaks_a_trend():
    y = BASE + [10.2, 10.4, 10.6, 10.6, 10.8, 11.0, 11.2] + [10, 12, 10]
    assert not spc(y)["trend"].any()


def test_trend_peak_takes_the_direction_of_the_next_step():
    """Package quirk (ptd_special_cause_type): a point in both a rising and a falling trend is labelled by the
    step to the next point, so the peak is 'Decreasing'."""
    y = [0, 6] * 6 + [1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2, 1] + [0, 6]
    out = spc(y)
    assert out.loc[12:24, "trend"].all()
    assert (out.loc[12:17, "rule"] == "7 Point Trend (Increasing)").all()
    assert out.at[18, "rule"] == "7 Point Trend (Decreasing)"  # the peak
    assert (out.loc[19:25, "rule"] == "7 Point Trend (Decreasing)").all()


def test_two_of_three_near_the_limit():
    """Two of three points between 2 and 3 sigma, all three above the mean: only the two close points flag."""
    y = BASE + [15.6, 11.5, 15.8] + [12, 10]
    out = spc(y)
    near, upl, mean = out["near_upper"].iloc[0], out["upper_limit"].iloc[0], out["mean"].iloc[0]
    assert near < 15.6 < upl and near < 15.8 < upl and 11.5 > mean  # construction check
    assert out.index[out["two_of_three"]].tolist() == [40, 42]
    assert (out.loc[[40, 42], "rule"] == "2 in 3 Above CL").all()
    assert out.at[41, "special_cause"] == "common cause"


def test_two_of_three_needs_all_three_on_one_side():
    """NHSRplotthedots test: close points on opposite sides of the mean are common cause."""
    y = [1, -1] * 8
    y[14], y[15] = 5.5, -5.5
    out = spc(y)
    assert out["special_cause"].tail(2).tolist() == ["common cause", "common cause"]
    # and with the middle point of a window below the mean
    y2 = BASE + [15.6, 10.5, 15.8] + [12, 10]
    assert not spc(y2)["two_of_three"].any()


def test_two_of_three_mdc2023_counts_points_beyond_the_limits():
    """MDC 2023 rule: a point beyond the process limit counts towards 2-of-3; the package rule does not."""
    y = BASE + [18.0, 11.5, 15.8] + [12, 10]
    ptd = spc(y)
    mdc = spc(y, two_of_three_rule="mdc2023")
    assert ptd.at[40, "outside_limits"] and ptd["near_upper"].iloc[0] < 15.8 < ptd["upper_limit"].iloc[0]
    assert not ptd["two_of_three"].any()
    assert ptd.at[42, "rule"] == "Common Cause"
    assert mdc.at[42, "two_of_three"] and mdc.at[42, "rule"] == "2 in 3 Above CL"
    assert mdc.at[40, "rule"] == "Above UCL"  # astronomical still wins for the outside point


def test_precedence_astronomical_over_run():
    y = BASE + [11.6, 11.7, 19.0, 11.9, 11.6, 11.7, 11.8] + [10, 12]
    out = spc(y)
    assert out.loc[40:46, "run"].all()
    assert out.at[42, "outside_limits"] and out.at[42, "rule"] == "Above UCL"
    assert out.at[41, "rule"] == "7 Points Above CL"


def test_precedence_trend_over_run():
    y = BASE + [11.4, 11.5, 11.6, 11.7, 11.8, 11.9, 12.0] + [10, 12]
    out = spc(y)
    assert out.loc[40:46, "run"].all() and out.loc[40:46, "trend"].all()
    assert (out.loc[40:46, "rule"] == "7 Point Trend (Increasing)").all()


def test_precedence_two_of_three_over_run():
    y = BASE + [11.6, 11.7, 15.8, 11.9, 15.9, 12.1, 12.2] + [10, 12]
    out = spc(y)
    assert out.loc[40:46, "run"].all()
    assert out.loc[[42, 44], "rule"].eq("2 in 3 Above CL").all()
    assert out.loc[[40, 41, 43, 45, 46], "rule"].eq("7 Points Above CL").all()


def test_rule_helpers_match_package_unit_tests():
    """Vectors from NHSRplotthedots tests/testthat/test-ptd_calculate_point_type.R."""
    # ptd_seven_point_one_side_mean + part_of: c(rep(1, 8), -1) -> first 8 points
    assert _part_of_runs(np.array([1.0] * 8 + [-1]), 7).tolist() == [True] * 8 + [False]
    assert not _part_of_runs(np.array([1.0] * 6 + [-1]), 7).any()
    # ptd_seven_point_trend(c(2, 1:7, 3)) -> points 2..8 (1-based)
    steps = np.sign(np.diff([2, 1, 2, 3, 4, 5, 6, 7, 3.0]))
    assert _part_of_trends(steps, 7).tolist() == [False] + [True] * 7 + [False]
    assert not _part_of_trends(np.sign(np.diff([1, 2, 3, 3, 4, 5, 6.0])), 7).any()
    ones = np.ones(7)
    # ptd_part_of_two_in_three(ptd_two_in_three(fv, 1s), fv) == fv, and the hv / iv cases
    fv = np.array([0, 0, 1, 0, 1, 0, 0], bool)
    assert _two_in_three(fv, ones).tolist() == fv.tolist()
    assert not _two_in_three(np.array([1, 0, 0, 1], bool), np.ones(4)).any()
    assert _two_in_three(np.array([1, 0, 0, 1, 1], bool), np.ones(5)).tolist() == [False] * 3 + [True] * 2
    assert not _two_in_three(np.array([1, 0, 1], bool), np.array([1, -1, 1.0])).any()


# --- direction, target, summary --------------------------------------------------------------------------

@pytest.mark.parametrize("improvement, expected", [("decrease", "concern"), ("increase", "improvement"),
                                                   ("neutral", "neutral")])
def test_improvement_direction(improvement, expected):
    y = BASE + [11.5] * 7 + [10, 12, 10]
    out = spc(y, improvement=improvement)
    assert (out.loc[out["run"], "special_cause"] == expected).all()


@pytest.mark.parametrize("improvement, target, expected", [
    ("decrease", 30, "consistent pass"), ("decrease", 0, "consistent fail"), ("decrease", 11, "inconsistent"),
    ("increase", 30, "consistent fail"), ("increase", 0, "consistent pass"), ("increase", 11, "inconsistent"),
    ("neutral", 30, None),
])
def test_assurance(improvement, target, expected):
    """ptd_calculate_assurance_type: target vs the last point's process limits."""
    out = spc(BASE, improvement=improvement, target=target)
    if expected is None:
        assert out["assurance"].isna().all()
    else:
        assert (out["assurance"] == expected).all()
        assert spc_summary(out)["assurance"] == expected


def test_assurance_only_on_last_group():
    y = [10, 12] * 8 + [20, 22] * 8
    out = spc(y, rebase_at=[16], target=30)
    assert out.loc[out["group"] == 0, "assurance"].isna().all()
    assert (out.loc[out["group"] == 1, "assurance"] == "consistent pass").all()


def test_spc_summary():
    y = BASE + [25.0]
    s = spc_summary(spc(y))
    assert s["variation"] == "concern" and s["variation_icon"] == "concern (high)"
    assert s["rule"] == "Above UCL"
    assert s["assurance"] is None
    assert s["date"] == 40 and isinstance(s["date"], int)
    assert s["n_points"] == 41 and s["concern_points"] == 1 and s["improvement_points"] == 0
    common = spc_summary(spc(BASE))
    assert common["variation"] == common["variation_icon"] == "common cause"
    with pytest.raises(ValueError, match="spc_frame"):
        spc_summary(pd.DataFrame({"a": [1]}))


# --- groups, dates, trial limits, errors ----------------------------------------------------------------

def test_rebase_gives_each_group_its_own_limits_and_rules():
    """A step change: without a rebase the new level is a long run; rebased, each group is stable."""
    y = [10, 12, 11] * 5 + [20, 22, 21] * 5
    whole = spc(y)
    assert whole["run"].all()
    dates = pd.date_range("2021-01-01", periods=30, freq="MS")
    out = spc(y, dates=dates, rebase_at=["2022-04-01"])
    assert out["group"].tolist() == [0] * 15 + [1] * 15
    assert out.loc[out["group"] == 0, "mean"].iloc[0] == pytest.approx(11)
    assert out.loc[out["group"] == 1, "mean"].iloc[0] == pytest.approx(21)
    assert (out["special_cause"] == "common cause").all()
    assert out["date"].iloc[15] == pd.Timestamp("2022-04-01")


def test_runs_do_not_cross_a_rebase():
    y = [10, 12] * 8 + [11.5] * 4 + [11.5] * 4 + [10, 12] * 6
    out = spc(y, rebase_at=[20])
    assert not out["run"].any()  # 4 + 4 points, split by the rebase
    assert spc(y)["run"].sum() >= 8


def test_fix_after_n_points():
    """Limits from the first n points only, applied to the whole group."""
    rng = np.random.default_rng(1)
    y = rng.normal(50, 3, 24)
    fixed = quiet_spc(y, fix_after_n_points=12)
    base = y[:12]
    amr = np.abs(np.diff(base)).mean()
    assert fixed["mean"].iloc[-1] == pytest.approx(base.mean())
    assert fixed["upper_limit"].iloc[-1] == pytest.approx(base.mean() + 2.66 * amr)
    assert fixed["mean"].iloc[0] != pytest.approx(spc(y)["mean"].iloc[0])
    with pytest.raises(ValueError, match="fix_after_n_points"):
        spc(y, fix_after_n_points=11)


def test_short_series_warns_and_marks_trial_limits():
    with pytest.warns(UserWarning, match="fewer than 12"):
        out = spc([3, 5, 4, 6, 5])
    assert out["trial_limits"].all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out12 = spc(list(range(6)) + list(range(6)))
    assert not out12["trial_limits"].any()


def test_short_rebased_group_is_trial():
    with pytest.warns(UserWarning):
        out = spc([10, 12] * 8 + [20, 22, 21], rebase_at=[16])
    assert out["trial_limits"].tolist() == [False] * 16 + [True] * 3


@pytest.mark.parametrize("values", [[], [5.0]])
def test_too_few_points(values):
    with pytest.raises(ValueError, match="at least 2 points"):
        spc(values)


def test_dates_are_sorted_and_series_index_used():
    later = [f"2024-{m:02d}-01" for m in range(4, 13)]
    dates = pd.to_datetime(["2024-03-01", "2024-01-01", "2024-02-01"] + later)
    y = list(range(12))
    out = spc(y, dates=dates)
    assert out["date"].is_monotonic_increasing
    assert out["value"].tolist()[:3] == [1, 2, 0]
    s = pd.Series(y, index=pd.period_range("2024-01", periods=12, freq="M"))
    assert spc(s)["date"].tolist() == list(s.index)


@pytest.mark.parametrize("kwargs, match", [
    ({"values": [1, np.nan] * 7}, "missing"),
    ({"values": list(range(12)), "dates": ["2024-01-01"] * 12}, "unique"),
    ({"values": list(range(12)), "dates": pd.date_range("2024-01-01", periods=11)}, "dates"),
    ({"values": list(range(12)), "rebase_at": [99]}, "rebase_at"),
    ({"values": list(range(12)), "dates": pd.date_range("2024-01-01", periods=12, freq="MS"),
      "rebase_at": ["2024-02-15"]}, "rebase_at"),
    ({"values": list(range(12)), "improvement": "up"}, "improvement"),
    ({"values": list(range(12)), "two_of_three_rule": "new"}, "two_of_three_rule"),
    ({"values": list(range(12)), "n_points": 2}, "n_points"),
    ({"values": ["a", "b"]}, "numeric"),
])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        quiet_spc(**kwargs)


@settings(max_examples=60, deadline=None)
@given(y=st.lists(st.integers(0, 60), min_size=12, max_size=40), n_points=st.sampled_from([6, 7]),
       rule=st.sampled_from(["ptd", "mdc2023"]), screen=st.booleans())
def test_labels_consistent_with_flags(y, n_points, rule, screen):
    """Property: the rule label is the highest-precedence flag set; common cause iff no flag."""
    out = spc(y, n_points=n_points, two_of_three_rule=rule, screen_outliers=screen)
    any_flag = out[["outside_limits", "two_of_three", "run", "trend"]].any(axis=1)
    assert ((out["special_cause"] == "common cause") == ~any_flag).all()
    for _, r in out.iterrows():
        if r["outside_limits"]:
            assert r["rule"] in ("Above UCL", "Below LCL")
        elif r["trend"]:
            assert r["rule"].startswith(f"{n_points} Point Trend")
        elif r["two_of_three"]:
            assert r["rule"].startswith("2 in 3")
        elif r["run"]:
            assert r["rule"].startswith(f"{n_points} Points")
        else:
            assert r["rule"] == "Common Cause"
    spread = out["upper_limit"] - out["mean"]
    assert np.allclose(spread, out["mean"] - out["lower_limit"], equal_nan=True)
