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
    "population_lsoa11",
    "population_lsoa11_wide",
    "imd2019_lsoa11",
    "wimd2019_lsoa11",
    "imd2025_lsoa21",
    "esp2013",
    "css_weights",
    "offence_codes",
    "prc_pfa_2019_20",
    "AGE_COLUMNS",
]

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
