"""The shared tables every processed dataset holds for the CSPs it covers, and file hashing.

:func:`write_area_tables` writes, for the dataset's CSPs (2024):

* ``areas.parquet`` - CSP, LAD and force codes and names, and ``population``: all-age residents at the **latest**
  mid-year shipped (``population_year``, 2024), for display only; rates take their denominators from
  ``population.parquet`` through :mod:`svtools.analysis.population`;
* ``population.parquet`` - ``csp_code, year, age, sex, population, census_base``: ONS local-authority mid-year
  estimates for every shipped mid-year (2011, 2014-2023, 2024) by single year of age (0-90, 90 = 90 and over) and
  sex (F, M; mid-2024 is persons only, sex "P"), each year bridged from its own LAD boundaries to the 2024 CSPs
  (:func:`csp_population_by_year`). ``census_base`` is 2011 up to mid-2020 and 2021 from mid-2021 (series break).
  Mid-year ``y`` (30 June ``y``) is the denominator of financial year ``y/y+1``, in which it falls;
* ``lsoa.parquet`` - LSOA (2011), CSP, IMD decile, country and ``population`` (mid-2020, all ages;
  ``population_year``);
* ``lsoa_population.parquet`` - ``lsoa_code, year, age, population``: ONS LSOA (2011) single-year-of-age
  estimates, mid-2019 and mid-2020, persons (the base that :func:`svtools.analysis.population.lsoa_residents`
  scales to each year's CSP figure);
* ``ethnicity.parquet`` - ``csp_code, ethnic_group, ethnicity, population``: Census 2021 usual residents by the
  19 ethnic groups and the 5 high-level groups the records use (:func:`csp_ethnicity`).

Record extracts (:mod:`svtools.ingest.extract`) and count tables (:mod:`svtools.ingest.aggregate`) both write
them here, so the pages read the same shapes whatever the source.

Bridging LAD codes to CSPs
--------------------------
Each year's LAD code is taken to the 2024 LAD holding it with
:func:`svtools.ingest.reference.lad_code_history` (every change 2011-2024 was a merger of whole districts or a
new code, so an old LAD lies inside one 2024 LAD; merged LADs are simply summed).

* A 2024 LAD with one CSP (most): the whole LAD goes to that CSP; a CSP of several LADs (Cwm Taf, South
  Warwickshire, ...) is the sum of its LADs.
* A 2024 LAD with several CSPs (Cumberland, Westmorland and Furness, Buckinghamshire, North and West
  Northamptonshire, Bournemouth Christchurch and Poole, East Suffolk): the LAD of that year (the old district
  while it existed, e.g. Allerdale to mid-2021 or Aylesbury Vale to mid-2019, else the merged authority) is split
  between the CSPs by single year of age in proportion to its 2011 LSOAs' ONS estimates of the nearest LSOA
  mid-year (2019 or 2020; the same share for both sexes), the LSOAs being assigned to CSPs exactly as the records
  are (:func:`svtools.ingest.geography.lsoa_geography`). An old district usually lies wholly in one CSP, so its
  share is 1. Split counts are rounded to whole persons by largest remainder, so the CSPs of a LAD sum exactly to
  the LAD's published figure.
* Census 2021 ethnicity (2021 LADs) is split the same way, with the Census 2021 LSOA (2021) counts of the five
  high-level groups (TS021); a 19-category group takes its high-level group's shares.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from svtools.errors import DataValidationError
from svtools.ingest import reference as ref
from svtools.ingest.geography import areas, lsoa_geography
from svtools.ingest.reference import AGE_COLUMNS, population_lsoa11_wide

__all__ = [
    "POPULATION_SOURCES",
    "write_area_tables",
    "csp_population_by_year",
    "csp_ethnicity",
    "lad_csp_weights",
    "lsoa_population_base",
    "sha256_file",
]

#: The ``sources`` lines of ``dataset.json`` for the tables written here.
POPULATION_SOURCES = [
    "ONS mid-year population estimates by local authority, single year of age and sex: mid-2011, mid-2014 to "
    "mid-2023 (MYE2, each on its own boundaries; Census 2021-based from mid-2021) and mid-2024 (persons) (OGL v3.0)",
    "ONS mid-year population estimates by LSOA (2011) and single year of age, mid-2019 and mid-2020 (OGL v3.0)",
    "Census 2021 ethnic group (19 categories) by local authority and TS021 (5 groups) by LSOA (ONS, OGL v3.0)",
]

_N_AGE = len(AGE_COLUMNS)


def _lsoa_year(year: int) -> int:
    """The shipped LSOA mid-year nearest to ``year`` (ties: the earlier)."""
    avail = sorted(int(y) for y in ref.population_settings()["lsoa_mid_years"])
    return min(avail, key=lambda a: (abs(a - int(year)), a))


def _multi_csp_lads() -> dict[str, list[str]]:
    lk = ref.lad24_csp_pfa()
    by = lk.groupby("lad24_code")["csp_code"].agg(lambda s: sorted(set(s)))
    return {k: v for k, v in by.items() if len(v) > 1}


def _lsoa11_members(code: str, name: str, lad24: str) -> pd.Index:
    """2011 LSOA codes lying in LAD ``code`` (of any year) inside the 2024 LAD ``lad24``."""
    geo = lsoa_geography()
    g11 = geo[geo["lsoa_vintage"] == "2011"]
    if code == lad24:
        return pd.Index(g11.loc[g11["lad_code"] == lad24, "lsoa_code"])
    l21 = ref.lsoa11_lad21()
    hit = l21.loc[l21["lad21_code"] == code, "lsoa11_code"]
    if hit.empty:  # a district gone before 2021 (e.g. Aylesbury Vale): its 2011 LSOAs carry its name
        hit = g11.loc[(g11["district_2011"] == name) & (g11["lad_code"] == lad24), "lsoa_code"]
    return pd.Index(hit)


def lad_csp_weights(lads: pd.DataFrame, lsoa_year: int = 2020) -> pd.DataFrame:
    """Share of each LAD's residents, by single year of age, that lives in each 2024 CSP.

    Parameters
    ----------
    lads : DataFrame
        ``lad_code, lad_name`` of one year's LADs (any vintage since 2011).
    lsoa_year : {2019, 2020}
        Mid-year of the LSOA estimates that split a LAD holding several CSPs.

    Returns
    -------
    DataFrame
        ``lad_code, csp_code, age`` (0-90), ``weight`` (0-1; the weights of a LAD and age sum to 1). A LAD in a
        single CSP has weight 1 at every age.

    Raises
    ------
    DataValidationError
        A LAD code that no lookup knows, or a split LAD with no LSOA.
    """
    hist = ref.lad_code_history().set_index("lad_code")["lad24_code"]
    lk = ref.lad24_csp_pfa()
    single = lk.groupby("lad24_code")["csp_code"].first()
    multi = _multi_csp_lads()
    lads = lads[["lad_code", "lad_name"]].drop_duplicates("lad_code")
    target = lads["lad_code"].map(hist)
    if target.isna().any():
        raise DataValidationError("LAD codes in the population file that no lookup maps to a 2024 LAD",
                                  column="lad_code", examples=sorted(lads.loc[target.isna(), "lad_code"])[:5])
    ages = np.arange(_N_AGE, dtype="int16")
    parts = []
    is_multi = target.isin(multi).to_numpy()
    plain = lads[~is_multi]
    if len(plain):
        csp = target[~is_multi].map(single).to_numpy()
        parts.append(pd.DataFrame({
            "lad_code": np.repeat(plain["lad_code"].to_numpy(), _N_AGE),
            "csp_code": np.repeat(csp, _N_AGE),
            "age": np.tile(ages, len(plain)),
            "weight": 1.0,
        }))
    if is_multi.any():
        wide = population_lsoa11_wide(lsoa_year).set_index("lsoa11_code")[AGE_COLUMNS]
        csp_of = lsoa_geography().set_index("lsoa_code")["csp_code"]
        for rec, lad24 in zip(lads[is_multi].itertuples(index=False), target[is_multi]):
            members = _lsoa11_members(rec.lad_code, rec.lad_name, lad24)
            if members.empty:
                raise DataValidationError("a LAD shared by several CSPs has no 2011 LSOA to split it by",
                                          column="lad_code", examples=[f"{rec.lad_code} {rec.lad_name}"])
            by_csp = wide.reindex(members).fillna(0).groupby(csp_of.reindex(members).to_numpy()).sum()
            tot = by_csp.sum(axis=0)
            allage = by_csp.sum(axis=1) / float(tot.sum())
            share = by_csp.div(tot.where(tot > 0), axis=1)
            share = share.apply(lambda col: col.fillna(allage))  # an age with no residents: all-age shares
            parts.append(pd.DataFrame({
                "lad_code": rec.lad_code,
                "csp_code": np.repeat(share.index.to_numpy(), _N_AGE),
                "age": np.tile(ages, len(share)),
                "weight": share.to_numpy(dtype="float64").ravel(),
            }))
    return pd.concat(parts, ignore_index=True)


def _apportion(frame: pd.DataFrame, keys: list[str], value: str = "raw") -> np.ndarray:
    """Whole numbers from fractional shares that sum, within each ``keys`` group, to the group's (integer) total
    (largest remainder; ties to the first row)."""
    raw = frame[value].to_numpy(dtype="float64")
    floor = np.floor(raw + 1e-9)
    tmp = pd.DataFrame({"raw": raw, "floor": floor, "frac": raw - floor}, index=frame.index)
    g = tmp.groupby([frame[k].to_numpy() for k in keys], sort=False)
    short = g["raw"].transform("sum").round().to_numpy() - g["floor"].transform("sum").to_numpy()
    order = g["frac"].rank(method="first", ascending=False).to_numpy()
    return (floor + (order <= short)).astype("int64")


def csp_population_by_year(csp_codes=None, years=None) -> pd.DataFrame:
    """Residents of 2024 CSPs by mid-year, single year of age and sex, from ONS local-authority estimates.

    Parameters
    ----------
    csp_codes : iterable of str, optional
        CSPs wanted (default: every CSP of England and Wales).
    years : iterable of int, optional
        Mid-years (default ``mid_years`` of ``config/population.yaml``: 2011, 2014-2024).

    Returns
    -------
    DataFrame
        ``csp_code, year`` (int64 mid-year), ``age`` (int16, 0-90 where 90 = 90 and over), ``sex`` ("F", "M";
        "P" persons for mid-2024), ``population`` (int64 persons at 30 June of the year), ``census_base`` (int16:
        2011 or 2021). Mid-year ``y`` is the denominator of financial year ``y/y+1``.

    Notes
    -----
    Each mid-year is on its own LAD boundaries and is bridged to the CSPs as the module docstring says. A LAD
    shared by several CSPs is split by age with its LSOAs' estimates of the nearest LSOA mid-year (2019 for
    2011-2019, 2020 from 2020). Mid-2011 and mid-2014 ... mid-2020 are 2011-Census-based, mid-2021 onward
    Census 2021-based: a step between 2020 and 2021 may be rebasing, not change.
    """
    lad = ref.population_lad(years)
    hist = ref.lad_code_history().set_index("lad_code")["lad24_code"]
    wanted = None
    if csp_codes is not None:
        wanted = sorted(set(csp_codes))
        lk = ref.lad24_csp_pfa()
        unknown = sorted(set(wanted) - set(lk["csp_code"]))
        if unknown:
            from svtools.errors import MissingAreaError

            raise MissingAreaError(unknown[0], known=sorted(lk["csp_code"].unique()))
        lads24 = set(lk.loc[lk["csp_code"].isin(wanted), "lad24_code"])
        lad = lad[lad["lad_code"].map(hist).isin(lads24)]
    out = []
    for year, rows in lad.groupby("mid_year", sort=True):
        w = lad_csp_weights(rows[["lad_code", "lad_name"]], _lsoa_year(int(year)))
        m = rows.merge(w, on=["lad_code", "age"], how="inner")
        if len(m) < len(rows):  # pragma: no cover - every LAD has weights at every age
            raise DataValidationError("population rows lost in the LAD to CSP bridge", column="lad_code")
        m["raw"] = m["population"] * m["weight"]
        m["population"] = _apportion(m, ["lad_code", "sex", "age"])
        out.append(m.groupby(["csp_code", "mid_year", "age", "sex", "census_base"], as_index=False)
                   ["population"].sum())
    pop = pd.concat(out, ignore_index=True).rename(columns={"mid_year": "year"})
    if wanted is not None:
        pop = pop[pop["csp_code"].isin(wanted)]
    pop["year"] = pop["year"].astype("int64")
    pop["age"] = pop["age"].astype("int16")
    pop["population"] = pop["population"].astype("int64")
    pop["census_base"] = pop["census_base"].astype("int16")
    return pop[["csp_code", "year", "age", "sex", "population", "census_base"]].sort_values(
        ["csp_code", "year", "sex", "age"], ignore_index=True)


def csp_ethnicity(csp_codes=None) -> pd.DataFrame:
    """Census 2021 usual residents of 2024 CSPs by ethnic group (19 categories and the 5 high-level groups).

    Parameters
    ----------
    csp_codes : iterable of str, optional
        CSPs wanted (default: every CSP).

    Returns
    -------
    DataFrame
        ``csp_code, ethnic_group`` (19 ONS categories), ``ethnicity`` (Asian, Black, Mixed, White, Other),
        ``population`` (int64 persons, all ages, Census day 21 March 2021).

    Notes
    -----
    A 2021 LAD in one 2024 CSP goes wholly to it; a LAD shared by several CSPs (Bournemouth Christchurch and
    Poole, Buckinghamshire, the Northamptonshires, East Suffolk) is split by the Census 2021 LSOA (2021) counts
    of each high-level group (TS021), the LSOAs placed in CSPs as the records are; counts are rounded to whole
    persons by largest remainder. Source: ``ethnicity/`` of the shipped real data (SOURCES.md §5a).
    """
    eth = ref.ethnicity_lad21()
    hist = ref.lad_code_history().set_index("lad_code")["lad24_code"]
    lk = ref.lad24_csp_pfa()
    single = lk.groupby("lad24_code")["csp_code"].first()
    multi = _multi_csp_lads()
    target = eth["lad21_code"].map(hist)
    if target.isna().any():  # pragma: no cover
        raise DataValidationError("Census 2021 LAD codes that no lookup maps to a 2024 LAD", column="lad21_code",
                                  examples=sorted(eth.loc[target.isna(), "lad21_code"].unique())[:5])
    plain = eth[~target.isin(multi)].assign(csp_code=target[~target.isin(multi)].map(single))
    parts = [plain[["csp_code", "ethnic_group", "ethnicity", "population"]]]
    split = eth[target.isin(multi)]
    if len(split):
        bridge = ref.lsoa11_lsoa21()[["lsoa21_code", "lad22_code"]].drop_duplicates("lsoa21_code")
        csp_of = lsoa_geography().set_index("lsoa_code")["csp_code"]
        l21 = ref.ethnicity_lsoa21()
        l21 = l21.merge(bridge, on="lsoa21_code", how="left")
        l21["csp_code"] = l21["lsoa21_code"].map(csp_of)
        l21 = l21[l21["lad22_code"].isin(split["lad21_code"])]
        share = l21.groupby(["lad22_code", "ethnicity", "csp_code"])["population"].sum()
        share = (share / share.groupby(level=[0, 1]).transform("sum")).rename("weight").reset_index()
        share = share.rename(columns={"lad22_code": "lad21_code"})
        m = split.merge(share, on=["lad21_code", "ethnicity"], how="left")
        if m["weight"].isna().any():  # pragma: no cover
            raise DataValidationError("a shared LAD has no LSOA counts to split it by", column="lad21_code",
                                      examples=sorted(m.loc[m["weight"].isna(), "lad21_code"].unique())[:5])
        m["raw"] = m["population"] * m["weight"]
        m["population"] = _apportion(m, ["lad21_code", "ethnic_group"])
        parts.append(m[["csp_code", "ethnic_group", "ethnicity", "population"]])
    out = (pd.concat(parts, ignore_index=True)
           .groupby(["csp_code", "ethnicity", "ethnic_group"], as_index=False)["population"].sum())
    if csp_codes is not None:
        out = out[out["csp_code"].isin(set(csp_codes))]
    out["population"] = out["population"].astype("int64")
    return out[["csp_code", "ethnic_group", "ethnicity", "population"]].sort_values(
        ["csp_code", "ethnicity", "ethnic_group"], ignore_index=True)


def lsoa_population_base(lsoa_codes) -> pd.DataFrame:
    """ONS LSOA (2011) residents by single year of age, mid-2019 and mid-2020: ``lsoa_code, year, age,
    population`` (int32 persons; ages 0-90, 90 = 90 and over)."""
    codes = pd.Index(sorted(set(lsoa_codes)))
    out = []
    for year in sorted(int(y) for y in ref.population_settings()["lsoa_mid_years"]):
        wide = population_lsoa11_wide(year).set_index("lsoa11_code")[AGE_COLUMNS].reindex(codes).fillna(0)
        out.append(pd.DataFrame({
            "lsoa_code": np.repeat(codes.to_numpy(), _N_AGE),
            "year": np.int64(year),
            "age": np.tile(np.arange(_N_AGE, dtype="int16"), len(codes)),
            "population": wide.to_numpy(dtype="int32").ravel(),
        }))
    return pd.concat(out, ignore_index=True)


def _cached(name: str, build) -> pd.DataFrame:
    """A national table of this module, built once from the reference files and kept on disk
    (:func:`svtools.ingest.geography.disk_cached`, keyed on the files, this code and the reference readers)."""
    from svtools.ingest import geography
    from svtools.paths import CONFIG, real_data_dir

    root = real_data_dir()
    sources = tuple(str(p.relative_to(root)) for folder in ("population", "ethnicity", "lookups")
                    for p in sorted((root / folder).glob("*")) if p.is_file())
    code = (Path(__file__), Path(ref.__file__), CONFIG / "population.yaml")
    return geography.disk_cached(name, sources, code, build)


def write_area_tables(csp_codes, out: Path) -> list[str]:
    """Write ``areas``, ``population``, ``lsoa``, ``lsoa_population`` and ``ethnicity`` parquet for these CSPs
    into ``out``; returns the CSP codes (sorted).

    Parameters
    ----------
    csp_codes : iterable of str
        2024 CSP codes the dataset covers.
    out : Path
        The dataset folder.

    Notes
    -----
    Population: ONS local-authority mid-year estimates for every shipped mid-year, bridged to CSPs
    (:func:`csp_population_by_year`; mid-year ``y`` is the denominator of financial year ``y/y+1``).
    ``areas.parquet``'s ``population`` is the latest mid-year's all-age figure (column ``population_year``),
    for display; ``lsoa.parquet``'s is mid-2020 (``population_year``). Ethnicity: Census 2021
    (:func:`csp_ethnicity`). See the module docstring for the LAD-to-CSP bridge.
    """
    out = Path(out)
    csp_list = sorted(set(csp_codes))
    # every CSP is bridged on its own LADs, so the national table filtered equals the table built for these CSPs
    pop = _cached("csp_population_by_year", csp_population_by_year)
    pop = pop[pop["csp_code"].isin(csp_list)].reset_index(drop=True)
    pop.to_parquet(out / "population.parquet", index=False)
    latest = int(pop["year"].max())
    totals = pop[pop["year"] == latest].groupby("csp_code")["population"].sum()
    area = areas()
    area = area[area["csp_code"].isin(csp_list)].copy()
    area["population"] = area["csp_code"].map(totals).astype("int64")
    area["population_year"] = np.int64(latest)
    area.to_parquet(out / "areas.parquet", index=False)
    geo = lsoa_geography()
    lsoa = geo.loc[geo["csp_code"].isin(csp_list) & (geo["lsoa_vintage"] == "2011"),
                   ["lsoa_code", "lsoa_name", "csp_code", "imd_decile", "country"]]
    wide = population_lsoa11_wide(2020)
    lpop = pd.Series(wide[AGE_COLUMNS].sum(axis=1).to_numpy(), index=wide["lsoa11_code"])
    lsoa = lsoa.assign(population=lsoa["lsoa_code"].map(lpop).fillna(0).astype("int64"),
                       population_year=np.int64(2020))
    lsoa.to_parquet(out / "lsoa.parquet", index=False)
    lsoa_population_base(lsoa["lsoa_code"]).to_parquet(out / "lsoa_population.parquet", index=False)
    eth = _cached("csp_ethnicity", csp_ethnicity)
    eth[eth["csp_code"].isin(csp_list)].reset_index(drop=True).to_parquet(out / "ethnicity.parquet", index=False)
    return csp_list


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes (input hashes in ``dataset.json`` and the run manifest)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()
