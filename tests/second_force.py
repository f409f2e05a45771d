"""A second force's records-system export ("Niche-style"), written from a canonical truth the test knows.

:func:`make_second_force` draws a canonical table of crimes × victims for one force (Cleveland, E23000013) and
writes it in a layout that differs from svtools' canonical schema (``../shared/docs/data_formats.md`` §1) and
from the demo extract in every way a real export does:

* no force column (a single-force export: the force is a constant of the mapping);
* other column names, in another order (and another order again in the xlsx file), and extra columns;
* cp1252 encoding with non-ASCII text (``Café``, ``St George’s Quay``, ``–``), ``;`` delimiter, CRLF lines,
  a ``;`` inside a quoted value;
* three files: a ``.csv``, a ``.csv.gz`` and an ``.xlsx`` (data on its second sheet), plus a file the
  mapping's pattern must skip;
* crime references with leading zeros (``00180000025``), person ids with leading zeros;
* Home Office classes written ``004/10``, ``4.10``, ``4.1``, ``008N``, ``8n``, ``001``, as the classification
  text (``Assault with injury``) or a local spelling (``Common assault``);
* the reported date-time in ISO 8601 (``2023-04-01T13:45``), the occurrence date as ``31-Mar-2018`` with its
  time in a separate column (``13:45`` or ``1345``; blank = hour unknown; date blank = occurrence unknown);
* the victim's date of birth (``dd/mm/yyyy``) instead of an age; the suspect's age in bands (``18-24``);
* sex spelt ``Male``/``Female``/``Indeterminate``/``Not Known``; ethnicity as 16+1 codes (``W1``, ``A2``,
  ``B1`` …, ``NS``);
* the weapon as several descriptions, a blank weapon meaning "no knife"; a ``Y``/``N``/blank DA marker;
* crimes with several victims (same reference, one row per victim), repeat victims across crimes;
* rows the ingest must exclude and count: blank LSOA (``unlocated``), a well-formed LSOA in no lookup
  (``unknown_lsoa``); and rows placed in a neighbouring force (kept, ``out_of_force``).

The truth is kept canonical (one row per crime × victim, with its CSP, financial year, exact age and exclusion
reason), so a test can compare what the ingest makes with what was written, field by field.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Truth", "make_second_force", "FORCE", "NEIGHBOUR", "FILE_NAMES", "SUSPECT_BANDS",
           "LOCATION_TYPES"]

FORCE = "E23000013"       # Cleveland
NEIGHBOUR = "E23000008"   # Durham: a few crimes are placed there (kept, out_of_force)
FILE_NAMES = ("niche_export_2018-04_2021-03.csv", "niche_export_2021-04_2023-03.csv.gz",
              "niche_export_2023-04_2025-03.xlsx")
#: financial years (by start year) each file holds
_FILE_YEARS = ((2018, 2019, 2020), (2021, 2022), (2023, 2024))
SHEET = "Occurrences"

#: source column -> canonical meaning (None: an extra column the mapping drops)
CSV_COLUMNS = [
    "Occurrence No", "Occurrence Status", "HO Classification", "Reported Date Time", "Occ From Date",
    "Occ From Time", "Scene LSOA", "Premises Type", "Beat Code", "Weapon", "DA Marker", "Victim Nominal ID",
    "Victim Gender", "Victim Date of Birth", "Victim Ethnicity (16+1)", "Offender Nominal ID", "Offender Gender",
    "Offender Age Range", "Offender Ethnic Code", "Officer in Charge", "Export Run ID",
]
#: the xlsx report was saved with another column order
XLSX_COLUMNS = [
    "Reported Date Time", "Occurrence No", "Victim Nominal ID", "Victim Date of Birth", "Victim Gender",
    "Victim Ethnicity (16+1)", "HO Classification", "Weapon", "Occ From Date", "Occ From Time", "Scene LSOA",
    "Beat Code", "Premises Type", "DA Marker", "Offender Nominal ID", "Offender Age Range", "Offender Gender",
    "Offender Ethnic Code", "Occurrence Status", "Officer in Charge", "Export Run ID",
]

#: suspect age band as written -> (min, max); None = open
SUSPECT_BANDS = {"Under 10": (0, 9), "10-17": (10, 17), "18-24": (18, 24), "25-34": (25, 34),
                 "35-44": (35, 44), "45-54": (45, 54), "55-64": (55, 64), "65 and over": (65, None)}
_BAND_P = [0.01, 0.17, 0.26, 0.24, 0.15, 0.10, 0.05, 0.02]

#: premises types, with the non-ASCII characters cp1252 holds (é, ’, –) and a ';' inside a value
LOCATION_TYPES = ["Street", "Dwelling", "Licensed premises – pub", "Café / restaurant", "Shop; retail",
                  "St George’s Quay car park", "School", "Park / open space"]
_LOCATION_P = [0.34, 0.30, 0.08, 0.05, 0.08, 0.03, 0.05, 0.07]

#: 16+1 ethnicity codes by ONS 2021 high-level group (Chinese, O1, is Asian in the 2021 groups)
ETHNIC_CODES = {"White": ["W1", "W2", "W9"], "Mixed": ["M1", "M2", "M3", "M9"],
                "Asian": ["A1", "A2", "A3", "A9", "O1"], "Black": ["B1", "B2", "B9"], "Other": ["O9"]}
_ETHNIC_P = {"White": 0.82, "Asian": 0.07, "Black": 0.025, "Mixed": 0.03, "Other": 0.01}  # rest: NS

KNIFE_WORDS = ["Knife", "Kitchen knife", "Bladed article", "Machete", "Sharp instrument"]
OTHER_WEAPON_WORDS = ["Firearm", "Blunt instrument", "Bottle/glass", "Other", "None"]
#: local spellings of the offence class (mapped in the mapping's values:)
LOCAL_OFFENCE_TEXT = {"105A": "Common assault", "8N": "ABH (s.47)"}

_SEX_SOURCE = {"M": "Male", "F": "Female", "X": "Indeterminate", None: "Not Known"}
#: offences a knife is often used in (more knife-flagged rows), and the weighted "violence" codes
_KNIFE_LIKELY = {"1", "2", "3B", "4/1", "5D", "8N", "8P", "8S", "19C", "20A", "34B", "34A", "105A"}
_FREQUENT = {"8N": 30, "105A": 30, "8L": 8, "8Q": 6, "8R": 6, "5D": 6, "34B": 6, "3B": 4, "58A": 5, "46": 5,
             "10D": 3, "19C": 2, "20A": 2, "4/4": 2, "4/1": 1.5, "4/10": 1.5, "37/1": 1.5, "1": 1, "2": 1}


@dataclass
class Truth:
    """What the export holds, in canonical form, and the figures an ingest of it must reproduce.

    ``frame`` has one row per crime × victim (every row written, excluded ones included) with the canonical
    fields (``crime_ref``, ``recorded_date``, ``occurred_at``, ``occurred_hour``, ``ho_offence_code``,
    ``knife_flag``, ``domestic_flag``, ``lsoa_code``, ``location_type``, ``victim_id``, ``victim_dob``,
    ``victim_age``, ``victim_sex``, ``victim_ethnicity``, ``suspect_id``, ``suspect_age_band``,
    ``suspect_age_min``, ``suspect_age_max``, ``suspect_sex``), where it lies (``csp_code``, ``pfa_code``),
    ``financial_year``, ``exclusion_reason`` (None when kept), ``out_of_force`` and ``source_file``.
    """

    frame: pd.DataFrame
    folder: Path
    files: list[Path]
    counts: pd.Series          # kept rows by (csp_code, financial_year)
    knife_counts: pd.Series    # kept rows with knife_flag by (csp_code, financial_year)
    under25_counts: pd.Series  # kept rows with a victim aged 0-24 at the offence, by (csp_code, financial_year)
    excluded_by_reason: dict[str, int]
    rows_by_file: dict[str, int]
    reporting_force: str = FORCE
    extra_files: list[Path] = field(default_factory=list)

    @property
    def kept(self) -> pd.DataFrame:
        return self.frame[self.frame["exclusion_reason"].isna()]

    @property
    def rows_in(self) -> int:
        return len(self.frame)

    @property
    def rows_kept(self) -> int:
        return int(self.frame["exclusion_reason"].isna().sum())

    @property
    def out_of_force_kept(self) -> int:
        return int(self.kept["out_of_force"].sum())


# --------------------------------------------------------------------------- helpers
def fy_label(dates: pd.Series) -> pd.Series:
    """Financial year (April–March) label, "2019/20", computed here independently of svtools."""
    start = dates.dt.year - (dates.dt.month < 4).astype(int)
    return start.astype(str) + "/" + ((start + 1) % 100).astype(str).str.zfill(2)


def calendar_age(dob: pd.Series, on: pd.Series) -> pd.Series:
    """Completed years between ``dob`` and ``on`` (the birthday counts on the day itself)."""
    before = (on.dt.month * 100 + on.dt.day) < (dob.dt.month * 100 + dob.dt.day)
    age = on.dt.year - dob.dt.year - before.astype(int)
    return age.where(dob.notna() & on.notna()).astype("Int16")


def _code_variants(codes: pd.DataFrame) -> dict[str, list[str]]:
    """How the export may write each Home Office code (zero-padded, dotted, lower case, as text)."""
    out = {}
    for code, desc in zip(codes["ho_offence_code"], codes["description"]):
        if "/" in code:                       # 4/10 -> 004/10, 4.10, 4/10; 4/1 -> 004/01, 4.1, 4.01
            a, b = code.split("/")
            v = [f"{int(a):03d}/{int(b):02d}", f"{a}.{b}", f"{int(a)}.{int(b):02d}", code]
        elif code[:-1].isdigit() and code[-1].isalpha():   # 8N -> 008N, 8n, 8N
            v = [f"{int(code[:-1]):03d}{code[-1]}", code.lower(), code]
        elif code.isdigit():                 # 1 -> 001, 1
            v = [f"{int(code):03d}", code]
        else:
            v = [code]
        v.append(desc)                       # the classification text (descriptions are unique)
        out[code] = list(dict.fromkeys(v))
    return out


def _pick(rng, options, p, n) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=p / p.sum())]


# --------------------------------------------------------------------------- the truth
def _canonical(rng: np.random.Generator, n_crimes: int) -> pd.DataFrame:
    from svtools.ingest.geography import lsoa_geography
    from svtools.ingest.reference import offence_codes

    geo = lsoa_geography()
    home = geo[geo["pfa_code"] == FORCE]
    away = geo[(geo["pfa_code"] == NEIGHBOUR) & (geo["lsoa_vintage"] == "2011")]
    codes = offence_codes()
    codes = codes[~codes["ho_offence_code"].isin(["AF", "CIFAS", "UK Finance"])].reset_index(drop=True)

    # ---- crimes
    start, end = pd.Timestamp("2018-04-01"), pd.Timestamp("2025-03-31 23:59")
    minutes = rng.integers(0, int((end - start) / pd.Timedelta(minutes=1)) + 1, size=n_crimes)
    recorded = (start + pd.to_timedelta(np.sort(minutes), unit="min")).to_series(index=range(n_crimes))
    lag_min = np.where(rng.random(n_crimes) < 0.93, rng.exponential(1.5 * 1440, n_crimes),
                       rng.uniform(0, 365 * 1440, n_crimes)).astype("int64")
    occurred = recorded - pd.to_timedelta(lag_min, unit="min")
    occ_date_known = rng.random(n_crimes) >= 0.02
    occ_time_known = occ_date_known & (rng.random(n_crimes) >= 0.06)
    occurred_at = occurred.where(occ_time_known, occurred.dt.normalize()).where(occ_date_known)

    weights = codes["ho_offence_code"].map(_FREQUENT).fillna(0.15).to_numpy()
    code = codes["ho_offence_code"].to_numpy(dtype=object)[rng.choice(len(codes), n_crimes,
                                                                      p=weights / weights.sum())]
    knife_p = np.where(pd.Series(code).isin(_KNIFE_LIKELY), 0.25, 0.02)
    knife = rng.random(n_crimes) < knife_p

    where = rng.random(n_crimes)
    lsoa = home["lsoa_code"].to_numpy(dtype=object)[rng.integers(0, len(home), n_crimes)]
    out_force = where >= 0.990                   # 1.0% in Durham (kept, out_of_force)
    lsoa[out_force] = away["lsoa_code"].to_numpy(dtype=object)[rng.integers(0, len(away), out_force.sum())]
    unlocated = where < 0.012                    # 1.2% blank LSOA
    unknown = (where >= 0.012) & (where < 0.018)  # 0.6% well formed but in no lookup
    lsoa[unlocated] = None
    known_codes = set(geo["lsoa_code"])
    fake = [f"E01{n:06d}" for n in range(999999, 900000, -1) if f"E01{n:06d}" not in known_codes][:50]
    lsoa[unknown] = np.asarray(fake, dtype=object)[rng.integers(0, len(fake), unknown.sum())]

    seq = rng.permutation(np.arange(1, n_crimes + 1) * 7 + 18)  # not in date order, as a real export
    crime_ref = pd.Series([f"00{y % 100:02d}{s:07d}" for y, s in zip(recorded.dt.year, seq)])
    has_suspect = rng.random(n_crimes) < 0.65
    band = _pick(rng, list(SUSPECT_BANDS), _BAND_P, n_crimes)
    band[~has_suspect] = None
    suspect_sex = _pick(rng, ["M", "F", "X", None], [0.78, 0.17, 0.01, 0.04], n_crimes)
    suspect_sex[~has_suspect] = None
    crimes = pd.DataFrame({
        "crime_ref": crime_ref,
        "recorded_date": recorded,
        "occurred_at": occurred_at,
        "occurred_hour": occurred_at.dt.hour.where(pd.Series(occ_time_known)).astype("Int8"),
        "ho_offence_code": code,
        "knife_flag": knife,
        "domestic_flag": _pick(rng, [True, False, None], [0.25, 0.65, 0.10], n_crimes),
        "lsoa_code": lsoa,
        "location_type": _pick(rng, LOCATION_TYPES + [None], _LOCATION_P + [0.03], n_crimes),
        "suspect_id": [f"{i:09d}" if s else None for i, s in zip(rng.integers(1, 10**7, n_crimes), has_suspect)],
        "suspect_age_band": band,
        "suspect_sex": suspect_sex,
        "exclusion_reason": np.select([unlocated, unknown], ["unlocated", "unknown_lsoa"], None),
    })
    crimes["exclusion_reason"] = crimes["exclusion_reason"].where(crimes["exclusion_reason"] != "None", None)

    # ---- victims: 1 (85%), 2 (12%) or 3 (3%) per crime, one row each
    n_vict = rng.choice([1, 2, 3], size=n_crimes, p=[0.85, 0.12, 0.03])
    rows = crimes.loc[np.repeat(crimes.index, n_vict)].reset_index(drop=True)
    n = len(rows)
    pool = int(n * 0.85)  # repeat victims: the same person in several crimes
    vid = pd.Series(rng.integers(0, pool, n))
    clash = pd.Series(list(zip(rows["crime_ref"], vid))).duplicated()
    vid[clash] = pool + np.flatnonzero(clash)
    rows["victim_id"] = [f"{v:09d}" for v in vid]

    ref_date = rows["occurred_at"].dt.normalize().fillna(rows["recorded_date"].dt.normalize())
    years = np.clip(np.where(rng.random(n) < 0.6, rng.normal(30, 13, n), rng.uniform(0, 95.9, n)), 0, 95.9)
    dob = ref_date - pd.to_timedelta((years * 365.2425).astype("int64"), unit="D")
    kind = rng.random(n)  # exact birthdays around 25, and babies born that day
    dob = dob.where(~(kind < 0.04), ref_date - pd.DateOffset(years=25))                     # 25 today
    dob = dob.where(~((kind >= 0.04) & (kind < 0.08)),
                    ref_date - pd.DateOffset(years=25) + pd.Timedelta(days=1))             # 25 tomorrow
    dob = dob.where(~((kind >= 0.08) & (kind < 0.085)), ref_date)                           # born that day
    leap = (dob.dt.month == 2) & (dob.dt.day == 29)   # no 29 February birthdays (the convention varies)
    dob = dob.where(~leap, dob + pd.Timedelta(days=1))
    dob = dob.where(rng.random(n) >= 0.08)            # 8% date of birth not recorded
    rows["victim_dob"] = dob
    rows["victim_age"] = calendar_age(dob, ref_date)
    rows["victim_sex"] = _pick(rng, ["M", "F", "X", None], [0.49, 0.46, 0.01, 0.04], n)
    groups = list(_ETHNIC_P) + [None]
    rows["victim_ethnicity"] = _pick(rng, groups, list(_ETHNIC_P.values()) + [1 - sum(_ETHNIC_P.values())], n)

    bounds = rows["suspect_age_band"].map(SUSPECT_BANDS)
    rows["suspect_age_min"] = bounds.map(lambda b: b[0] if isinstance(b, tuple) else None).astype("Int16")
    rows["suspect_age_max"] = bounds.map(lambda b: b[1] if isinstance(b, tuple) else None).astype("Int16")

    g = geo.set_index("lsoa_code")
    rows["csp_code"] = rows["lsoa_code"].map(g["csp_code"])
    rows["pfa_code"] = rows["lsoa_code"].map(g["pfa_code"])
    rows["out_of_force"] = (rows["pfa_code"] != FORCE) & rows["pfa_code"].notna()
    rows["financial_year"] = fy_label(rows["recorded_date"])
    assert rows.loc[rows["exclusion_reason"].isna(), "csp_code"].notna().all()
    assert rows["victim_age"].dropna().between(0, 95).all()
    return rows


# --------------------------------------------------------------------------- the export
def _source_text(rows: pd.DataFrame, rng: np.random.Generator, variants: dict[str, list[str]]) -> pd.DataFrame:
    """The canonical rows as the Niche-style export writes them (all text; None = blank cell)."""
    n = len(rows)
    crime_level = ~rows["crime_ref"].duplicated()   # crime-level choices are made once per crime
    crime_no = crime_level.cumsum() - 1
    n_crimes = int(crime_level.sum())

    def per_crime(values: np.ndarray) -> np.ndarray:
        return values[crime_no.to_numpy()]

    code = rows["ho_offence_code"].to_numpy(dtype=object)
    pick = per_crime(rng.integers(0, 1000, n_crimes))
    ho = np.empty(n, dtype=object)
    for c in np.unique(code):
        sel = code == c
        v = variants[c]
        ho[sel] = np.asarray(v, dtype=object)[pick[sel] % len(v)]
    local = per_crime(rng.random(n_crimes) < 0.15)
    for c, text in LOCAL_OFFENCE_TEXT.items():
        ho[(code == c) & local] = text

    knife = rows["knife_flag"].to_numpy()
    weapon = np.where(knife, per_crime(_pick(rng, KNIFE_WORDS, [0.4, 0.2, 0.2, 0.05, 0.15], n_crimes)),
                      np.where(per_crime(rng.random(n_crimes) < 0.7), None,
                               per_crime(_pick(rng, OTHER_WEAPON_WORDS, [0.1, 0.3, 0.3, 0.2, 0.1], n_crimes))))

    occ = rows["occurred_at"]
    hhmm = per_crime(rng.random(n_crimes) < 0.15)
    occ_time = np.where(hhmm, occ.dt.strftime("%H%M"), occ.dt.strftime("%H:%M"))
    occ_time = np.where(rows["occurred_hour"].isna().to_numpy(), None, occ_time)
    eth = rows["victim_ethnicity"].to_numpy(dtype=object)
    eth_code = np.full(n, "NS", dtype=object)
    for group, options in ETHNIC_CODES.items():
        sel = eth == group
        eth_code[sel] = np.asarray(options, dtype=object)[rng.integers(0, len(options), sel.sum())]

    def blank(s):
        s = s.astype(object)
        return s.where(s.notna(), None)

    bool_text = {True: "Y", False: "N"}
    return pd.DataFrame({
        "Occurrence No": rows["crime_ref"],
        "Occurrence Status": per_crime(_pick(rng, ["Filed", "Open", "Closed – NFA"], [0.5, 0.3, 0.2], n_crimes)),
        "HO Classification": ho,
        "Reported Date Time": rows["recorded_date"].dt.strftime("%Y-%m-%dT%H:%M:%S"),
        "Occ From Date": blank(occ.dt.strftime("%d-%b-%Y")),
        "Occ From Time": occ_time,
        "Scene LSOA": blank(rows["lsoa_code"]),
        "Premises Type": blank(rows["location_type"]),
        "Beat Code": per_crime(np.char.add("CL", rng.integers(100, 999, n_crimes).astype(str)).astype(object)),
        "Weapon": weapon,
        "DA Marker": rows["domestic_flag"].map(bool_text).where(rows["domestic_flag"].notna(), None),
        "Victim Nominal ID": rows["victim_id"],
        "Victim Gender": rows["victim_sex"].map(lambda s: _SEX_SOURCE[s if isinstance(s, str) else None]),
        "Victim Date of Birth": blank(rows["victim_dob"].dt.strftime("%d/%m/%Y")),
        "Victim Ethnicity (16+1)": eth_code,
        "Offender Nominal ID": blank(rows["suspect_id"]),
        "Offender Gender": np.where(rows["suspect_id"].isna(), None,
                                    rows["suspect_sex"].map(lambda s: _SEX_SOURCE[s if isinstance(s, str) else None])),
        "Offender Age Range": blank(rows["suspect_age_band"]),
        "Offender Ethnic Code": np.where(rows["suspect_id"].isna(), None, "W1"),
        "Officer in Charge": per_crime(_pick(rng, ["PC 1204 Brontë", "DC 311 O’Neill", "PS 88 Shaw"],
                                             [1, 1, 1], n_crimes)),
        "Export Run ID": "RUN-000731",
    })


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, sep=";", index=False, lineterminator="\r\n", na_rep="")
    return buf.getvalue().encode("cp1252")


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    about = wb.create_sheet("Export details")      # the first sheet is not the data
    about.append(["Report", "SV Duty occurrences (victim level)"])
    about.append(["Run", "RUN-000731"])
    ws = wb.create_sheet(SHEET)
    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):      # every cell as text, as the export writes it
        ws.append([None if pd.isna(v) else str(v) for v in row])
    wb.save(path)


def make_second_force(out_dir: str | Path, seed: int = 20240331, n_crimes: int = 6000) -> Truth:
    """Write the Niche-style export of a canonical truth into ``out_dir`` and return the truth.

    Parameters
    ----------
    out_dir : path
        Folder to write (created); it receives the three export files of :data:`FILE_NAMES` and a notes file
        the mapping's file pattern must skip.
    seed : int
        Random seed (the same seed writes the same files).
    n_crimes : int
        Crimes drawn (rows are about 1.2 per crime: crimes can have several victims).
    """
    from svtools.ingest.reference import offence_codes

    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = _canonical(rng, n_crimes)
    variants = _code_variants(offence_codes())
    text = _source_text(rows, rng, variants)

    fy_start = rows["recorded_date"].dt.year - (rows["recorded_date"].dt.month < 4).astype(int)
    files, source_file = [], pd.Series(None, index=rows.index, dtype=object)
    for name, years in zip(FILE_NAMES, _FILE_YEARS):
        sel = fy_start.isin(years).to_numpy()
        part = text[sel]
        # a real export is not in date order: shuffle whole crimes (a crime's victims stay together)
        order = pd.Series(rng.permutation(part["Occurrence No"].unique()))
        rank = part["Occurrence No"].map(pd.Series(order.index, index=order.to_numpy()))
        part = part.iloc[np.argsort(rank.to_numpy(), kind="stable")]
        path = out / name
        if name.endswith(".xlsx"):
            _write_xlsx(part[XLSX_COLUMNS], path)
        elif name.endswith(".gz"):
            path.write_bytes(gzip.compress(_csv_bytes(part[CSV_COLUMNS]), mtime=0))
        else:
            path.write_bytes(_csv_bytes(part[CSV_COLUMNS]))
        files.append(path)
        source_file[sel] = name
    assert source_file.notna().all()
    rows["source_file"] = source_file
    notes = out / "export_notes.txt"
    notes.write_text("Exported from Niche RMS, saved search 'SVD victims'. Not data.\n", encoding="utf-8")

    kept = rows[rows["exclusion_reason"].isna()]
    keys = ["csp_code", "financial_year"]
    counts = kept.groupby(keys).size().rename("rows")
    knife = kept[kept["knife_flag"]].groupby(keys).size().reindex(counts.index, fill_value=0).rename("knife")
    under = kept[kept["victim_age"].notna() & (kept["victim_age"] <= 24)]
    under25 = under.groupby(keys).size().reindex(counts.index, fill_value=0).rename("under_25")
    excluded = rows["exclusion_reason"].dropna().value_counts()
    return Truth(
        frame=rows, folder=out, files=files, counts=counts, knife_counts=knife, under25_counts=under25,
        excluded_by_reason={str(k): int(v) for k, v in excluded.items()},
        rows_by_file=rows["source_file"].value_counts().astype(int).to_dict(), extra_files=[notes],
    )
