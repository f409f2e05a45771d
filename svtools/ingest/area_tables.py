"""The shared tables every processed dataset holds for the CSPs it covers, and file hashing.

``areas.parquet`` (CSP, LAD, force names and 2020 population), ``population.parquet`` (CSP x year x single year of
age, 2019 and 2020), ``lsoa.parquet`` (LSOA, CSP, IMD decile, 2020 population). Record extracts
(:mod:`svtools.ingest.extract`) and count tables (:mod:`svtools.ingest.aggregate`) both write them here, so the
pages read the same shapes whatever the source.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from svtools.ingest.geography import areas, csp_population, lsoa_geography
from svtools.ingest.reference import AGE_COLUMNS, population_lsoa11_wide

__all__ = ["write_area_tables", "sha256_file"]


def write_area_tables(csp_codes, out: Path) -> list[str]:
    """Write ``areas``, ``population`` and ``lsoa`` parquet for these CSPs into ``out``; returns the CSP codes.

    Population: ONS mid-year estimates by LSOA (2019 and 2020), summed to CSPs through the 2011 LSOA lookup.
    """
    csp_list = sorted(set(csp_codes))
    pop = pd.concat([csp_population(y, csp_list).assign(year=y) for y in (2019, 2020)], ignore_index=True)
    pop[["csp_code", "year", "age", "population"]].to_parquet(out / "population.parquet", index=False)
    totals = pop[pop["year"] == 2020].groupby("csp_code")["population"].sum()
    area = areas()
    area = area[area["csp_code"].isin(csp_list)].copy()
    area["population"] = area["csp_code"].map(totals).astype("int64")
    area.to_parquet(out / "areas.parquet", index=False)
    geo = lsoa_geography()
    lsoa = geo.loc[geo["csp_code"].isin(csp_list) & (geo["lsoa_vintage"] == "2011"),
                   ["lsoa_code", "lsoa_name", "csp_code", "imd_decile", "country"]]
    wide = population_lsoa11_wide(2020)
    lpop = pd.Series(wide[AGE_COLUMNS].sum(axis=1).to_numpy(), index=wide["lsoa11_code"])
    lsoa = lsoa.assign(population=lsoa["lsoa_code"].map(lpop).fillna(0).astype("int64"))
    lsoa.to_parquet(out / "lsoa.parquet", index=False)
    return csp_list


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes (input hashes in ``dataset.json`` and the run manifest)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()
