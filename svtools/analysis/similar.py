"""Most-similar CSPs: the project's own nearest-neighbour benchmark groups, from the shipped real reference data.

The Home Office "most similar groups" (iQuanta MSGs) are not published openly and are not available here, so
this is the project's own, documented method (``docs/benchmarks.md``). It uses only the real reference data in
``../shared/data/real`` (ONS population estimates, the IMD/WIMD, the ONS lookups), never the crime data, so a
CSP's neighbours are the same whatever dataset or definition a page is built from.

Method
------
1. **Features per CSP** (2024 CSPs, every CSP of England and Wales that the lookups hold; :func:`csp_features`):

   * ``deprivation_percentile``: the population-weighted mean of its neighbourhoods' (LSOA 2011) deprivation
     rank as a percentile of their country (0 = most deprived, 100 = least): English IMD 2019 in England, Welsh
     WIMD 2019 in Wales, each ranked within its own country (so the feature says where a CSP stands in its own
     country; the two indices are not on one scale). Weights: ONS mid-year LSOA residents (all ages).
   * ``share_aged_10_24``: residents aged 10 to 24 (the Duty's young-people focus) as a % of all residents.
   * ``share_aged_65_plus``: residents aged 65 and over, % of all residents.
   * ``log10_residents``: log10 of all residents (size). **Population density is not used: no land area is
     shipped**, and neither is a rural-urban classification; size is the scale proxy available, and it is not
     density.
   * ``metropolitan_share`` (optional, not in the default list): % of residents living in a metropolitan
     district (E08) or London borough (E09): a crude urban proxy (Welsh cities count as 0).

   Residents are the ONS LSOA (2011) single-year-of-age estimates of ``most_similar.population_year``
   (:func:`svtools.ingest.geography.csp_population`).
2. **Standardise**: each feature in ``most_similar.features`` (``config/settings.yaml``) as a z-score over every
   CSP of England and Wales (mean 0, population standard deviation 1), so that no feature counts more for its
   units.
3. **Distance**: Euclidean distance between z-score vectors; the ``k`` nearest other CSPs are the neighbours
   (``most_similar.k``). Ties in distance (to 1e-9) are broken by CSP code, so the list is reproducible. A CSP is
   never its own neighbour.

Every CSP of England and Wales is a candidate; ``in_dataset`` flags those present in a dataset (only they have
pages to link to).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from svtools.errors import ConfigError, DataValidationError, MissingAreaError

__all__ = ["FEATURES", "settings", "csp_features", "standardise", "nearest", "most_similar"]

#: Every feature :func:`csp_features` computes: name -> (words for a reader, unit).
FEATURES = {
    "deprivation_percentile": ("Deprivation: population-weighted mean percentile of neighbourhood rank in its "
                               "country (IMD/WIMD 2019; 0 = most deprived)", "percentile"),
    "share_aged_10_24": ("Residents aged 10 to 24", "%"),
    "share_aged_65_plus": ("Residents aged 65 and over", "%"),
    "log10_residents": ("Size: log10 of residents", "log10 persons"),
    "metropolitan_share": ("Residents in a metropolitan district or London borough", "%"),
}

#: Distances closer than this are a tie (broken by CSP code).
TIE_TOLERANCE = 1e-9


def settings() -> dict:
    """The ``most_similar`` block of ``config/settings.yaml`` (``k``, ``features``, ``population_year``), checked."""
    from svtools import config

    cfg = dict(config.settings().get("most_similar") or {})
    for key in ("k", "features", "population_year"):
        if key not in cfg:
            raise ConfigError(f"config/settings.yaml: most_similar has no '{key}'")
    unknown = [f for f in cfg["features"] if f not in FEATURES]
    if unknown:
        raise ConfigError(f"config/settings.yaml: most_similar.features {unknown} unknown (known: {list(FEATURES)})")
    if int(cfg["k"]) < 1:
        raise ConfigError("config/settings.yaml: most_similar.k must be at least 1")
    return cfg


@lru_cache(maxsize=4)
def _features(year: int) -> pd.DataFrame:
    from svtools.ingest import geography
    from svtools.ingest import reference as ref

    geo = geography.lsoa_geography()
    g11 = geo.loc[geo["lsoa_vintage"] == "2011",
                  ["lsoa_code", "csp_code", "csp_name", "pfa_code", "pfa_name", "country", "lad_code"]]
    g11 = g11[g11["csp_code"].notna()]
    # residents by age (reuse the one CSP-from-LSOA population sum)
    pop = geography.csp_population(year)
    total = pop.groupby("csp_code")["population"].sum().astype("float64")
    age = pop["age"].astype(int)
    young = pop[(age >= 10) & (age <= 24)].groupby("csp_code")["population"].sum()
    old = pop[age >= 65].groupby("csp_code")["population"].sum()
    # deprivation: each LSOA's rank as a percentile of its country, weighted by its residents
    wide = ref.population_lsoa11_wide(year)
    lpop = pd.Series(wide[ref.AGE_COLUMNS].sum(axis=1).to_numpy(dtype="float64"), index=wide["lsoa11_code"])
    ranks = []
    for frame in (ref.imd2019_lsoa11(), ref.wimd2019_lsoa11()):
        n = len(frame)
        ranks.append(pd.Series(100.0 * (frame["imd_rank"].to_numpy(dtype="float64") - 0.5) / n,
                               index=frame["lsoa11_code"]))
    pct = pd.concat(ranks)
    d = g11.assign(residents=g11["lsoa_code"].map(lpop), pct=g11["lsoa_code"].map(pct))
    missing = d[d["pct"].isna() | d["residents"].isna()]
    if len(missing):
        raise DataValidationError("LSOA(s) without an IMD/WIMD 2019 rank or a population estimate",
                                  column="lsoa11_code", examples=missing["lsoa_code"].head().tolist())
    d["w"] = d["pct"] * d["residents"]
    d["metro"] = d["residents"] * d["lad_code"].str.match(r"^E0[89]").astype(float)
    g = d.groupby("csp_code").agg(w=("w", "sum"), residents=("residents", "sum"), metro=("metro", "sum"))
    names = g11.drop_duplicates("csp_code").set_index("csp_code")[["csp_name", "pfa_code", "pfa_name", "country"]]
    out = names.join(g, how="inner")
    out["deprivation_percentile"] = out["w"] / out["residents"]
    out["share_aged_10_24"] = 100.0 * young.reindex(out.index) / total.reindex(out.index)
    out["share_aged_65_plus"] = 100.0 * old.reindex(out.index) / total.reindex(out.index)
    out["log10_residents"] = np.log10(total.reindex(out.index))
    out["residents"] = total.reindex(out.index).astype("int64")
    out["metropolitan_share"] = 100.0 * out["metro"] / g["residents"].reindex(out.index)
    out.index.name = "csp_code"
    cols = ["csp_name", "pfa_code", "pfa_name", "country", "residents", *FEATURES]
    return out[cols].sort_index()


def csp_features(dataset: str | None = None, year: int | None = None) -> pd.DataFrame:
    """The features of every CSP of England and Wales (the method is in the module docstring).

    Parameters
    ----------
    dataset : str, optional
        A processed dataset: ``in_dataset`` is True for its CSPs (those with pages). Default: all False.
    year : int, optional
        ONS LSOA mid-year for residents (default ``most_similar.population_year``; 2019 or 2020 shipped).

    Returns
    -------
    DataFrame
        Indexed by ``csp_code``: ``csp_name, pfa_code, pfa_name, country, residents`` (persons at 30 June of the
        year), every feature of :data:`FEATURES` (units there), ``in_dataset`` (bool).
    """
    year = int(settings()["population_year"] if year is None else year)
    out = _features(year).copy()
    codes: set = set()
    if dataset is not None:
        from svtools.ingest import store

        codes = set(store.csp_codes(dataset))
    out["in_dataset"] = out.index.isin(codes)
    return out


def standardise(table: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """z-scores of ``features`` over the rows of ``table``: (x - mean) / population SD (ddof 0).

    A feature with no spread (SD 0) is an error: it cannot tell CSPs apart.
    """
    missing = [f for f in features if f not in table.columns]
    if missing:
        raise DataValidationError("feature(s) not in the table", column=missing[0], examples=missing)
    x = table[list(features)].astype("float64")
    if x.isna().any().any():
        bad = x.index[x.isna().any(axis=1)].tolist()
        raise DataValidationError("feature values missing", column=str(x.columns[x.isna().any()][0]),
                                  examples=bad[:5])
    sd = x.std(ddof=0)
    flat = sd[sd == 0].index.tolist()
    if flat:
        raise DataValidationError("feature(s) have the same value for every CSP", column=flat[0])
    return (x - x.mean()) / sd


def nearest(table: pd.DataFrame, code: str, k: int, features: Sequence[str]) -> pd.DataFrame:
    """The ``k`` rows of ``table`` nearest to row ``code`` by Euclidean distance on z-scores of ``features``.

    Parameters
    ----------
    table : DataFrame
        One row per CSP, indexed by code, with the feature columns (any other columns are carried along).
    code : str
        The CSP whose neighbours are wanted (never among them).
    k : int
        How many neighbours (fewer when the table has fewer other rows).
    features : sequence of str

    Returns
    -------
    DataFrame
        ``rank`` (1 = most similar), ``csp_code``, ``distance`` (dimensionless, in standard deviations), then
        the table's columns. Ties (distances within :data:`TIE_TOLERANCE`) are ordered by CSP code.
    """
    if code not in table.index:
        raise MissingAreaError(code, known=list(table.index[:5]))
    z = standardise(table, features)
    dist = np.sqrt(((z - z.loc[code]) ** 2).sum(axis=1))
    other = dist.drop(index=code)
    order = pd.DataFrame({"csp_code": other.index.astype(str), "distance": other.to_numpy(),
                          "key": np.round(other.to_numpy() / TIE_TOLERANCE)})
    order = order.sort_values(["key", "csp_code"], kind="mergesort").head(int(k)).drop(columns="key")
    out = order.join(table, on="csp_code")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def most_similar(csp_code: str, k: int | None = None, dataset: str | None = None,
                 features: Sequence[str] | None = None) -> pd.DataFrame:
    """The CSPs of England and Wales most similar to ``csp_code`` (the project's own method; module docstring).

    Parameters
    ----------
    csp_code : str
        A 2024 CSP code.
    k : int, optional
        Number of neighbours (default ``most_similar.k`` in ``config/settings.yaml``).
    dataset : str, optional
        Flags (``in_dataset``) the neighbours present in this processed dataset.
    features : sequence of str, optional
        Feature names (default ``most_similar.features``).

    Returns
    -------
    DataFrame
        As :func:`nearest`: ``rank, csp_code, distance, csp_name, pfa_code, pfa_name, country, residents``, the
        features and ``in_dataset``; ``attrs`` record ``features``, ``k`` and ``population_year``.
    """
    cfg = settings()
    k = int(cfg["k"] if k is None else k)
    features = list(cfg["features"] if features is None else features)
    table = csp_features(dataset)
    out = nearest(table, csp_code, k, features)
    out.attrs.update(features=features, k=k, population_year=int(cfg["population_year"]))
    return out
