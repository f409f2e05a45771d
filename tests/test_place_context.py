"""The place context section: domestic-abuse split, location types and the night-time economy (NTE)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from section_helpers import check_published, page_dir, texts

from svtools.analysis.place import (
    DOMESTIC,
    FLAG_NOT_RECORDED,
    NOT_DOMESTIC,
    domestic_label,
    in_windows,
    nte_rule,
    share_against_expected,
    week_hour,
)
from svtools.publish import tables
from svtools.publish.sections.place_context import ALL_NTE, CENTRE_NTE, nte_cube, place_context

RULE = {"night_time_economy": {"windows": [{"from": ["Friday", 21], "to": ["Saturday", 6]},
                                           {"from": ["Saturday", 21], "to": ["Sunday", 6]}],
                               "busiest_neighbourhoods": 10}}


@pytest.fixture(scope="module")
def wide(demo_data):
    """The demo CSP under a broader definition (most serious violence): enough offences that the split and
    the NTE cells are visible in the small test dataset."""
    from section_helpers import CSP

    from svtools.publish import sections

    return sections.ProfileContext.load(CSP, "demo", "most_serious_violence", "2025-03-31")


def _same(published, truth):
    """A published count is the records' truth, or hidden (None)."""
    assert published is None or published == int(truth)


# --------------------------------------------------------------------------- the window arithmetic
def test_nte_window_boundaries():
    rule = nte_rule(RULE, hour_block=3)
    assert rule.hours == 18 and rule.expected_share == pytest.approx(18 / 168)
    # 2024-03-01 is a Friday
    stamps = {
        "2024-03-01 20:59": False,  # Friday before 21:00
        "2024-03-01 21:00": True,   # the window opens
        "2024-03-02 05:59": True,   # Saturday early morning, still inside
        "2024-03-02 06:00": False,  # the end is exclusive
        "2024-03-02 20:30": False,  # Saturday evening before the second window
        "2024-03-02 21:00": True,
        "2024-03-03 05:00": True,   # Sunday early morning
        "2024-03-03 06:00": False,
        "2024-03-03 23:00": False,  # Sunday night is not in the rule
        "2024-02-29 23:00": False,  # Thursday night
    }
    rec = pd.DataFrame({"occurred_at": pd.to_datetime(list(stamps)),
                        "occurred_hour": [pd.Timestamp(s).hour for s in stamps]})
    got = in_windows(week_hour(rec), rule.windows)
    assert got.tolist() == list(stamps.values())
    assert week_hour(rec).iloc[1] == 4 * 24 + 21


def test_nte_date_alone_is_never_an_hour():
    # dates without times (every value at midnight, no hour column): no hour, so neither inside nor outside
    rec = pd.DataFrame({"occurred_at": pd.to_datetime(["2024-03-02", "2024-03-09"])})
    assert week_hour(rec).isna().all()
    assert in_windows(week_hour(rec), nte_rule(RULE).windows).isna().all()
    # a recorded hour NA on a timed dataset is unknown too, even at a midnight that looks like Saturday 00:00
    rec = pd.DataFrame({"occurred_at": pd.to_datetime(["2024-03-02 00:00", "2024-03-02 01:00"]),
                        "occurred_hour": pd.array([pd.NA, 1], dtype="Int64")})
    assert in_windows(week_hour(rec), nte_rule(RULE).windows).tolist()[1] is True
    assert pd.isna(in_windows(week_hour(rec), nte_rule(RULE).windows).iloc[0])


def test_nte_window_over_sunday_midnight_and_bad_rules():
    rule = nte_rule({"night_time_economy": {"windows": [{"from": ["Sunday", 21], "to": ["Monday", 3]}],
                                            "busiest_neighbourhoods": 5}}, hour_block=3)
    assert rule.hours == 6
    assert in_windows(pd.Series([6 * 24 + 21, 167, 0, 2, 3, 6 * 24 + 20]), rule.windows).tolist() == \
        [True, True, True, True, False, False]
    with pytest.raises(ValueError, match="multiple of 3"):
        nte_rule({"night_time_economy": {"windows": [{"from": ["Friday", 20], "to": ["Saturday", 6]}],
                                         "busiest_neighbourhoods": 10}}, hour_block=3)
    with pytest.raises(ValueError, match="not a day"):
        nte_rule({"night_time_economy": {"windows": [{"from": ["Fryday", 21], "to": ["Saturday", 6]}],
                                         "busiest_neighbourhoods": 10}})
    with pytest.raises(ValueError, match="busiest_neighbourhoods"):
        nte_rule({"night_time_economy": {"windows": RULE["night_time_economy"]["windows"],
                                         "busiest_neighbourhoods": 11}})
    with pytest.raises(ValueError, match="overlap"):
        nte_rule({"night_time_economy": {"windows": RULE["night_time_economy"]["windows"] * 2,
                                         "busiest_neighbourhoods": 10}})
    # the shipped rule is valid on the shipped hour block
    from svtools.publish import disclosure

    assert nte_rule(hour_block=int(disclosure.rules()["when"]["hour_block"])).hours == 18


# --------------------------------------------------------------------------- the split and the claim words
def test_domestic_label_keeps_unknown_apart():
    rec = pd.DataFrame({"domestic_flag": pd.array([True, False, pd.NA, False, pd.NA], dtype="boolean")})
    lab = domestic_label(rec)
    assert lab.tolist() == [DOMESTIC, NOT_DOMESTIC, FLAG_NOT_RECORDED, NOT_DOMESTIC, FLAG_NOT_RECORDED]
    assert (domestic_label(pd.DataFrame(index=range(3))) == FLAG_NOT_RECORDED).all()


def test_share_words_need_the_interval_to_exclude_the_even_share():
    even = 18 / 168
    assert share_against_expected(12, 100, even)["words"] == "no clear difference from"  # 12%, CI includes 10.7%
    hi = share_against_expected(300, 1000, even)
    assert hi["words"] == "higher than" and hi["lower"] > even
    lo = share_against_expected(20, 1000, even)
    assert lo["words"] == "lower than" and lo["upper"] < even
    assert share_against_expected(0, 0, even)["share"] is None


def test_section_on_partly_recorded_flags(wide, shown):
    """A CSP whose flags are partly blank: shares of offences with the flag recorded, blanks never 'not
    domestic', and the sentence says the share unknown."""
    ctx = wide
    res = place_context(ctx)
    d = res.values["domestic"]
    truth = domestic_label(ctx.in_definition).value_counts()
    assert res.values["domestic_status"] == "partial"
    assert d["not_domestic"] == truth[NOT_DOMESTIC]                      # blanks are not counted as not domestic
    assert d["not_recorded"] == truth[FLAG_NOT_RECORDED] > 0
    assert d["recorded"] == truth[DOMESTIC] + truth[NOT_DOMESTIC]
    words = " ".join(texts(shown))
    assert "with the domestic-abuse flag recorded" in words
    share = f"{100 * d['domestic'] / d['recorded']:.0f}% were flagged as domestic abuse"
    assert share in words
    assert f"The flag is not recorded for {d['not_recorded']:,} offences" in words


# --------------------------------------------------------------------------- the section on the demo data
@pytest.mark.parametrize("which", ["ctx", "wide"])
def test_section_on_demo(which, request, shown):
    ctx = request.getfixturevalue(which)
    res = place_context(ctx)
    assert res.available
    check_published(res, page_dir())
    for stem in ("domestic_abuse", "location_type", "night_time_economy"):
        frame = pd.read_csv(page_dir() / f"{stem}.csv", dtype=str, keep_default_na=False)
        for col in frame.columns:  # no count of 1 to 4 anywhere in a count column
            if col in ("Offences",):
                vals = pd.to_numeric(frame[col].str.replace(",", ""), errors="coerce")
                assert not vals.between(1, 4).any(), stem
    # location types: every visible cell is the true count, blanks counted in their own row
    loc = res.values["location"]
    truth = ctx.in_definition["location_type"].fillna("Not recorded").value_counts()
    for place, n in loc.items():
        if place != tables.TOTAL:
            _same(n, truth[place])
    assert loc[tables.TOTAL] == len(ctx.in_definition)
    # the NTE: published counts are the records' truth, shares of the published counts, words from the CI
    nte = res.values["nte"]
    rule = nte_rule(hour_block=3)
    rec = ctx.in_definition
    inside = in_windows(week_hour(rec), rule.windows)
    centre = rec["lsoa_code"].astype(str).isin(nte["busiest"])
    assert len(nte["busiest"]) == rule.busiest_neighbourhoods
    _same(nte["area_nte"], (inside == True).sum())  # noqa: E712
    _same(nte["area_known"], inside.notna().sum())
    _same(nte["time_not_recorded"], inside.isna().sum())
    if which == "wide":  # large enough that every NTE cell is visible
        assert None not in (nte["centre_nte"], nte["centre_known"], nte["area_nte"], nte["area_known"])
    if nte["centre_nte"] is not None and nte["centre_known"] is not None:
        assert nte["centre_nte"] == int(((inside == True) & centre).sum())  # noqa: E712
        assert nte["centre_known"] == int((inside.notna() & centre).sum())
        c = nte["centre"]
        assert c["share"] == pytest.approx(nte["centre_nte"] / nte["centre_known"])
        words = " ".join(texts(shown))
        if c["lower"] <= rule.expected_share <= c["upper"]:
            assert "no clear difference" in words
        assert ("higher than the" in words) == (c["lower"] > rule.expected_share)
    # the hotspots' busiest ten are the NTE's neighbourhoods
    _, top = tables.lsoa_cube(ctx, top_n=10)
    assert nte["busiest"] == top[ctx.code][: rule.busiest_neighbourhoods]


@pytest.mark.parametrize("which", ["ctx", "wide"])
def test_nte_family_mirrors_the_day_time_table(which, request):
    """Every cell the day-and-time table publishes has the same value (or is hidden) in the NTE family, so the
    new cells were protected against that table's relations."""
    from svtools.publish.sections.profile_place_people import DAY_TIME

    ctx = request.getfixturevalue(which)
    fam, _, nte_cells = nte_cube(ctx)
    dt = tables.breakdown_cube(ctx, DAY_TIME)
    codes = set(fam.cube.dim("area_code").base)
    for (a, k), v in dt.values.items():
        if a in codes:
            assert fam.values[(a, f"all|{k}")] == v
    assert len(nte_cells) == 6
    for a in codes:
        if (a, ALL_NTE) in fam.values and all(dt.values.get((a, x)) is not None for x in nte_cells):
            assert fam.values[(a, ALL_NTE)] == sum(dt.values[(a, x)] for x in nte_cells)
        if (a, CENTRE_NTE) in fam.values and fam.values[(a, CENTRE_NTE)] is not None:
            assert not 1 <= fam.values[(a, CENTRE_NTE)] <= 4


def test_section_says_what_is_not_recorded(ctx, shown):
    """No flag, no location type and dates without times: one line each, never a table of zeros."""
    rec = ctx.records.assign(domestic_flag=pd.array([pd.NA] * len(ctx.records), dtype="boolean"),
                             location_type=pd.NA, occurred_hour=pd.NA)
    bare = dataclasses.replace(ctx, records=rec)
    res = place_context(bare)
    assert not res.available and not res.tables
    assert res.values["domestic_status"] == res.values["location_status"] == "absent"
    assert res.values["nte_status"] == "absent"
    assert "domestic-abuse flag is not recorded" in res.message
    assert "Location types are not recorded" in res.message
    assert "night-time split cannot be made" in res.message
    assert not list(page_dir().glob("*.csv")) if page_dir().is_dir() else True


def test_section_on_police_uk(police_ctx, shown):
    res = place_context(police_ctx)
    assert not res.available
    assert "domestic-abuse flag is not recorded in this dataset" in res.message
    assert "Location types are not recorded in this dataset" in res.message
    assert "night-time split cannot be made" in res.message and "never inferred from a date" in res.message
