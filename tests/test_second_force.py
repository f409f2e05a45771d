"""A second force's Niche-style export, onboarded by a mapping alone (config/mappings/niche_example.yaml).

The export is written from a known canonical truth (``tests/second_force.py``) in a layout that differs from the
canonical schema in every way the mapping language v2 has to express (docs/onboarding.md); the ingest must
reproduce the truth exactly: counts by CSP × financial year, knife and under-25 counts, every row's offence code,
references, occurrence hour, ages and bands, and the reconciliation by reason and by file.
"""

from __future__ import annotations

import gzip
import io
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from second_force import FILE_NAMES, FORCE, SHEET, SUSPECT_BANDS, make_second_force

MAPPING = Path(__file__).resolve().parents[1] / "config" / "mappings" / "niche_example.yaml"
KEY = ["crime_ref", "victim_id"]


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    return make_second_force(tmp_path_factory.mktemp("niche_export"), seed=20240331, n_crimes=6000)


@pytest.fixture(scope="module")
def ingested(truth, tmp_path_factory):
    """Ingest the export folder through the mapping; returns (report, out folder)."""
    from svtools.ingest.extract import ingest_extract

    out = tmp_path_factory.mktemp("niche_processed") / "niche"
    report = ingest_extract(truth.folder, str(MAPPING), dataset="niche", out_dir=out)
    return report, out


@pytest.fixture(scope="module")
def records(ingested) -> pd.DataFrame:
    _, out = ingested
    frame = pd.read_parquet(out / "records")
    frame["csp_code"] = frame["csp_code"].astype(str)
    return frame


@pytest.fixture(scope="module")
def joined(records, truth) -> pd.DataFrame:
    """Each kept record next to its truth row (one to one on crime reference + victim id)."""
    rec = records.assign(crime_ref=records["crime_ref"].astype(str), victim_id=records["victim_id"].astype(str))
    both = rec.merge(truth.kept, on=KEY, how="outer", suffixes=("", "_truth"), indicator=True,
                     validate="one_to_one")
    assert (both["_merge"] == "both").all(), both.loc[both["_merge"] != "both", KEY + ["_merge"]].head()
    return both


def _text(s: pd.Series) -> pd.Series:
    """Values as text with missing as one marker (missing never equals missing in an element-wise ==)."""
    return s.astype(object).where(s.notna(), "<missing>").astype(str)


def _by_csp_year(frame: pd.DataFrame, weight: str | None = None) -> pd.Series:
    keys = [frame["csp_code"].astype(str), frame["financial_year"].astype(str)]
    s = frame[weight].groupby(keys).sum() if weight else frame.groupby(keys).size()
    return s.rename_axis(["csp_code", "financial_year"]).astype("int64").sort_index()


# --------------------------------------------------------------------------- the fixture itself (no engine)
def _read_export(path: Path) -> pd.DataFrame:
    """Read one export file with plain pandas/openpyxl, every cell as text ('' for blank)."""
    if path.name.endswith(".xlsx"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True)
        assert wb.sheetnames == ["Export details", SHEET]
        rows = list(wb[SHEET].iter_rows(values_only=True))
        assert all(isinstance(v, str) or v is None for r in rows for v in r)
        return pd.DataFrame(rows[1:], columns=rows[0]).fillna("")
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    assert b"\r\n" in raw[:2000]
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # cp1252, not UTF-8
    return pd.read_csv(io.BytesIO(raw), sep=";", encoding="cp1252", dtype=str, keep_default_na=False)


def test_fixture_files_are_the_niche_layout(truth):
    assert [p.name for p in truth.files] == list(FILE_NAMES)
    frames = {p.name: _read_export(p) for p in truth.files}
    assert {k: len(v) for k, v in frames.items()} == truth.rows_by_file
    for name, f in frames.items():
        assert not any("force" in c.lower() for c in f.columns), name  # single-force export
        assert "Occurrence No" in f.columns and "Export Run ID" in f.columns
    assert list(frames[FILE_NAMES[0]].columns) != list(frames[FILE_NAMES[2]].columns)  # another order in xlsx
    src = pd.concat(frames.values(), ignore_index=True)
    ho = set(src["HO Classification"])
    assert {"4.10", "004/10", "4.1", "004/01", "008N", "8n", "Assault with injury", "Common assault"} <= ho
    assert src["Occurrence No"].str.fullmatch(r"00\d{9}").all()
    assert src["Reported Date Time"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d").all()
    assert src["Occ From Date"].str.fullmatch(r"(\d\d-[A-Z][a-z]{2}-\d{4})?").all()
    assert {"Male", "Female", "Not Known"} <= set(src["Victim Gender"])
    assert {"W1", "A2", "B1", "NS"} <= set(src["Victim Ethnicity (16+1)"])
    assert {"18-24", "Under 10", "65 and over", ""} <= set(src["Offender Age Range"])
    assert "" in set(src["Weapon"]) and len(set(src["Weapon"]) - {""}) >= 8
    assert {"Café / restaurant", "St George’s Quay car park", "Shop; retail"} <= set(src["Premises Type"])
    assert src.duplicated(["Occurrence No"]).any() and not src.duplicated(["Occurrence No", "Victim Nominal ID"]).any()
    assert (src["Occurrence No"].str.len() == 11).all()
    # the truth's exclusions are what the files hold: blank LSOA = unlocated, the rest in the lookup or not
    from svtools.ingest.geography import lsoa_geography

    known = set(lsoa_geography()["lsoa_code"])
    blank = src["Scene LSOA"] == ""
    assert truth.excluded_by_reason == {"unlocated": int(blank.sum()),
                                        "unknown_lsoa": int((~blank & ~src["Scene LSOA"].isin(known)).sum())}


def test_fixture_truth_adds_up(truth):
    f = truth.frame
    assert 5000 <= truth.rows_in <= 20000
    assert truth.rows_kept + sum(truth.excluded_by_reason.values()) == truth.rows_in
    assert int(truth.counts.sum()) == truth.rows_kept
    assert set(truth.excluded_by_reason) == {"unlocated", "unknown_lsoa"}
    assert truth.out_of_force_kept > 0 and set(f.loc[f["out_of_force"], "pfa_code"]) == {"E23000008"}
    years = sorted(f["financial_year"].unique())
    assert years == ["2018/19", "2019/20", "2020/21", "2021/22", "2022/23", "2023/24", "2024/25"]
    assert f["recorded_date"].between("2018-04-01", "2025-03-31 23:59:59").all()
    assert (f["occurred_at"].dropna() <= f.loc[f["occurred_at"].notna(), "recorded_date"]).all()
    assert f["victim_age"].dropna().between(0, 95).all() and f["victim_age"].isna().any()
    assert set(truth.kept["csp_code"]) >= {"E22000027", "E22000028", "E22000029", "E22000030"}
    assert (truth.knife_counts <= truth.counts).all() and (truth.under25_counts <= truth.counts).all()
    assert 0 < truth.knife_counts.sum() < truth.rows_kept and 0 < truth.under25_counts.sum() < truth.rows_kept


def test_fixture_ages_are_exact(truth):
    """The truth's ages, recomputed row by row from the written text (DOB against the occurrence date)."""
    src = pd.concat([_read_export(p) for p in truth.files], ignore_index=True)
    src = src.set_index(["Occurrence No", "Victim Nominal ID"])
    f = truth.frame.set_index(KEY)
    ages = []
    for (ref, vid), row in src.iterrows():
        if not row["Victim Date of Birth"]:
            ages.append(None)
            continue
        dob = datetime.strptime(row["Victim Date of Birth"], "%d/%m/%Y").date()
        on = (datetime.strptime(row["Occ From Date"], "%d-%b-%Y") if row["Occ From Date"]
              else datetime.strptime(row["Reported Date Time"], "%Y-%m-%dT%H:%M:%S")).date()
        ages.append(on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day)))
    mine = pd.Series(ages, index=src.index, dtype="Int16")
    assert mine.equals(f.loc[src.index, "victim_age"].astype("Int16"))
    # the birthday boundaries are there: victims exactly 25 on the day and 24 turning 25 the next day
    assert (f["victim_age"] == 25).sum() > 100 and (f["victim_age"] == 24).sum() > 100


# --------------------------------------------------------------------------- the ingest against the truth
def test_counts_by_csp_and_financial_year_equal_truth(ingested, records, truth):
    _, out = ingested
    expected = truth.counts.astype("int64").sort_index()
    pd.testing.assert_series_equal(_by_csp_year(records), expected, check_names=False)
    monthly = pd.read_parquet(out / "monthly_counts.parquet")
    pd.testing.assert_series_equal(_by_csp_year(monthly, "offences"), expected, check_names=False)


def test_knife_and_under_25_counts_equal_truth(ingested, records, truth):
    _, out = ingested
    knife = _by_csp_year(records.assign(k=records["knife_flag"].fillna(False).astype(int)), "k")
    pd.testing.assert_series_equal(knife, truth.knife_counts.astype("int64").sort_index(), check_names=False)
    under = _by_csp_year(records.assign(u=records["victim_under_25"].fillna(False).astype(int)), "u")
    pd.testing.assert_series_equal(under, truth.under25_counts.astype("int64").sort_index(), check_names=False)
    monthly = pd.read_parquet(out / "monthly_counts.parquet")
    m_knife = _by_csp_year(monthly.assign(k=monthly["offences"] * monthly["knife_flag"].fillna(False)), "k")
    pd.testing.assert_series_equal(m_knife, truth.knife_counts.astype("int64").sort_index(), check_names=False)


def test_offence_code_of_every_row_is_the_truth(joined):
    bad = joined[joined["ho_offence_code"].astype(str) != joined["ho_offence_code_truth"]]
    assert bad.empty, bad[KEY + ["ho_offence_code", "ho_offence_code_truth"]].head(10).to_string()
    # 4.10 (corporate manslaughter) is not 4.1 (manslaughter), and both are present
    assert {"4/10", "4/1", "8N", "105A", "1"} <= set(joined["ho_offence_code"].astype(str))


def test_crime_refs_keep_leading_zeros(records, truth):
    refs = records["crime_ref"].astype(str)
    assert refs.str.fullmatch(r"00\d{9}").all()
    assert set(refs) == set(truth.kept["crime_ref"])
    assert set(records["victim_id"].astype(str)) == set(truth.kept["victim_id"])


def test_occurrence_from_two_columns_hour_from_the_time_column(joined):
    hour = joined["occurred_hour"].astype("Int8")
    truth_hour = joined["occurred_hour_truth"].astype("Int8")
    assert hour.isna().equals(truth_hour.isna()), "hour unknown exactly where the time column is blank"
    assert (hour.dropna() == truth_hour.dropna()).all()
    assert truth_hour.isna().any() and truth_hour.notna().sum() > 0.8 * len(joined)
    occ = pd.to_datetime(joined["occurred_at"]).astype("datetime64[ns]")
    occ_t = joined["occurred_at_truth"].astype("datetime64[ns]")
    assert occ.isna().equals(occ_t.isna()), "occurred_at unknown exactly where the date column is blank"
    known = occ_t.notna()
    assert (occ[known].dt.normalize() == occ_t[known].dt.normalize()).all()
    timed = truth_hour.notna().to_numpy()
    assert (occ[timed] == occ_t[timed]).all(), "date and time combine into one timestamp"
    rec = pd.to_datetime(joined["recorded_date"]).dt.normalize()
    assert (rec == joined["recorded_date_truth"].astype("datetime64[ns]").dt.normalize()).all()


def test_victim_fields_equal_truth(joined):
    age = joined["victim_age"].astype("Int16")
    truth_age = joined["victim_age_truth"].astype("Int16")
    assert age.isna().equals(truth_age.isna())
    wrong = joined[age.fillna(-1) != truth_age.fillna(-1)]
    assert wrong.empty, wrong[KEY + ["victim_age", "victim_age_truth", "victim_dob"]].head(10).to_string()
    under = joined["victim_under_25"].astype("boolean")
    assert under.isna().equals(truth_age.isna())
    assert (under.dropna() == (truth_age.dropna() <= 24)).all()
    for col in ("victim_sex", "victim_ethnicity", "suspect_sex"):
        assert (_text(joined[col]) == _text(joined[f"{col}_truth"])).all(), col
    knife = joined["knife_flag"].astype("boolean")
    assert knife.notna().all() and (knife == joined["knife_flag_truth"]).all()
    dom = joined["domestic_flag"].astype("boolean")
    dom_t = joined["domestic_flag_truth"].astype("boolean")
    assert dom.isna().equals(dom_t.isna()) and (dom.dropna() == dom_t.dropna()).all()


def test_text_survives_cp1252_and_semicolons(joined):
    got = _text(joined["location_type"])
    assert (got == _text(joined["location_type_truth"])).all()
    assert {"Café / restaurant", "St George’s Quay car park", "Licensed premises – pub", "Shop; retail"} <= set(got)
    assert (joined["lsoa_code"].astype(str) == joined["lsoa_code_truth"]).all()
    assert (joined["csp_code"] == joined["csp_code_truth"]).all()


def test_suspect_age_bands_kept_with_bounds(joined):
    assert {"suspect_age_min", "suspect_age_max"} <= set(joined.columns)
    lo = joined["suspect_age_min"].astype("Int16")
    hi = joined["suspect_age_max"].astype("Int16")
    band = joined["suspect_age_band"]
    assert lo[band.isna()].isna().all() and hi[band.isna()].isna().all(), "no band: bounds unknown"
    for text, (b_lo, b_hi) in SUSPECT_BANDS.items():
        sel = (band == text).to_numpy()
        assert sel.any(), text
        if text == "Under 10":       # lower bound 0 (or open)
            assert lo[sel].isna().all() or (lo[sel] == 0).all(), text
            assert (hi[sel] == 9).all(), text
        elif b_hi is None:          # "65 and over": open upper bound (or the top of the age range)
            assert (lo[sel] == b_lo).all(), text
            assert hi[sel].isna().all() or (hi[sel] >= 100).all(), text
        else:
            assert (lo[sel] == b_lo).all() and (hi[sel] == b_hi).all(), text


def test_reporting_force_is_the_constant(records, truth, ingested):
    assert (records["reporting_force"].astype(str) == FORCE).all()
    assert int(records["out_of_force"].sum()) == truth.out_of_force_kept
    assert set(records.loc[records["out_of_force"], "pfa_code"].astype(str)) == {"E23000008"}
    _, out = ingested
    meta = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert FORCE in meta.get("forces", [FORCE])


def test_reconciliation_balances_by_reason_and_file(ingested, truth):
    report, out = ingested
    recon = json.loads((out / "reconciliation.json").read_text(encoding="utf-8"))
    assert recon["balanced"] is True
    assert recon["rows_in"] == truth.rows_in == recon["rows_kept"] + recon["rows_excluded"]
    assert recon["rows_kept"] == truth.rows_kept
    assert recon["excluded_by_reason"] == truth.excluded_by_reason
    assert recon.get("out_of_force_kept", truth.out_of_force_kept) == truth.out_of_force_kept
    by_file = recon["by_file"]
    assert set(by_file) == set(FILE_NAMES), "only the files the pattern names (not export_notes.txt)"
    f = truth.frame
    for name in FILE_NAMES:
        mine = f[f["source_file"] == name]
        assert by_file[name]["rows_in"] == len(mine), name
        assert by_file[name]["rows_kept"] == int(mine["exclusion_reason"].isna().sum()), name
        want = {str(k): int(v) for k, v in mine["exclusion_reason"].dropna().value_counts().items()}
        assert {k: v for k, v in by_file[name]["excluded_by_reason"].items() if v} == want, name
    assert "Export Run ID" in json.dumps(recon.get("dropped_columns", {})), "an unlisted extra column is reported"
    excluded = pd.read_parquet(out / "excluded.parquet")
    assert len(excluded) == sum(truth.excluded_by_reason.values())
    assert report.balanced() and report.rows_kept == truth.rows_kept


def test_cli_check_reads_everything_and_writes_nothing(truth, tmp_path, capsys):
    from svtools.cli import main
    from svtools.paths import processed_dir

    out = tmp_path / "check_out"
    before = sorted(p.name for p in truth.folder.iterdir())
    rc = main(["ingest", "--dataset", "niche", "--extract", str(truth.folder), "--mapping", str(MAPPING),
               "--out", str(out), "--check"])
    assert rc == 0
    assert not out.exists() or not any(out.iterdir()), "--check writes nothing"
    assert not (processed_dir() / "niche").exists()
    assert sorted(p.name for p in truth.folder.iterdir()) == before
    printed = capsys.readouterr().out
    assert f"{truth.rows_kept:,}" in printed or str(truth.rows_kept) in printed, printed
