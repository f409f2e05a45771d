"""The words of every comparison follow its interval (issue 9): "higher" or "lower" only when the 95% interval
excludes 1, otherwise "no clear change"; a ratio is published only when both counts are.

Unit tests of :func:`svtools.analysis.stats.interval_words` and the section helpers, then the CSP profile's
headline, financial years, success measures and hospital admissions on the shared small demo dataset.
The measured cases of the issue are used as examples: Eden 16 -> 23 offences ("+43.8%": rate ratio CI 0.73 to
2.91), Hartlepool under 25 11 -> 9 ("-18.2%", p = 0.82), homicides 5 -> 6 ("+20.0%").
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from svtools.analysis.stats import change_words, format_ratio, interval_words, rate_ratio
from svtools.publish import sections
from svtools.publish.sections.profile_volume import (
    RATIO_COLUMN,
    baseline_comparison,
    change_phrase,
)

from section_helpers import check_published, page_dir  # noqa: E402

MARKER = "*"


# --------------------------------------------------------------------------- the one rule
@pytest.mark.parametrize("lo, hi, ref, words", [
    (0.73, 2.91, 1, "no clear change"),
    (1.0, 2.0, 1, "no clear change"),      # touching the reference is not a clear change
    (0.5, 1.0, 1, "no clear change"),
    (1.01, 2.0, 1, "higher"),
    (0.2, 0.99, 1, "lower"),
    (2.2, np.inf, 1, "higher"),            # a zero baseline: only a lower limit
    (0.0, 0.69, 1, "lower"),               # a zero latest count: only an upper limit
    (-0.5, 0.4, 0, "no clear change"),     # a difference
    (12.1, 15.0, 11.4, "higher"),          # an area's rate against another area's
])
def test_interval_words(lo, hi, ref, words):
    assert interval_words(lo, hi, reference=ref) == words


def test_interval_words_missing_and_custom():
    assert interval_words(np.nan, 2.0) is None and interval_words(None, None) is None
    assert interval_words(0.5, 0.8, words=("rising", "falling", "no clear change")) == "falling"
    with pytest.raises(ValueError):
        interval_words(2.0, 1.0)


def test_change_words_and_format():
    assert change_words(0.73, 2.91, "2019/20") == "No clear change from 2019/20"
    assert change_words(1.1, 1.9, "2019/20") == "Higher than 2019/20"
    assert change_words(0.3, 0.9, "2019/20") == "Lower than 2019/20"
    assert change_words(np.nan, np.nan, "2019/20") == ""
    assert format_ratio(1.4375, 0.72711, 2.91133) == "1.44 (0.73 to 2.91)"
    assert format_ratio(np.nan, 0, 1) == ""


# --------------------------------------------------------------------------- the measured cases, before and after
@pytest.mark.parametrize("latest, baseline, words", [(23, 16, "no clear change"),   # Eden, "+43.8%"
                                                      (9, 11, "no clear change"),    # Hartlepool under 25, "-18.2%"
                                                      (6, 5, "no clear change"),     # homicides, "+20.0%"
                                                      (40, 80, "lower"), (80, 40, "higher")])
def test_measured_cases_read_as_the_interval_says(latest, baseline, words):
    cmp = baseline_comparison(latest, baseline, baseline="2019/20")
    assert cmp["words"] == words
    phrase = change_phrase(cmp, "2019/20")
    if words == "no clear change":
        assert phrase.startswith("no clear change from 2019/20 (rate ratio ")
        assert "which includes 1" in phrase
    else:
        assert phrase.startswith(f"{words} than in 2019/20 (rate ratio ")
    r = rate_ratio(latest, baseline).iloc[0]
    assert f"95% CI {r['lower']:.2f} to {r['upper']:.2f}" in phrase
    assert cmp["cell"] == format_ratio(r["ratio"], r["lower"], r["upper"])


def test_eden_like_sentence():
    cmp = baseline_comparison(23, 16, baseline="2019/20")
    assert change_phrase(cmp, "2019/20", subject="the 2024/25 rate per resident") == (
        "the 2024/25 rate per resident shows no clear change from 2019/20 (rate ratio 1.44, 95% CI 0.73 to 2.91, "
        "which includes 1: the difference could be chance)")


def test_rate_ratio_uses_the_populations():
    """Residents as person-time: 23 against 16 with 5% more residents is a smaller rate ratio than 23/16."""
    cmp = baseline_comparison(23, 16, 105_000, 100_000, baseline="2019/20")
    assert cmp["ratio"] == pytest.approx(23 / 16 / 1.05)
    r = rate_ratio(23, 16, 105_000, 100_000).iloc[0]
    assert (cmp["lower"], cmp["upper"]) == (pytest.approx(r["lower"]), pytest.approx(r["upper"]))


# --------------------------------------------------------------------------- the disclosure rule
@pytest.mark.parametrize("n, b", [(None, 16), (23, None), (MARKER, 16), (23, MARKER), (">=12", 20),
                                  ("not recorded", 5), (np.nan, 9), (pd.NA, 9)])
def test_no_ratio_unless_both_counts_are_published(n, b):
    """A ratio with its interval gives back both counts: from a hidden count it would undo the suppression."""
    cmp = baseline_comparison(n, b, baseline="2019/20")
    assert cmp["cell"] == "" and cmp["words"] is None and cmp["ratio"] is None
    assert cmp["compared"].startswith("Not given: ")
    assert not re.search(r"\d", cmp["compared"].replace("2019/20", ""))  # the reason holds no number


def test_both_zero_is_said_in_words():
    cmp = baseline_comparison(0, 0, baseline="2019/20")
    assert cmp["cell"] == "" and cmp["words"] is None and cmp["compared"] == "0 in both years"


def test_published_counts_with_separators():
    assert baseline_comparison("1,210", "1,000", baseline="2019/20")["ratio"] == pytest.approx(1.21)


# --------------------------------------------------------------------------- the CSP profile sections
def _published_int(v):
    text = str(v).replace(",", "").strip()
    return int(text) if text.isdigit() else None


def test_success_measures_keep_the_llr_layout_and_gain_the_interval(ctx, shown):
    res = sections.success_measures(ctx)
    t = res.table
    base, latest = res.values["baseline"], res.values["latest"]
    cols = list(t.columns)
    llr = [base, latest, f"Change from {base}", f"% change from {base}"]
    assert cols[3:7] == llr and cols[7:] == [RATIO_COLUMN, f"Compared with {base}"]
    pops = sections.profile_volume._cohort_populations(ctx, [latest, base])
    for _, row in t.iterrows():
        b, n = _published_int(row[base]), _published_int(row[latest])
        if b is None or n is None:
            # a hidden or unknown count: no change, no ratio, the reason in words
            assert row[RATIO_COLUMN] == "" and row[f"% change from {base}"] in ("", None)
            assert row[f"Compared with {base}"].startswith("Not given")
            continue
        if b == 0 and n == 0:
            assert row[f"Compared with {base}"] == "0 in both years"
            continue
        p = pops.get(row["Cohort"], (1.0, 1.0))
        r = rate_ratio(n, b, *p).iloc[0]
        assert row[RATIO_COLUMN] == format_ratio(r["ratio"], r["lower"], r["upper"])
        assert row[f"Compared with {base}"].startswith(change_words(r["lower"], r["upper"], base))
    csv = pd.read_csv(page_dir() / "success_measures.csv", dtype=str, keep_default_na=False)
    assert RATIO_COLUMN in csv.columns and f"Compared with {base}" in csv.columns
    check_published(res, page_dir())
    # the sentence says what the interval says
    k = t[(t["Source"] == "Police") & (t["Cohort"] == "All ages")].iloc[0]
    words = k[f"Compared with {base}"]
    if words.startswith("No clear change"):
        assert "no clear change" in res.message and "which includes 1" in res.message
    elif words.startswith(("Higher", "Lower")):
        assert words.split()[0].lower() + " than in " + base in res.message


def test_headline_follows_the_interval(ctx, shown):
    res = sections.headline(ctx)
    cmp = res.values.get("baseline_comparison")
    assert cmp is not None
    if cmp["words"] is None:
        assert "rate ratio" not in res.message
    elif cmp["words"] == "no clear change":
        assert "shows no clear change from 2019/20" in res.message
    else:
        assert f"is {cmp['words']} than in 2019/20 (rate ratio" in res.message
    assert not re.search(r"[+-]\d+(\.\d)?%", res.message)  # no bare % change in the headline


def test_financial_years_compare_each_year_with_the_baseline(ctx, shown):
    res = sections.financial_years(ctx)
    csv = pd.read_csv(res.csv, dtype=str, keep_default_na=False).set_index("Financial year")
    ratio_col, words_col = "Rate ratio against 2019/20 (95% CI)", "Compared with 2019/20"
    assert ratio_col in csv.columns and words_col in csv.columns
    assert csv.loc["2019/20", ratio_col] == "baseline year"
    b = _published_int(csv.loc["2019/20", "Offences"])
    for year, row in csv.drop(index="2019/20").iterrows():
        n = _published_int(row["Offences"])
        if n is None or b is None:
            assert row[ratio_col] == "" and row[words_col].startswith("Not given")
        elif n or b:
            cmp = res.values["comparisons"][year]
            assert row[ratio_col] == cmp["cell"] != ""
            assert row[words_col] == change_words(cmp["lower"], cmp["upper"], "2019/20")


def test_hospital_ratios_only_from_complete_totals(ctx, shown):
    res = sections.hospital_admissions(ctx)
    if not res.available:
        pytest.skip("no admissions in the small dataset")
    t = res.table.set_index("Financial year")
    if "All ages: rate ratio against 2019/20 (95% CI)" not in t.columns:
        pytest.skip("no 2019/20 admissions in the small dataset")
    for col in ("All ages", "Under 25"):
        ratio = t[f"{col}: rate ratio against 2019/20 (95% CI)"]
        for year, v in ratio.items():
            if year == "2019/20":
                assert v == "baseline year"
            elif v:
                # a ratio only between two complete (not lower-bound) totals
                assert _published_int(t.loc[year, col]) is not None
                assert _published_int(t.loc["2019/20", col]) is not None
            if " to " in str(t.loc[year, col]):  # a range: the total holds a cell suppressed at source
                assert v == ""
