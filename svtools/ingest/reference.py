"""Loaders for the shipped real reference data in ``../shared/data/real`` (read in place, never copied).

Each loader returns a tidy, typed DataFrame with names in the field's words (``lsoa11_code``,
``lad_code``, ``csp_code``, ``age``, ``population``). Sources, licences and vintages are in
``../shared/data/real/SOURCES.md``; all are Open Government Licence v3.0 unless stated.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from svtools.errors import DataValidationError
from svtools.paths import real_data_dir

__all__ = [
    "real_file",
    "lsoa11_lad21",
    "lsoa11_lsoa21",
    "lsoa21_lad24",
    "lad22_lad23",
    "lad24_csp_pfa",
    "lad_csp_pfa_2019",
    "lad_code_history",
    "population_lsoa11",
    "population_lsoa11_wide",
    "population_lad",
    "population_lad_mye2",
    "population_lad_2011",
    "population_lad_2024",
    "population_settings",
    "ethnicity_lad21",
    "ethnicity_lsoa21",
    "imd2019_lsoa11",
    "wimd2019_lsoa11",
    "imd2025_lsoa21",
    "esp2013",
    "css_weights",
    "offence_codes",
    "prc_pfa_2019_20",
    "AGE_COLUMNS",
    "LAD_PATTERN",
]

#: Local-authority district codes in the ONS population files: English unitary authorities (E06), non-metropolitan
#: districts (E07), metropolitan districts (E08), London boroughs (E09) and Welsh unitary authorities (W06).
#: Countries, regions, counties and metropolitan counties are left out.
LAD_PATTERN = r"^(E0[6-9]|W06)\d{6}$"

#: Single-year-of-age columns in the ONS LSOA/LAD population files ("90+" is the open band, held as 90).
AGE_COLUMNS = [str(a) for a in range(90)] + ["90+"]


def real_file(relative: str) -> Path:
    """Absolute path of a file in the shared real-data folder, with a clear error if it is missing."""
    path = real_data_dir() / relative
    if not path.is_file():
        raise DataValidationError(
            "reference file not found; set SVTOOLS_REAL_DATA to the folder holding the shipped real data",
            file=str(path),
        )
    return path


def _read(relative: str, **kwargs) -> pd.DataFrame:
    return pd.read_csv(real_file(relative), **kwargs)


# --------------------------------------------------------------------------- geography lookups
@lru_cache(maxsize=1)
def lsoa11_lad21() -> pd.DataFrame:
    """LSOA (2011) to local authority district (2021): ``lsoa11_code, lsoa11_name, lad21_code, lad21_name``."""
    df = _read("lookups/lsoa11_lad21_ew.csv", dtype=str)
    return df.rename(columns={"ltla21_code": "lad21_code", "ltla21_name": "lad21_name"})[
        ["lsoa11_code", "lsoa11_name", "lad21_code", "lad21_name"]
    ]


@lru_cache(maxsize=1)
def lsoa11_lsoa21() -> pd.DataFrame:
    """LSOA 2011 to LSOA 2021 best-fit lookup with ONS ``change_code`` (U unchanged, S split, M merged, X complex)."""
    df = _read("lookups/lsoa11_lsoa21_lad22_ew.csv", dtype=str)
    return df.rename(columns={"ltla22_code": "lad22_code", "ltla22_name": "lad22_name"})


@lru_cache(maxsize=1)
def lsoa21_lad24() -> pd.DataFrame:
    """LSOA (2021) to local authority district (2024): ``lsoa21_code, lsoa21_name, lad24_code, lad24_name``."""
    df = _read("lookups/lsoa21_ward24_lad24_ew.csv", dtype=str)
    return df.rename(columns={"ltla24_code": "lad24_code", "ltla24_name": "lad24_name"})[
        ["lsoa21_code", "lsoa21_name", "lad24_code", "lad24_name"]
    ]


@lru_cache(maxsize=1)
def lad22_lad23() -> pd.DataFrame:
    """LAD 2022 to LAD 2023 (Cumbria, North Yorkshire and Somerset reorganisations)."""
    df = _read("lookups/lad22_lad23_ew.csv", dtype=str)
    return df.rename(columns=lambda c: c.replace("ltla", "lad"))


@lru_cache(maxsize=1)
def lad24_csp_pfa() -> pd.DataFrame:
    """LAD (2024) to CSP (2024) to police force area (2024): 332 LADs, 314 CSPs, 43 PFAs.

    Columns ``lad24_code, lad24_name, csp_code, csp_name, pfa_code, pfa_name``. One LAD can hold several
    CSPs (e.g. Cumberland) and one CSP several LADs (e.g. Cwm Taf); see :mod:`svtools.ingest.geography`.
    """
    df = _read("lookups/lad24_csp24_pfa24_ew.csv", dtype=str)
    return df.rename(
        columns={
            "ltla24_code": "lad24_code",
            "ltla24_name": "lad24_name",
            "csp24_code": "csp_code",
            "csp24_name": "csp_name",
            "pfa24_code": "pfa_code",
            "pfa24_name": "pfa_name",
        }
    )


@lru_cache(maxsize=1)
def lad_csp_pfa_2019() -> pd.DataFrame:
    """LAD to CSP to PFA, December 2019 (semicolon-separated source file)."""
    df = _read("lookups/lad_csp_pfa_dec2019_semicolon.csv", sep=";", dtype=str)
    return df.rename(
        columns={
            "lad-code": "lad19_code",
            "lad-name": "lad19_name",
            "csp-code": "csp_code",
            "csp-name": "csp_name",
            "PFA21CD": "pfa_code",
            "PFA21NM": "pfa_name",
        }
    )


@lru_cache(maxsize=1)
def lad_code_history() -> pd.DataFrame:
    """Every LAD code used since 2011 mapped to the 2024 LAD that holds it: ``lad_code, lad_name, lad24_code``.

    Built from ``lookups/la_all_codes_history_to_active.csv`` (each code to the currently active code; a code
    that is still active maps to itself) and, for an active code that is not a 2024 LAD, ``lad22_lad23`` (the
    2023 reorganisations). Every change between 2011 and 2024 in England and Wales was a merger of whole
    districts or a new code for the same area, so each old code lies inside exactly one 2024 LAD; a 2024 LAD
    may hold several old codes (Cumberland holds Allerdale, Carlisle and Copeland).

    Returns
    -------
    DataFrame
        One row per English or Welsh code (unique ``lad_code``), including every 2024 LAD code (mapped to
        itself).
    """
    hist = _read("lookups/la_all_codes_history_to_active.csv", dtype=str)
    hist = hist[["LADCD", "LADNM", "LADCD_ACTIVE"]].rename(
        columns={"LADCD": "lad_code", "LADNM": "lad_name", "LADCD_ACTIVE": "lad24_code"})
    hist = hist[hist["lad_code"].str.match(LAD_PATTERN)]  # England and Wales only
    lad24 = lad24_csp_pfa()[["lad24_code", "lad24_name"]].drop_duplicates("lad24_code")
    # An active code that is not a 2024 LAD is either a 2023 reorganisation (lad22_lad23) or a later code for a
    # 2024 LAD (Barnsley E08000016 -> E08000038, Sheffield E08000019 -> E08000039 in the history file): then
    # the 2024 LAD is the one whose own history leads to the same active code.
    active = hist.set_index("lad_code")["lad24_code"]
    back = {a: c for c, a in active.reindex(lad24["lad24_code"]).dropna().items() if a != c}
    step = {**lad22_lad23().set_index("lad22_code")["lad23_code"].to_dict(), **back}
    outside = ~hist["lad24_code"].isin(lad24["lad24_code"])
    hist.loc[outside, "lad24_code"] = hist.loc[outside, "lad24_code"].map(step)
    own = lad24.rename(columns={"lad24_code": "lad_code", "lad24_name": "lad_name"}).assign(
        lad24_code=lambda d: d["lad_code"])
    out = pd.concat([own, hist[~hist["lad_code"].isin(own["lad_code"])]], ignore_index=True)
    return out.drop_duplicates("lad_code").sort_values("lad_code", ignore_index=True)


# --------------------------------------------------------------------------- population
@lru_cache(maxsize=4)
def population_lsoa11_wide(year: int = 2020) -> pd.DataFrame:
    """ONS mid-year population by LSOA (2011), one row per LSOA and one column per single year of age.

    Columns ``lsoa11_code`` and ``0`` ... ``89``, ``90+`` (persons). See :func:`population_lsoa11`.
    """
    if year not in (2019, 2020):
        raise ValueError(f"year must be 2019 or 2020 (the mid-year estimates shipped), got {year!r}")
    df = _read(f"population/ons_mye_mid{year}_lsoa11_syoa_persons.csv.gz")
    return df[["lsoa11_code"] + AGE_COLUMNS]


def population_lsoa11(year: int = 2020) -> pd.DataFrame:
    """ONS mid-year population estimates by LSOA (2011) and single year of age, persons, long format.

    Parameters
    ----------
    year : {2019, 2020}
        Mid-year of the estimate (SAPE22DT2 mid-2019 or SAPE23DT2 mid-2020).

    Returns
    -------
    DataFrame
        ``lsoa11_code`` (category), ``age`` (int16, 0-90 where 90 means 90 and over), ``population`` (int32,
        persons).
    """
    wide = population_lsoa11_wide(year)
    values = wide[AGE_COLUMNS].to_numpy(dtype="int32")
    n_lsoa, n_age = values.shape
    return pd.DataFrame({
        "lsoa11_code": pd.Categorical(np.repeat(wide["lsoa11_code"].to_numpy(), n_age)),
        "age": np.tile(np.arange(n_age, dtype="int16"), n_lsoa),
        "population": values.ravel(),
    })


# --------------------------------------------------------------------------- local-authority population
@lru_cache(maxsize=1)
def population_settings() -> dict:
    """Denominator settings in ``config/population.yaml`` (mid-years, series break, year rule, ethnic groups)."""
    from svtools.config import read_yaml
    from svtools.paths import CONFIG

    return read_yaml(CONFIG / "population.yaml")


def _age_int(age: pd.Series) -> np.ndarray:
    """'0' ... '89', '90+' (or '90', the open band) as int16 0-90, 90 meaning 90 and over."""
    return age.astype(str).str.replace("+", "", regex=False).astype("int16").to_numpy()


def _census_base(years) -> np.ndarray:
    first = int(population_settings()["census_2021_based_from"])
    return np.where(np.asarray(years) >= first, 2021, 2011).astype("int16")


def _lad_frame(mid_year, code, name, sex, age, population) -> pd.DataFrame:
    out = pd.DataFrame({
        "mid_year": np.asarray(mid_year, dtype="int16"),
        "lad_code": np.asarray(code, dtype=object),
        "lad_name": np.asarray(name, dtype=object),
        "sex": np.asarray(sex, dtype=object),
        "age": np.asarray(age, dtype="int16"),
        "population": np.asarray(population, dtype="int64"),
    })
    out["census_base"] = _census_base(out["mid_year"])
    return out


@lru_cache(maxsize=1)
def population_lad_mye2() -> pd.DataFrame:
    """ONS MYE2 population by local authority, single year of age and sex, mid-2014 to mid-2023.

    Each mid-year is on **its own year's LAD boundaries** (e.g. the six Cumbria districts to mid-2021,
    Cumberland and Westmorland and Furness from mid-2022). Only LADs are kept (:data:`LAD_PATTERN`).

    Returns
    -------
    DataFrame
        ``mid_year`` (int16), ``lad_code``, ``lad_name``, ``sex`` ("F", "M"), ``age`` (int16 0-90, 90 = 90 and
        over), ``population`` (int64 persons at 30 June), ``census_base`` (2011 to mid-2020, 2021 from
        mid-2021: the series break of SOURCES.md §5).

    Notes
    -----
    Source: ``population/ons_mye2_la_sya_sex_2014_2023_long.csv.gz`` (ONS, OGL v3.0), reshaped long from the
    published MYE2 workbooks with no value changed.
    """
    df = _read("population/ons_mye2_la_sya_sex_2014_2023_long.csv.gz",
               dtype={"area_code": str, "area_name": str, "geography": str, "sex": str, "age": str})
    df = df[df["area_code"].str.match(LAD_PATTERN)]
    bad = ~df["sex"].isin(["F", "M"])
    if bad.any():  # pragma: no cover - a changed source would surface here
        raise DataValidationError("MYE2 sex must be F or M", column="sex",
                                  examples=sorted(df.loc[bad, "sex"].unique())[:5])
    return _lad_frame(df["mid_year"], df["area_code"], df["area_name"], df["sex"], _age_int(df["age"]),
                      df["population"])


@lru_cache(maxsize=1)
def population_lad_2011() -> pd.DataFrame:
    """ONS mid-2011 population by local authority (**April 2023 boundaries**), single year of age and sex.

    Sheet MYEB1 of the mid-2022 release (``mye22final.xlsx``): the 2011-Census-based mid-2011 estimate recast
    on 2023 LADs. Same columns as :func:`population_lad_mye2` (``census_base`` 2011).
    """
    df = _read("population/ons_mye22final_MYEB1_2011_2022_uk_lad23_sya_sex.csv.gz",
               dtype={"code": str, "name": str, "geography": str, "sex": str, "age": str})
    df = df[df["code"].str.match(LAD_PATTERN)]
    return _lad_frame(2011, df["code"], df["name"], df["sex"], _age_int(df["age"]), df["population_2011"])


@lru_cache(maxsize=1)
def population_lad_2024() -> pd.DataFrame:
    """ONS mid-2024 population by local authority (2023 boundaries) and single year of age, **persons only**.

    ``mye24tablesew`` sheet "MYE2 - Persons". Same columns as :func:`population_lad_mye2` with ``sex`` "P"
    (persons: the file has no split by sex) and ``census_base`` 2021.
    """
    df = _read("population/ons_mye2_mid2024_ew_persons.csv", encoding="utf-8-sig", dtype={"Code": str})
    df = df[df["Code"].astype(str).str.match(LAD_PATTERN)]
    total = df["All ages"].astype("int64")
    ages = df[AGE_COLUMNS].astype("int64")
    if not (ages.sum(axis=1) == total).all():  # pragma: no cover - a changed source would surface here
        raise DataValidationError("mid-2024: single years do not sum to all ages",
                                  file=str(real_file("population/ons_mye2_mid2024_ew_persons.csv")))
    n_age = len(AGE_COLUMNS)
    return _lad_frame(2024, np.repeat(df["Code"].to_numpy(), n_age), np.repeat(df["Name"].to_numpy(), n_age),
                      "P", np.tile(np.arange(n_age), len(df)), ages.to_numpy().ravel())


def population_lad(years=None) -> pd.DataFrame:
    """ONS local-authority population for every shipped mid-year (2011, 2014-2023, 2024), long format.

    Parameters
    ----------
    years : iterable of int, optional
        Mid-years wanted (default ``mid_years`` in ``config/population.yaml``).

    Returns
    -------
    DataFrame
        ``mid_year, lad_code, lad_name, sex, age, population, census_base`` as :func:`population_lad_mye2`.
        Each mid-year is on its own boundaries (2011 and 2024: the 2023 LADs). ``sex`` is "F"/"M" except
        mid-2024, which is persons ("P"), so summing the rows of a year over sex always gives persons.
    """
    years = sorted(int(y) for y in (years if years is not None else population_settings()["mid_years"]))
    known = {2011, 2024, *range(2014, 2024)}
    unknown = sorted(set(years) - known)
    if unknown:
        raise ValueError(f"no ONS LAD estimate shipped for mid-{unknown[0]} (shipped: 2011, 2014-2024)")
    parts = []
    if 2011 in years:
        parts.append(population_lad_2011())
    mye2 = [y for y in years if 2014 <= y <= 2023]
    if mye2:
        m = population_lad_mye2()
        parts.append(m[m["mid_year"].isin(mye2)])
    if 2024 in years:
        parts.append(population_lad_2024())
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- ethnicity (Census 2021)
def _high_level(group: pd.Series) -> pd.Series:
    mapping = population_settings()["ethnicity_high_level"]
    prefix = group.str.split(":").str[0].str.strip()
    out = prefix.map(mapping)
    if out.isna().any():  # pragma: no cover - a changed source would surface here
        raise DataValidationError("Census 2021 ethnic group not in config/population.yaml ethnicity_high_level",
                                  column="ethnic_group", examples=sorted(prefix[out.isna()].unique())[:5])
    return out


@lru_cache(maxsize=1)
def ethnicity_lad21() -> pd.DataFrame:
    """Census 2021 usual residents by ethnic group (19 categories) and local authority (2021 boundaries).

    Returns
    -------
    DataFrame
        ``lad21_code, lad21_name, ethnic_group`` (the 19 ONS categories, e.g. "Asian, Asian British or Asian
        Welsh: Indian"), ``ethnicity`` (the ONS 2021 high-level group the records use: Asian, Black, Mixed,
        White, Other; ``config/population.yaml``), ``population`` (int64 persons, all ages, Census day
        21 March 2021). The "(percent)" rows of the source are dropped.

    Notes
    -----
    Source: ``ethnicity/census2021_ethnic_group_19cat_lad21.csv`` (ONS Census 2021, OGL v3.0). All ages only:
    no ethnicity-by-age table is shipped.
    """
    df = _read("ethnicity/census2021_ethnic_group_19cat_lad21.csv", dtype={"ltla21_code": str})
    df = df[df["ethnic_group"].str.endswith("(number)")].copy()
    df["ethnic_group"] = df["ethnic_group"].str.replace(r"\s*\(number\)$", "", regex=True).str.strip()
    out = pd.DataFrame({
        "lad21_code": df["ltla21_code"].to_numpy(), "lad21_name": df["ltla21_name"].to_numpy(),
        "ethnic_group": df["ethnic_group"].to_numpy(), "ethnicity": _high_level(df["ethnic_group"]).to_numpy(),
        "population": df["value"].round().astype("int64").to_numpy(),
    })
    return out.sort_values(["lad21_code", "ethnicity", "ethnic_group"], ignore_index=True)


@lru_cache(maxsize=1)
def ethnicity_lsoa21() -> pd.DataFrame:
    """Census 2021 usual residents by high-level ethnic group (5) and LSOA (2021): TS021.

    Returns ``lsoa21_code, ethnicity`` (Asian, Black, Mixed, White, Other) and ``population`` (int64 persons).
    Used to split a LAD's 19-category counts between the CSPs that share it.
    """
    df = _read("ethnicity/census2021_ts021_ethnic_group_5cat_lsoa21.csv.gz", dtype={"lsoa21_code": str})
    mapping = {**population_settings()["ethnicity_high_level"]}
    eth = df["ethnic_group"].map(mapping)
    if eth.isna().any():  # pragma: no cover
        raise DataValidationError("TS021 ethnic group not in config/population.yaml", column="ethnic_group",
                                  examples=sorted(df.loc[eth.isna(), "ethnic_group"].unique())[:5])
    return pd.DataFrame({"lsoa21_code": df["lsoa21_code"].to_numpy(), "ethnicity": eth.to_numpy(),
                         "population": df["n"].astype("int64").to_numpy()})


# --------------------------------------------------------------------------- deprivation
@lru_cache(maxsize=1)
def imd2019_lsoa11() -> pd.DataFrame:
    """English IMD 2019 by LSOA (2011): ``lsoa11_code, imd_rank, imd_decile`` (decile 1 = most deprived)."""
    df = _read("imd/imd2019_england_lsoa11_ranks_deciles.csv", usecols=["lsoa11_code", "IMD_rank", "IMD_decile"])
    return df.rename(columns={"IMD_rank": "imd_rank", "IMD_decile": "imd_decile"})


@lru_cache(maxsize=1)
def wimd2019_lsoa11() -> pd.DataFrame:
    """Welsh IMD 2019 by LSOA (2011): ``lsoa11_code, imd_rank, imd_decile, imd_score`` (1 = most deprived)."""
    df = _read("imd/wimd2019_wales_lsoa11.csv", usecols=["lsoa11_code", "IMD_rank", "IMD_decile", "IMD_score"])
    return df.rename(columns={"IMD_rank": "imd_rank", "IMD_decile": "imd_decile", "IMD_score": "imd_score"})


@lru_cache(maxsize=1)
def imd2025_lsoa21() -> pd.DataFrame:
    """English IMD 2025 by LSOA (2021): ``lsoa21_code, imd_rank, imd_decile, imd_score``."""
    df = _read(
        "imd/imd2025_england_lsoa21_scores_ranks_deciles.csv",
        usecols=["lsoa21_code", "IMD_rank", "IMD_decile", "IMD_score"],
    )
    return df.rename(columns={"IMD_rank": "imd_rank", "IMD_decile": "imd_decile", "IMD_score": "imd_score"})


# --------------------------------------------------------------------------- standards and weights
@lru_cache(maxsize=1)
def esp2013() -> pd.DataFrame:
    """European Standard Population 2013, 19 bands (0-4 ... 90+), summing to 100,000.

    Columns ``age_band, age_lower, age_upper (NaN for 90+), esp2013_population``. Source: Eurostat (2013) via
    PHEindicatormethods 2.1.0 ``esp2013``.
    """
    df = _read("esp/esp2013_19_age_bands.csv")
    total = int(df["esp2013_population"].sum())
    if total != 100_000 or len(df) != 19:
        raise DataValidationError(f"ESP 2013 should have 19 bands summing to 100,000, got {len(df)} bands, {total}",
                                  file=str(real_file("esp/esp2013_19_age_bands.csv")))
    return df


def _normalise_code(code: str) -> str:
    """ONS tables write Home Office codes with dots ("4.1"); the counting rules use slashes ("4/1")."""
    return str(code).strip().replace(".", "/")


@lru_cache(maxsize=1)
def css_weights() -> pd.DataFrame:
    """ONS Crime Severity Score weights by Home Office offence code, in equivalent days of custody.

    Returns ``ho_offence_code, description, offence_category, severity_weight``. The homicide line "1, 4.1/2/10"
    is expanded to codes 1, 4/1, 4/2 and 4/10. Weight vintage not stated by the source (see SOURCES.md §7).
    """
    df = _read("harm/ons_css_weights_by_ho_offence_code.csv")
    rows = []
    for rec in df.itertuples(index=False):
        code = str(rec.code_severity)
        if code.startswith("1, 4.1"):
            codes = ["1", "4/1", "4/2", "4/10"]
        else:
            codes = [_normalise_code(c) for c in code.split(",")]
        for c in codes:
            rows.append((c, rec.description, rec.category_counts, float(rec.weight)))
    out = pd.DataFrame(rows, columns=["ho_offence_code", "description", "offence_category", "severity_weight"])
    return out.drop_duplicates("ho_offence_code", ignore_index=True)


@lru_cache(maxsize=1)
def prc_pfa_2019_20() -> pd.DataFrame:
    """Home Office police recorded crime by PFA, quarter and offence code, 2019/20 (open data tables)."""
    df = _read("home_office_prc/prc_pfa_2019-20_by_quarter_offence_code.csv")
    df = df.rename(
        columns={
            "Financial Year": "financial_year",
            "Financial Quarter": "quarter",
            "Force Name": "force_name",
            "Offence Description": "description",
            "Offence Group": "offence_group",
            "Offence Subgroup": "offence_subgroup",
            "Offence Code": "ho_offence_code",
            "Number of Offences": "offences",
        }
    )
    df["ho_offence_code"] = df["ho_offence_code"].astype(str).map(_normalise_code)
    df["offences"] = df["offences"].fillna(0).astype(np.int64)
    return df


@lru_cache(maxsize=1)
def offence_codes() -> pd.DataFrame:
    """Home Office offence codes known to svtools: ``ho_offence_code, description, offence_group, offence_subgroup``.

    The union of the codes in the Home Office PRC 2019/20 open data table (with ONS group and subgroup) and
    ``config/offence_codes.yaml`` (historic and serious-violence codes from the Home Office Counting Rules that
    the open table lacks). The config wins where both have a code.
    """
    from svtools.config import read_yaml
    from svtools.paths import CONFIG

    prc = prc_pfa_2019_20()
    table = (
        prc[["ho_offence_code", "description", "offence_group", "offence_subgroup"]]
        .drop_duplicates("ho_offence_code")
        .set_index("ho_offence_code")
    )
    extra = read_yaml(CONFIG / "offence_codes.yaml")["codes"]
    cfg = pd.DataFrame(
        [(str(k), v["description"], v["offence_group"], v["offence_subgroup"]) for k, v in extra.items()],
        columns=["ho_offence_code", "description", "offence_group", "offence_subgroup"],
    ).set_index("ho_offence_code")
    table = pd.concat([table[~table.index.isin(cfg.index)], cfg]).reset_index()
    return table.sort_values("ho_offence_code", ignore_index=True)
