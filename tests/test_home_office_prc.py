"""The Home Office police recorded crime tables: explicit parsing, excluded bodies, force codes, known totals, and
the force overview's national-context section built from them."""

from __future__ import annotations

import csv
import math

import pandas as pd
import pytest

from svtools.errors import DataValidationError
from svtools.ingest import home_office_prc as ho
from svtools.paths import real_data_dir


# --------------------------------------------------------------------------- parse_counts
def test_parse_counts_excel_text_and_placeholder():
    raw = pd.Series([" 66776 ", "-00", " 2 ", "9.0", "-1", "-45", "0"])
    got = ho.parse_counts(raw, file="f.csv", column="Number of Offences")
    assert got.dtype == "int64"
    assert got.tolist() == [66776, 0, 2, 9, -1, -45, 0]


@pytest.mark.parametrize("bad", ["1,234", "", "n/a", "12.5", "- 3", "1e3", "x12"])
def test_parse_counts_refuses_anything_else(bad):
    raw = pd.Series([" 5 ", bad, "-00"])
    with pytest.raises(DataValidationError) as err:
        ho.parse_counts(raw, file="prc.csv", column="Number of Offences")
    msg = str(err.value)
    assert "prc.csv" in msg and "Number of Offences" in msg
    assert "row 2" in msg and repr(bad) in msg        # the example row and its raw text


def test_parse_counts_fractions_only_when_allowed():
    raw = pd.Series(["26033.387592678326", "3.0"])
    with pytest.raises(DataValidationError):
        ho.parse_counts(raw, file="f", column="c")
    got = ho.parse_counts(raw, file="f", column="c", integer=False)
    assert got.tolist() == pytest.approx([26033.387592678326, 3.0])


def test_force_names_map_to_pfa_codes_and_unknown_is_an_error():
    got = ho.pfa_code_of(pd.Series(["Avon & Somerset", "Avon and Somerset", "London, City of", "City of London",
                                    "Devon and Cornwall", "Cleveland"]))
    assert got["pfa_code"].tolist() == ["E23000036", "E23000036", "E23000034", "E23000034", "E23000035",
                                        "E23000013"]
    with pytest.raises(DataValidationError) as err:
        ho.pfa_code_of(pd.Series(["Cleveland", "Gotham"]), file="x.csv", column="Force Name")
    assert "Gotham" in str(err.value) and "x.csv" in str(err.value)


def test_a_bad_count_in_a_file_names_file_column_and_row(tmp_path, monkeypatch):
    real = real_data_dir()
    fake = tmp_path / "real"
    (fake / "home_office_prc").mkdir(parents=True)
    (fake / "lookups").symlink_to(real / "lookups")
    src = real / ho.PRC_FILES["2017/18"]
    lines = src.read_text(encoding="utf-8").splitlines()
    head, rows = lines[0], lines[1:40]
    rows[9] = rows[9].rsplit(",", 1)[0] + ",n/a"      # data row 10
    (fake / ho.PRC_FILES["2017/18"]).write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    monkeypatch.setenv("SVTOOLS_REAL_DATA", str(fake))
    ho.read_prc_quarterly.cache_clear()
    try:
        with pytest.raises(DataValidationError) as err:
            ho.read_prc_quarterly("2017/18")
    finally:
        ho.read_prc_quarterly.cache_clear()
    msg = str(err.value)
    assert "prc_pfa_2017-18" in msg and "Number of Offences" in msg and "row 10: 'n/a'" in msg


# --------------------------------------------------------------------------- the real files
def _raw_rows(relative):
    with open(real_data_dir() / relative, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _hand_int(text):
    text = text.strip()
    return 0 if text == "-00" else int(float(text))


def test_2017_18_excluded_rows_are_counted_not_dropped():
    t = ho.read_prc_quarterly("2017/18")
    ex = t.excluded.set_index("force_name")["rows"].to_dict()
    assert ex == {"Action Fraud": 4, "British Transport Police": 524, "CIFAS": 4, "Financial Fraud Action UK": 1,
                  "UK Finance": 3}
    assert t.data["pfa_code"].nunique() == 43
    # every row is accounted for: kept, excluded, or one of the 3 extra lines of the combined homicide code that
    # are summed into one row per force and quarter
    assert t.rows_read == 23_068
    assert t.rows_read == len(t.data) + sum(ex.values()) + 3 * 43 * 4
    assert "British Transport Police (524 rows)" in t.excluded_note()


def test_a_force_total_equals_a_hand_sum_of_the_file():
    """Cleveland's 2017/18 robbery and violence with injury, summed here straight from the CSV text."""
    rows = _raw_rows(ho.PRC_FILES["2017/18"])
    want_rob = sum(_hand_int(r["Number of Offences"]) for r in rows
                   if r["Force Name"] == "Cleveland" and r["Offence Group"] == "Robbery")
    want_vwi = sum(_hand_int(r["Number of Offences"]) for r in rows
                   if r["Force Name"] == "Cleveland" and r["Offence Subgroup"] == "Violence with injury")
    assert want_rob == 481                                   # also read with awk from the file
    t = ho.read_prc_quarterly("2017/18")
    g = ho.annual_force_totals(t).set_index(["pfa_code", "offence_group"])["offences"]
    s = ho.annual_force_totals(t, "offence_subgroup").set_index(["pfa_code", "offence_subgroup"])["offences"]
    assert g[("E23000013", "Robbery")] == want_rob
    assert s[("E23000013", "Violence with injury")] == want_vwi


def test_england_and_wales_totals_match_the_published_ones():
    """SOURCES.md: 2017/18 violence against the person 1,396,949, robbery 77,104, weapons 38,760 (the 43 forces
    and British Transport Police); 2019/20 homicide 715, violence with injury 537,443, weapons 46,666 (these equal
    the 43 territorial forces alone)."""
    t17 = ho.read_prc_quarterly("2017/18")
    btp = [r for r in _raw_rows(ho.PRC_FILES["2017/18"]) if r["Force Name"] == "British Transport Police"]
    g17 = ho.annual_force_totals(t17).groupby("offence_group")["offences"].sum()
    for group, want in (("Violence against the person", 1_396_949), ("Robbery", 77_104),
                        ("Possession of weapons offences", 38_760)):
        extra = sum(_hand_int(r["Number of Offences"]) for r in btp if r["Offence Group"] == group)
        assert g17[group] + extra == want
    t19 = ho.read_prc_quarterly("2019/20")
    s19 = ho.annual_force_totals(t19, "offence_subgroup").groupby("offence_subgroup")["offences"].sum()
    g19 = ho.annual_force_totals(t19).groupby("offence_group")["offences"].sum()
    assert s19["Homicide"] == 715 and s19["Violence with injury"] == 537_443
    assert g19["Possession of weapons offences"] == 46_666
    # negative quarterly adjustments are kept: dropping them would change the total
    neg = t17.data[t17.data["offences"] < 0]
    assert len(neg) and (neg["offence_group"] == "Violence against the person").any()


def test_2019_20_force_names_and_estimates():
    t = ho.read_prc_quarterly("2019/20")
    assert set(t.excluded["force_name"]) == {"Action Fraud", "British Transport Police", "CIFAS", "UK Finance"}
    # UK Finance's figures are estimates with fractions: reported as excluded, never parsed as a force's count
    uk = t.excluded.set_index("force_name").loc["UK Finance", "offences"]
    assert uk == pytest.approx(26033.387592678326 + 25923.180401552218 + 24374.62807495973 + 25658.49475448866)
    assert {"E23000036", "E23000035"} <= set(t.data["pfa_code"])          # "Avon & Somerset", "Devon & Cornwall"


def test_rolling_year_file():
    t = ho.read_rolling_year()
    d = t.data
    assert t.rows_read == 46_469 and t.rows_read == len(d) + t.excluded["rows"].sum()
    assert t.excluded.set_index("force_name")["rows"].to_dict() == {
        "Action Fraud": 31, "British Transport Police": 1054, "CIFAS": 31, "UK Finance": 31}
    assert d["pfa_code"].nunique() == 43 and d["period_end"].nunique() == 52
    assert d["period_end"].min() == pd.Timestamp("2003-03-31") and d["period_end"].max() == pd.Timestamp("2018-12-31")
    assert pd.Timestamp("2017-12-31") in set(d["period_end"])                 # the file writes 30-12-2017
    hand = [r for r in _raw_rows_gz() if r["PFA"] == "Cleveland" and r["Offence"] == "Robbery"
            and r["12 months ending"] == "31-12-2018"]
    got = d[(d["pfa_code"] == "E23000013") & (d["offence_group"] == "Robbery")
            & (d["period_end"] == pd.Timestamp("2018-12-31"))]["offences"]
    assert got.tolist() == [int(hand[0]["Rolling year total number of offences"])]


def _raw_rows_gz():
    import gzip
    import io

    with gzip.open(real_data_dir() / ho.ROLLING_FILE, "rb") as fh:
        return list(csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8")))


def test_pfa_population_and_window_rule():
    p = ho.pfa_population()
    ew = p.groupby("mid_year")["population"].sum()
    assert ew[2014] == 57_408_654 and ew[2023] == 60_854_727                 # SOURCES.md spot checks
    assert p["pfa_code"].nunique() == 43
    assert ho.window_mid_year(pd.Timestamp("2012-03-31")) == 2011
    assert ho.window_mid_year(pd.Timestamp("2014-06-30")) == 2014
    assert ho.window_mid_year(pd.Timestamp("2018-12-31")) == 2018


# --------------------------------------------------------------------------- the section
def test_national_figures_statistics():
    from svtools.analysis.stats import rate
    from svtools.publish.sections import benchmarks as b

    f, ods, tables = b.national_figures()
    assert all(t.hidden.sum().sum() == 0 for t in tables)      # force-level counts: nothing to hide
    for (fy, group), g in f.groupby(["financial_year", "offence_group"]):
        forces, ew = g[g["area_code"] != b.EW_CODE], g[g["area_code"] == b.EW_CODE].iloc[0]
        assert len(forces) == 43
        assert ew["offences"] == forces["offences"].sum() and ew["residents"] == forces["residents"].sum()
        assert ew["rate_per_1000"] == pytest.approx(1000 * ew["offences"] / ew["residents"])
        r = rate(forces["offences"].astype(float).to_numpy(), forces["residents"].to_numpy(), multiplier=1000)
        assert forces["lower_95_ci"].to_numpy() == pytest.approx(r["lower"].to_numpy())
        # the verdict is exactly "outside the drawn 95% funnel limits"
        hi = forces["rate_per_1000"] > forces["funnel_upper_95"]
        lo = forces["rate_per_1000"] < forces["funnel_lower_95"]
        assert (forces.loc[hi, "compared_with_comparator"] == "higher").all()
        assert (forces.loc[lo, "compared_with_comparator"] == "lower").all()
        assert (forces.loc[~hi & ~lo, "compared_with_comparator"] == "no clear difference").all()
        # rank 1 is the highest rate
        top = forces.loc[forces["rate_per_1000"].idxmax()]
        assert top["rank_of_43"] == 1 and forces["rank_of_43"].max() <= 43


def test_national_context_on_a_force_page(force_ctx, shown):
    from section_helpers import alts, check_published, page_dir, texts

    from svtools.publish import sections

    res = sections.national_context(force_ctx)
    assert res.available
    check_published(res, page_dir())
    table = pd.read_csv(page_dir() / "national_context.csv")
    for col in ("area_code", "area_name", "financial_year", "offences", "residents", "rate_per_1000",
                "lower_95_ci", "upper_95_ci", "comparator", "compared_with_comparator", "rank_of_43"):
        assert col in table.columns
    assert set(table["area_code"]) == {"E23000013", "K04000001"}
    charts = sorted(p.name for p in page_dir().glob("national_context_chart*.csv"))
    assert len(charts) == 3 and len(res.alts) == 3
    for name in charts:
        data = pd.read_csv(page_dir() / name)
        assert {"area_code", "area_name", "period_start", "period_end", "offences", "rate_per_1000",
                "lower_95_ci", "upper_95_ci", "comparator"} <= set(data.columns)
        # rates only where an ONS estimate is shipped for the 12 months: never a zero for "no estimate"
        early = data[data["period_end"] < "2011-06"]
        assert early["rate_per_1000"].isna().all() and early["offences"].notna().all()
    assert all("Cleveland" in a and "real Home Office figures" in a for a in alts(shown))
    words = " ".join(texts(shown))
    assert "real figures" in words and "synthetic" in words
    assert "most similar" not in words.lower()
    assert set(res.values["compared"].values()) <= {"higher", "lower", "no clear difference"}
    vwi = res.values["trend"]["violence_with_injury"]
    assert vwi["first"] == _rolling("E23000013", "violence with injury", "2003-03")


def _rolling(code, group, end):
    from svtools.publish.sections import benchmarks as b

    r, _ = b.rolling_figures()
    v = r[(r["area_code"] == code) & (r["offence_group"] == group) & (r["period_end"] == end)]["offences"]
    return int(v.iloc[0])


def test_national_context_rates_in_the_trend_csv_are_right():
    from svtools.publish.sections import benchmarks as b

    r, _ = b.rolling_figures()
    row = r[(r["area_code"] == "E23000013") & (r["offence_group"] == "robbery") & (r["period_end"] == "2018-12")]
    pop = ho.pfa_population().set_index(["pfa_code", "mid_year"])["population"][("E23000013", 2018)]
    assert row["residents"].iloc[0] == pop
    assert row["rate_per_1000"].iloc[0] == pytest.approx(1000 * 581 / pop)
    assert not math.isnan(row["upper_95_ci"].iloc[0])


# --------------------------------------------------------------------------- the London pages (count tables)
@pytest.fixture(scope="module")
def london(svtools_dirs):
    """The real London borough counts ingested as ``london_mps`` (as tests/test_london_pages.py does)."""
    from svtools.cli import main
    from svtools.ingest.store import list_datasets

    src = real_data_dir() / "london_mps"
    if not src.is_dir():
        pytest.skip(f"{src} not present")
    if "london_mps" not in list_datasets():
        assert main(["ingest", "--dataset", "london_mps", "--extract", str(src), "--mapping", "london_mps"]) == 0
    return "london_mps"


def test_benchmarks_on_the_london_pages(london, shown):
    from section_helpers import check_published, page_dir, texts

    from svtools.analysis import similar
    from svtools.publish import sections

    force = sections.CountsContext.load_force("E23000001", london, "london_serious_violence")
    res = sections.national_context(force)
    assert res.available and res.values["force"] == "Metropolitan Police"
    check_published(res, page_dir())
    table = pd.read_csv(page_dir() / "national_context.csv")
    assert set(table["area_code"]) == {"E23000001", "K04000001"}
    words = " ".join(texts(shown))
    assert "real figures" in words and "synthetic" not in words     # the London series are real too

    borough = sections.CountsContext.load("E22000192", london, "london_serious_violence")   # Westminster
    res = sections.most_similar_csps(borough)
    assert res.available
    near = similar.most_similar("E22000192", dataset=london)
    london_codes = set(similar.csp_features(london).query("in_dataset").index)
    assert len(london_codes) == 32
    assert (near["in_dataset"] == near["csp_code"].isin(london_codes)).all()
    assert res.values["neighbours"] == near["csp_code"].tolist()
