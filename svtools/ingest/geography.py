"""Assign records to LSOA -> local authority (2024) -> Community Safety Partnership (2024) -> police force area.

Method
------
* 2011 LSOA codes (data.police.uk up to 2022, most force extracts): LSOA11 -> LAD 2021 (ONS best fit) ->
  LAD 2023/2024 (``lad22_lad23``, the 2023 reorganisations) -> CSP and PFA (``LAD24_CSP24_PFA24``).
* 2021 LSOA codes that are not also 2011 codes: LSOA21 -> LAD 2024 directly; their 2011 "parent" (for IMD 2019
  and for the rule below) comes from the LSOA11 -> LSOA21 best-fit lookup.
* Where a 2024 local authority holds several CSPs (the six Cumbria CSPs inside Cumberland and Westmorland and
  Furness; Buckinghamshire; the Northamptonshires; BCP; East Suffolk) the CSP is chosen from the LSOA's 2011
  district, read from its 2011 name ("Allerdale 001A" -> Allerdale), with the few districts that have no CSP of
  their own name mapped in ``config/geography.yaml``.
* A CSP that covers several councils (Cwm Taf = Rhondda Cynon Taf + Merthyr Tydfil; South Warwickshire) simply
  receives the LSOAs of each.
* Deprivation: English IMD 2019 or Welsh IMD 2019 decile of the 2011 LSOA (1 = most deprived). The two indices
  are national ranks and are not comparable across the border.

Records whose LSOA is blank are *unlocated*; a code that is well formed but in neither lookup is *unknown*;
both are counted and reported by :func:`assign_geography`, never silently dropped. A record whose LSOA lies
outside its reporting force (e.g. City of London records in Tower Hamlets) is kept, assigned to the CSP of the
LSOA, and flagged ``out_of_force``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from svtools.ingest import reference as ref
from svtools.ingest.parse import strings_by_code
from svtools.config import read_yaml
from svtools.errors import MissingAreaError, SvtoolsError
from svtools.paths import CONFIG, processed_dir, real_data_dir

__all__ = [
    "LSOA_PATTERN",
    "lsoa_geography",
    "areas",
    "assign_geography",
    "csp_population",
    "geography_settings",
    "GeographyResult",
]

#: A well-formed LSOA code: E01 (England) or W01 (Wales) followed by six digits.
LSOA_PATTERN = re.compile(r"^[EW]01\d{6}$")


def geography_settings() -> dict:
    """The rules in ``config/geography.yaml``."""
    return read_yaml(CONFIG / "geography.yaml")


def _district_from_lsoa_name(name: pd.Series) -> pd.Series:
    """2011 LSOA names are '<district> <3 digits><letter>', e.g. 'South Lakeland 012B' -> 'South Lakeland'."""
    return name.str.replace(r"\s+\d{3}[A-Z]$", "", regex=True)


#: The reference files :func:`lsoa_geography` is built from (under the shared real-data folder).
_GEOGRAPHY_SOURCES = ("lookups/lsoa11_lad21_ew.csv", "lookups/lsoa11_lsoa21_lad22_ew.csv",
                      "lookups/lsoa21_ward24_lad24_ew.csv", "lookups/lad22_lad23_ew.csv",
                      "lookups/lad24_csp24_pfa24_ew.csv", "imd/imd2019_england_lsoa11_ranks_deciles.csv",
                      "imd/wimd2019_wales_lsoa11.csv")


def _cache_key(name: str, sources: tuple[str, ...], code: tuple[Path, ...]) -> str | None:
    """A digest of everything a derived reference table depends on: the reference files (path, size, mtime),
    the code that builds it, ``config/geography.yaml`` and the pandas and pyarrow versions. None when a source
    is missing (then the table is built, and the build says what is missing)."""
    import hashlib

    h = hashlib.sha256(f"{name}|{pd.__version__}|{pa.__version__}".encode())
    try:
        for rel in sources:
            path = real_data_dir() / rel
            st = path.stat()
            h.update(f"|{path}|{st.st_size}|{st.st_mtime_ns}".encode())
        for path in (*code, CONFIG / "geography.yaml"):
            h.update(Path(path).read_bytes())
    except OSError:
        return None
    return h.hexdigest()[:20]


def disk_cached(name: str, sources: tuple[str, ...], code: tuple[Path, ...], build) -> pd.DataFrame:
    """``build()``, kept in ``<processed>/.cache/<name>-<key>.parquet`` (a frame that reads back identical:
    checked when it is written) so that a fresh process reads it in a few ms instead of rebuilding it from the
    reference CSVs. Any problem with the cache (read-only folder, a damaged file) just means ``build()``."""
    key = _cache_key(name, sources, code)
    path = processed_dir() / ".cache" / f"{name}-{key}.parquet" if key else None
    if path is not None and path.is_file():
        try:
            return pd.read_parquet(path)
        except Exception:  # noqa: BLE001 - a damaged cache file: rebuild it
            pass
    frame = build()
    if path is not None:
        try:
            import os
            import tempfile

            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".parquet", dir=path.parent)
            os.close(fd)
            try:
                frame.to_parquet(tmp, index=False)
                back = pd.read_parquet(tmp)
                pd.testing.assert_frame_equal(back, frame, check_exact=True)
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
                for stale in path.parent.glob(f"{name}-*.parquet"):  # built from older sources or code
                    if stale != path:
                        stale.unlink(missing_ok=True)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except Exception:  # noqa: BLE001 - no cache: the next process builds it again
            pass
    return frame


@lru_cache(maxsize=1)
def lsoa_geography() -> pd.DataFrame:
    """One row per LSOA code (2011 and 2021 sets) with its LAD, CSP, PFA and deprivation decile.

    Built from the reference lookups (below) once, then read from a cache under ``data/processed/.cache``
    that is keyed on those files, this code and ``config/geography.yaml`` (:func:`disk_cached`).

    Returns
    -------
    DataFrame
        ``lsoa_code`` (unique), ``lsoa_vintage`` ("2011" or "2021"; an unchanged code is listed once as "2011"),
        ``lsoa11_code`` (the 2011 code or the 2021 code's best-fit 2011 parent), ``lsoa_name``, ``district_2011``,
        ``lad_code``, ``lad_name`` (2024 LAD), ``csp_code``, ``csp_name``, ``pfa_code``, ``pfa_name``,
        ``country`` ("England" or "Wales"), ``imd_decile`` (Int8, 1 = most deprived; IMD 2019 in England,
        WIMD 2019 in Wales).
    """
    return disk_cached("lsoa_geography", _GEOGRAPHY_SOURCES, (Path(__file__), Path(ref.__file__)),
                       _build_lsoa_geography)


def _build_lsoa_geography() -> pd.DataFrame:
    cfg = geography_settings()
    lad_csp = ref.lad24_csp_pfa()

    # 2011 route
    l11 = ref.lsoa11_lad21().copy()
    lad23 = ref.lad22_lad23()[["lad22_code", "lad23_code"]]
    l11 = l11.merge(lad23, left_on="lad21_code", right_on="lad22_code", how="left")
    l11["lad24_code"] = l11["lad23_code"].fillna(l11["lad21_code"])
    l11["district_2011"] = _district_from_lsoa_name(l11["lsoa11_name"])
    l11 = l11.rename(columns={"lsoa11_name": "lsoa_name"})
    l11["lsoa_code"] = l11["lsoa11_code"]
    l11["lsoa_vintage"] = "2011"

    # 2021 route, only for codes that are new in 2021
    l21 = ref.lsoa21_lad24().copy()
    l21 = l21[~l21["lsoa21_code"].isin(l11["lsoa11_code"])]
    bridge = ref.lsoa11_lsoa21()[["lsoa21_code", "lsoa11_code", "lsoa11_name"]].drop_duplicates("lsoa21_code")
    l21 = l21.merge(bridge, on="lsoa21_code", how="left")
    l21["district_2011"] = _district_from_lsoa_name(l21["lsoa11_name"].fillna(""))
    l21 = l21.rename(columns={"lsoa21_code": "lsoa_code", "lsoa21_name": "lsoa_name"})
    l21["lsoa_vintage"] = "2021"

    cols = ["lsoa_code", "lsoa_vintage", "lsoa11_code", "lsoa_name", "district_2011", "lad24_code"]
    geo = pd.concat([l11[cols], l21[cols]], ignore_index=True)
    geo = geo.merge(lad_csp, on="lad24_code", how="left")

    # LADs with several CSPs: keep the CSP named after the LSOA's 2011 district (or the configured override).
    overrides = cfg.get("district_to_csp", {})
    n_csp = lad_csp.groupby("lad24_code")["csp_code"].transform("nunique")
    multi = lad_csp.loc[n_csp > 1, "lad24_code"].unique()
    is_multi = geo["lad24_code"].isin(multi)
    wanted = geo["district_2011"].map(overrides)
    name_match = geo["csp_name"] == geo["district_2011"]
    keep = ~is_multi | name_match | (wanted.notna() & (geo["csp_code"] == wanted))
    geo = geo[keep]
    dupes = geo["lsoa_code"].duplicated(keep=False)
    if dupes.any():  # pragma: no cover - a lookup change would surface here
        ex = geo.loc[dupes, ["lsoa_code", "district_2011", "csp_name"]].head().to_dict("records")
        raise SvtoolsError(f"geography: LSOAs assigned to more than one CSP, e.g. {ex}")

    geo = geo.rename(columns={"lad24_code": "lad_code", "lad24_name": "lad_name"})
    geo["country"] = np.where(geo["lsoa_code"].str.startswith("W"), "Wales", "England")

    imd = pd.concat([ref.imd2019_lsoa11()[["lsoa11_code", "imd_decile"]],
                     ref.wimd2019_lsoa11()[["lsoa11_code", "imd_decile"]]], ignore_index=True)
    geo = geo.merge(imd, on="lsoa11_code", how="left")
    geo["imd_decile"] = geo["imd_decile"].astype("Int8")
    out_cols = ["lsoa_code", "lsoa_vintage", "lsoa11_code", "lsoa_name", "district_2011", "lad_code", "lad_name",
                "csp_code", "csp_name", "pfa_code", "pfa_name", "country", "imd_decile"]
    return geo[out_cols].sort_values("lsoa_code", ignore_index=True)


@lru_cache(maxsize=1)
def areas() -> pd.DataFrame:
    """Every CSP (2024) with its force: ``csp_code, csp_name, pfa_code, pfa_name, lad_codes, lad_names``."""
    lk = ref.lad24_csp_pfa()
    out = (
        lk.groupby(["csp_code", "csp_name", "pfa_code", "pfa_name"], as_index=False)
        .agg(lad_codes=("lad24_code", lambda s: ";".join(sorted(set(s)))),
             lad_names=("lad24_name", lambda s: ";".join(sorted(set(s)))))
    )
    return out.sort_values(["pfa_name", "csp_name"], ignore_index=True)


def csp_population(year: int = 2020, csp_codes=None) -> pd.DataFrame:
    """Resident population of each CSP by single year of age, summed from ONS LSOA (2011) estimates.

    Parameters
    ----------
    year : {2019, 2020}
        ONS mid-year estimate.
    csp_codes : list of str, optional
        Restrict to these CSPs.

    Returns
    -------
    DataFrame
        ``csp_code, age (0-90, 90 = 90+), population`` (persons).
    """
    wide = ref.population_lsoa11_wide(year)
    geo = lsoa_geography()
    g11 = geo.loc[geo["lsoa_vintage"] == "2011"].set_index("lsoa_code")["csp_code"]
    if csp_codes is not None:
        unknown = sorted(set(csp_codes) - set(g11))
        if unknown:
            raise MissingAreaError(unknown[0], known=sorted(g11.unique()))
    by_csp = wide.groupby(wide["lsoa11_code"].map(g11))[ref.AGE_COLUMNS].sum()
    if csp_codes is not None:
        by_csp = by_csp.loc[sorted(set(csp_codes))]
    out = by_csp.rename_axis("csp_code").reset_index().melt(id_vars="csp_code", var_name="age",
                                                            value_name="population")
    out["age"] = out["age"].str.replace("+", "", regex=False).astype("int16")
    out["population"] = out["population"].astype("int64")
    return out.sort_values(["csp_code", "age"], ignore_index=True)


@lru_cache(maxsize=1)
def _lookup_arrays() -> tuple[pd.Index, dict[str, np.ndarray]]:
    """The geography table as an index of LSOA codes and one array per column (fast mapping)."""
    idx = lsoa_geography().set_index("lsoa_code")
    cols = ["lad_code", "csp_code", "csp_name", "pfa_code", "pfa_name", "country"]
    arrays = {c: pa.array(idx[c].to_numpy(dtype=object), type=pa.large_string()) for c in cols}
    arrays["imd_decile"] = idx["imd_decile"].to_numpy(dtype="float64", na_value=np.nan)
    idx.index.get_indexer(idx.index[:1])  # build the index's hash table now, not in two threads at once
    return idx.index, arrays


_STATUSES = ["located", "unlocated", "malformed", "unknown"]


class GeographyResult(dict):
    """Counts of how records were located: ``located``, ``unlocated`` (blank LSOA), ``malformed``, ``unknown``."""


def _clean_codes(column: pd.Series) -> tuple[np.ndarray, pd.Series, bool]:
    """The LSOA codes trimmed and upper-cased, once per distinct value.

    Returns the row codes (-1: missing), the cleaned distinct values ("string") and whether cleaning changed
    nothing (so the column can be kept as it is).
    """
    text = column.astype("string")
    codes, uniques = pd.factorize(text)
    distinct = pd.Series(uniques, dtype="string")
    cleaned = distinct.str.strip().str.upper()
    unchanged = bool((cleaned == distinct).all()) and text.dtype == pd.StringDtype("pyarrow")
    return codes, cleaned, unchanged


def assign_geography(frame: pd.DataFrame, lsoa_column: str = "lsoa_code",
                     force_column: str | None = None, inplace: bool = False) -> tuple[pd.DataFrame, GeographyResult]:
    """Add LAD, CSP, PFA and IMD decile to every record through its LSOA.

    Parameters
    ----------
    frame : DataFrame
        Records with an LSOA column (2011 or 2021 codes; blank = unlocated).
    lsoa_column : str
        Name of the LSOA column.
    force_column : str, optional
        Column holding the reporting force's PFA code; when given, ``out_of_force`` is True where the LSOA lies
        in another force area.
    inplace : bool
        Add the columns to ``frame`` itself (and return it) instead of to a copy.

    Returns
    -------
    (DataFrame, GeographyResult)
        The records with ``lsoa_status`` ("located", "unlocated", "malformed", "unknown"), ``lad_code``,
        ``csp_code``, ``csp_name``, ``pfa_code``, ``pfa_name``, ``imd_decile``, ``country`` and (if asked)
        ``out_of_force``; and the count of records in each status. No row is removed: the caller decides
        what to exclude and reports it.
    """
    index, arrays = _lookup_arrays()
    # every test below is on the distinct codes (a batch of a million rows holds a few thousand LSOAs)
    row_codes, cleaned, unchanged = _clean_codes(frame[lsoa_column])
    n_u = len(cleaned)
    blank_u = (cleaned.isna() | (cleaned == "")).to_numpy(dtype=bool, na_value=True)
    formed_u = cleaned.str.match(LSOA_PATTERN.pattern).fillna(False).astype(bool).to_numpy()
    pos_u = index.get_indexer(cleaned.fillna(""))
    # the last entry is what a missing code gets: blank, not well formed, not found
    at = np.where(row_codes < 0, n_u, row_codes)
    blank = np.append(blank_u, True)[at]
    well_formed = np.append(formed_u, False)[at]
    pos = np.append(pos_u, -1)[at]
    found = pos >= 0
    out = frame if inplace else frame.copy()
    take = pa.array(np.where(found, pos, 0), mask=~found)  # null where not found -> null result
    for c, values in arrays.items():
        if c == "imd_decile":
            decile = np.where(found, values[np.where(found, pos, 0)], np.nan)
            missing = np.isnan(decile)
            out[c] = pd.arrays.IntegerArray(np.where(missing, 0, decile).astype("int8"), missing)
        else:
            out[c] = pd.array(values.take(take), dtype="string")
    status = np.select([blank, ~well_formed, found], [1, 2, 0], default=3).astype("int8")
    out["lsoa_status"] = pd.Categorical.from_codes(status, categories=_STATUSES)
    if unchanged and not (cleaned == "").any():
        out[lsoa_column] = frame[lsoa_column].astype("string")  # already clean: the same values
    else:
        kept = cleaned.where(~pd.Series(blank_u, index=cleaned.index), pd.NA)
        out[lsoa_column] = strings_by_code(kept, row_codes, frame.index)
    if force_column is not None:
        out["out_of_force"] = (out["pfa_code"].notna() & (out["pfa_code"] != out[force_column].astype("string"))
                               ).fillna(False).astype(bool)
    counts = GeographyResult(zip(_STATUSES, np.bincount(status, minlength=4).astype(int).tolist()))
    if force_column is not None:
        counts["out_of_force"] = int(out["out_of_force"].sum())
    return out, counts
