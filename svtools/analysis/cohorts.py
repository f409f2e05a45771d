"""Who is involved: victims' and suspects' age and sex, the under-25 cohort, ethnicity, repeats and harm.

Every function takes processed records (``docs/data_model.md``: one row per offence and victim, with
``victim_age``/``victim_sex``/``victim_ethnicity``/``victim_id``, the suspect equivalents and
``severity_weight``) and returns tidy tables ready for display, or small dataclasses holding them (the data a
population pyramid or a Lorenz curve needs; plotting is :mod:`svtools.publish.output`' job).

Counts are of records (offences) unless a function says it counts people (distinct pseudonymised ids). Rates
are per 1,000 residents (``rates.per_residents`` in ``config/settings.yaml``) with PHE intervals from
:mod:`svtools.analysis.stats`; proportions have Wilson score intervals. Denominators come from
:mod:`svtools.analysis.population`: residents of the same ages in each financial year's own mid-year estimate
(under 25: ages 0-24; young people: 10-24), and Census 2021 residents by ethnic group.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy import stats as sps

from svtools.config import settings
from svtools.errors import DataValidationError
from svtools.analysis.measures import _financial_years_of, _rate, _rate_column, _unique_index

__all__ = [
    "ETHNIC_GROUPS",
    "SEXES",
    "HarmConcentration",
    "RepeatVictims",
    "age_bands",
    "age_sex_table",
    "ethnicity_disproportionality",
    "harm_concentration",
    "pyramid_data",
    "repeat_victims",
    "under25_cohort",
]

#: Sex codes of the data model, and the label used for unknown values.
SEXES = ("F", "M", "X", "Unknown")
#: ONS 2021 high-level ethnic groups of the data model.
ETHNIC_GROUPS = ("Asian", "Black", "Mixed", "White", "Other")


def age_bands(bands: int | Sequence[int] = 5, open_from: int = 85) -> tuple[list[int], list[str]]:
    """Lower bounds and labels of age bands.

    Parameters
    ----------
    bands : int or sequence of int
        A band width in years (``5`` gives 0-4, 5-9, ...), or the lower bounds of custom bands starting at 0
        (``[0, 10, 18, 25]`` gives 0-9, 10-17, 18-24, 25+); the last band is open.
    open_from : int
        For a width: the lower bound of the open top band (default 85, so 85+).

    Returns
    -------
    (list of int, list of str)
    """
    if isinstance(bands, (int, np.integer)):
        if bands < 1:
            raise ValueError("band width must be at least 1 year")
        lowers = list(range(0, open_from, int(bands))) + [open_from]
        lowers = sorted(set(lowers))
    else:
        lowers = [int(b) for b in bands]
        if not lowers or lowers[0] != 0 or any(b >= a for a, b in zip(lowers[1:], lowers[:-1])):
            raise ValueError("custom bands must be increasing lower bounds starting at 0, "
                             "e.g. [0, 10, 18, 25]")
    labels = [f"{lo}-{hi - 1}" if hi - 1 > lo else f"{lo}" for lo, hi in pairwise(lowers)]
    labels.append(f"{lowers[-1]}+")
    return lowers, labels


def age_sex_table(records: pd.DataFrame, role: str = "victim", bands: int | Sequence[int] = 5,
                  unit: str = "offences") -> pd.DataFrame:
    """Counts by age band and sex for victims or suspects, every band × sex combination present (0 if none).

    Parameters
    ----------
    records : DataFrame
        Processed records with ``<role>_age`` (years), ``<role>_sex`` (F, M, X) and ideally ``<role>_id``.
    role : {"victim", "suspect"}
    bands : int or sequence of int
        Band width or custom lower bounds (see :func:`age_bands`).
    unit : {"offences", "people"}
        Count records (default) or distinct people (``<role>_id``; a person's age and sex are taken from
        their earliest record).

    Returns
    -------
    DataFrame
        ``age_band`` (ordered categorical, ending in ``Unknown``: no age, or an age band of the source
        (``<role>_age_min``/``_max``) that spans two of these bands), ``sex`` (F, M, X, Unknown), ``count`` and
        ``share`` (of all counted rows, 0-1). ``attrs["no_person"]`` counts records without a ``<role>_id``
        (e.g. possession offences have no victim; undetected offences no suspect): they are left out.
    """
    from svtools.analysis.fields import age_bounds

    frame = _person_rows(records, role, unit, keep=[c for c in (f"{role}_age_min", f"{role}_age_max")
                                                     if c in records.columns])
    lowers, labels = age_bands(bands)
    # an exact age, or a band lying wholly inside one age band, gives the band; anything else is Unknown
    lo, hi = age_bounds(frame, role)
    edges = [*lowers, np.inf]
    cat_lo = pd.cut(lo, bins=edges, right=False, labels=labels)
    cat_hi = pd.cut(hi.where(hi < np.inf, lowers[-1]), bins=edges, right=False, labels=labels)
    same = (cat_lo.astype("object") == cat_hi.astype("object")) & cat_lo.notna()
    band = pd.Categorical(cat_lo.astype("object").where(same, "Unknown"), categories=[*labels, "Unknown"],
                          ordered=True)
    sex = frame[f"{role}_sex"].astype("object").where(frame[f"{role}_sex"].notna(), "Unknown")
    bad = ~sex.isin(SEXES)
    if bad.any():
        raise DataValidationError("sex must be F, M, X or missing", column=f"{role}_sex",
                                  examples=sorted(sex[bad].astype(str).unique()))
    counts = pd.crosstab(pd.Series(band, name="age_band"), pd.Categorical(sex, categories=list(SEXES)),
                         dropna=False)
    counts = counts.reindex(index=[*labels, "Unknown"], columns=list(SEXES), fill_value=0)
    out = counts.stack().rename("count").reset_index()
    out.columns = ["age_band", "sex", "count"]
    out["age_band"] = pd.Categorical(out["age_band"], categories=[*labels, "Unknown"], ordered=True)
    out["sex"] = pd.Categorical(out["sex"], categories=list(SEXES))
    out["count"] = out["count"].astype("int64")
    total = out["count"].sum()
    out["share"] = out["count"] / total if total else np.nan
    out.attrs.update(role=role, unit=unit, no_person=frame.attrs.get("no_person", 0))
    return out


def pyramid_data(records: pd.DataFrame, role: str = "victim", bands: int | Sequence[int] = 5,
                 unit: str = "offences") -> pd.DataFrame:
    """The table a population pyramid needs: male and female counts and percentages by age band.

    Parameters
    ----------
    records, role, bands, unit
        As in :func:`age_sex_table`.

    Returns
    -------
    DataFrame
        One row per age band (youngest first): ``age_band, male, female, male_pct, female_pct`` where the
        percentages are of all records with known age and sex F or M (so the bars of both sides sum to 100).
        ``attrs["excluded"]`` counts rows left out (unknown age, unknown sex or sex X) and
        ``attrs["no_person"]`` records without a person.
    """
    table = age_sex_table(records, role, bands, unit)
    known = table[(table["age_band"] != "Unknown") & table["sex"].isin(["F", "M"])]
    wide = known.pivot_table(index="age_band", columns="sex", values="count", aggfunc="sum", observed=True)
    wide = wide.reindex(columns=["M", "F"], fill_value=0)
    wide = wide.reindex([b for b in table["age_band"].cat.categories if b != "Unknown"], fill_value=0)
    out = pd.DataFrame({"age_band": wide.index.astype(str), "male": wide["M"].to_numpy(dtype="int64"),
                        "female": wide["F"].to_numpy(dtype="int64")})
    total = out["male"].sum() + out["female"].sum()
    out["male_pct"] = 100 * out["male"] / total if total else np.nan
    out["female_pct"] = 100 * out["female"] / total if total else np.nan
    out["age_band"] = pd.Categorical(out["age_band"], categories=list(out["age_band"]), ordered=True)
    out.attrs.update(role=role, unit=unit, excluded=int(table["count"].sum() - total),
                     no_person=table.attrs.get("no_person", 0))
    return out


def under25_cohort(records: pd.DataFrame, population: pd.DataFrame, min_age: int | None = None,
                   max_age: int | None = None, per: float | None = None, confidence: float | None = None,
                   csp_codes: Sequence[str] | None = None, financial_years: Sequence[str] | None = None
                   ) -> pd.DataFrame:
    """Offences against young victims by financial year: count, share of victims of known age, rate.

    Parameters
    ----------
    records : DataFrame
        Processed records (already filtered to a definition if wanted) with ``victim_age`` and
        ``financial_year`` (or ``recorded_date``).
    population : DataFrame
        ``csp_code, year, age, population`` (``population.parquet``).
    min_age : int, optional
        Youngest age of the cohort (default ``age_bands.young_people_min_age`` = 10, the Duty's 10-24 focus;
        pass 0 for all under-25s).
    max_age : int, optional
        Oldest age (default ``age_bands.under_25_max_age`` = 24).
    per, confidence : float, optional
        Rate multiplier (default 1,000 residents) and interval level (default 0.95).
    csp_codes : sequence of str, optional
        CSPs forming the denominator (default: those in ``records``).
    financial_years : sequence of str, optional
        Years to report (default: those in ``records``).

    Returns
    -------
    DataFrame
        One row per financial year, then ``all years``: ``financial_year, age_group, offences, known_age,
        unknown_age, unknown_share, share, share_lower, share_upper, population, population_year,
        population_exact, rate_per_1000, lower, upper, rate_upper_bound, rate_upper_bound_upper, method``.

        * ``offences`` (Int64): records whose victim is known to be in the cohort (an exact age, or a band
          wholly inside its ages). NA (unknown, never 0) for a year with victims none of whose ages is known.
        * ``known_age``: records with a victim whose cohort membership is known (inside or outside);
          ``unknown_age``: records with a victim whose age is not recorded or whose band crosses an end of the
          cohort's ages; ``unknown_share`` = unknown_age / (known_age + unknown_age), 0-1. Records without a
          victim (e.g. possession offences, no ``victim_id``) are neither.
        * ``share`` (0-1, Wilson interval): of records with a known cohort membership.
        * ``population``: residents of the cohort's ages (persons; ``all years``: the sum of each year's,
          person-years), ``population_year`` the mid-year used (NA for ``all years``) and ``population_exact``
          False when the year had no estimate of its own and the nearest was used.
        * ``rate_per_1000`` (``lower``, ``upper``: exact Poisson below 10 events, Byar's from 10): offences
          against victims **with a recorded age** in the cohort per 1,000 residents of those ages, a lower bound
          when ages are missing. ``rate_upper_bound`` is the rate if every victim of unknown age were in the
          cohort, with ``rate_upper_bound_upper`` its upper 95% limit: the true rate lies between ``lower`` and
          ``rate_upper_bound_upper`` (95%), whatever the unknown ages were. NaN when the count is unknown.

    Notes
    -----
    Residents: ONS mid-year estimates of the same ages from ``population.parquet``, mid-YYYY for financial
    year YYYY/YY, else the nearest mid-year (:func:`svtools.analysis.population.residents`).

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference. *Journal of
    the American Statistical Association*, 22(158), 209-212.

    Breslow, N. E. and Day, N. E. (1987). *Statistical Methods in Cancer Research, Volume II*. IARC Scientific
    Publications No. 82. Lyon: IARC.
    """
    cfg = settings()
    min_age = int(min_age if min_age is not None else cfg["age_bands"]["young_people_min_age"])
    max_age = int(max_age if max_age is not None else cfg["age_bands"]["under_25_max_age"])
    per = float(per if per is not None else cfg["rates"]["per_residents"])
    confidence = float(confidence if confidence is not None else cfg["rates"]["confidence"])
    if min_age > max_age:
        raise ValueError(f"min_age ({min_age}) is above max_age ({max_age})")
    if "victim_age" not in records.columns and "victim_age_min" not in records.columns:
        raise DataValidationError("records need victim_age", column="victim_age")
    records = _unique_index(records)
    fy = _financial_years_of(records).astype(str) if len(records) else pd.Series(dtype=str)
    years = [str(y) for y in financial_years] if financial_years is not None else sorted(fy.unique())
    if not years:
        raise DataValidationError("no financial years: records are empty (pass financial_years)",
                                  column="financial_year")
    if csp_codes is None:
        csp_codes = sorted(records["csp_code"].dropna().astype(str).unique()) if "csp_code" in records else []
        if not csp_codes:
            raise DataValidationError("records have no csp_code: pass csp_codes", column="csp_code")
    from svtools.analysis.fields import in_age_range, relevant_rows
    from svtools.analysis.population import residents

    status = in_age_range(records, min_age, max_age, "victim")  # NA: age unknown or band straddles an end
    with_victim = relevant_rows(records, "victim_age")  # records with a victim (all, without victim_id)
    known = status.notna().to_numpy(dtype=bool) & with_victim
    inside = (status == True).fillna(False).to_numpy(dtype=bool) & with_victim  # noqa: E712
    unknown = with_victim & ~known
    n_in = pd.Series(inside, index=fy.index).groupby(fy).sum()
    n_known = pd.Series(known, index=fy.index).groupby(fy).sum()
    n_unknown = pd.Series(unknown, index=fy.index).groupby(fy).sum()
    pops = residents(population, years, csp_codes, min_age, max_age).set_index("financial_year")
    in_years = fy.isin(years).to_numpy()

    def count(n, k, u):  # victims but no known age: the count is unknown (NA), never 0
        return pd.NA if u > 0 and k == 0 else int(n)

    rows = [(y, count(n_in.get(y, 0), n_known.get(y, 0), n_unknown.get(y, 0)), int(n_known.get(y, 0)),
             int(n_unknown.get(y, 0)), float(pops.at[y, "population"]), int(pops.at[y, "mid_year"]),
             bool(pops.at[y, "exact"])) for y in years]
    rows.append(("all years", count(inside[in_years].sum(), known[in_years].sum(), unknown[in_years].sum()),
                 int(known[in_years].sum()), int(unknown[in_years].sum()), float(pops["population"].sum()),
                 pd.NA, bool(pops["exact"].all())))
    out = pd.DataFrame(rows, columns=["financial_year", "offences", "known_age", "unknown_age", "population",
                                      "population_year", "population_exact"])
    out["offences"] = out["offences"].astype("Int64")
    out["population_year"] = out["population_year"].astype("Int64")
    out.insert(1, "age_group", f"{min_age}-{max_age}")
    with_age = out["known_age"] + out["unknown_age"]
    out["unknown_share"] = (out["unknown_age"] / with_age.where(with_age > 0)).astype("float64")
    share = _proportion(out["offences"], out["known_age"], confidence)
    out["share"], out["share_lower"], out["share_upper"] = share["value"], share["lower"], share["upper"]
    rates = _rate(out["offences"], out["population"], confidence, per)
    out[_rate_column(per)] = rates["value"].to_numpy()
    out["lower"], out["upper"], out["method"] = (rates["lower"].to_numpy(), rates["upper"].to_numpy(),
                                                 rates["method"].to_numpy())
    most = (out["offences"].astype("Float64") + out["unknown_age"]).where(out["offences"].notna())
    bound = _rate(most.astype("Int64"), out["population"], confidence, per)
    out["rate_upper_bound"] = bound["value"].to_numpy()
    out["rate_upper_bound_upper"] = bound["upper"].to_numpy()
    out = out[["financial_year", "age_group", "offences", "known_age", "unknown_age", "unknown_share", "share",
               "share_lower", "share_upper", "population", "population_year", "population_exact",
               _rate_column(per), "lower", "upper", "rate_upper_bound", "rate_upper_bound_upper", "method"]]
    out.attrs.update(per=per, confidence=confidence, csp_codes=list(csp_codes),
                     population_note=_population_note(pops))
    return out


def ethnicity_disproportionality(records: pd.DataFrame, population_shares, reference: str = "White",
                                 total_population: float | None = None, confidence: float | None = None,
                                 unit: str = "offences", per: float | None = None,
                                 csp_codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Victimisation by ethnic group relative to a reference group, given the resident population's make-up.

    Parameters
    ----------
    records : DataFrame
        Processed records with ``victim_ethnicity`` (Asian, Black, Mixed, White, Other; NA unknown).
    population_shares : DataFrame, mapping or Series
        Resident population by group. Normally the dataset's Census 2021 table (``ethnicity.parquet``:
        ``csp_code, ethnic_group, ethnicity, population``), summed over ``csp_codes`` with
        :func:`svtools.analysis.population.ethnicity_residents`. Also accepted: shares or counts as a
        mapping/Series group → value or a frame with ``ethnicity`` and ``share`` (or ``population``); counts
        are normalised to shares over the groups given.
    reference : str
        Comparison group (rate ratio 1).
    total_population : float, optional
        Residents of the area; when given, rates per 1,000 residents of each group are added (the group's
        residents = its share x this total). With the Census table and no total, the Census total of the CSPs
        is used.
    confidence : float, optional
        Interval level (default 0.95).
    unit : {"offences", "people"}
        Count victim records (default) or distinct victims (``victim_id``).
    per : float, optional
        Rate multiplier (default 1,000).
    csp_codes : sequence of str, optional
        With the Census table: the CSPs whose residents are the denominator (default: every CSP in the table;
        pass the area's CSPs).

    Returns
    -------
    DataFrame
        One row per group, then ``Not known``: ``ethnicity, victims, share, share_lower, share_upper,
        population_share, rate_ratio, lower, upper`` and, with ``total_population``, ``population,
        rate_per_1000, rate_lower, rate_upper``. ``share`` is of victims of known ethnicity (Wilson interval).

    Notes
    -----
    Rate ratio of group g to reference r: RR = (v_g / s_g) / (v_r / s_r), with v the victims and s the
    population shares (the total population cancels). 95% interval on the log scale treating the counts as
    independent Poisson variables and the population as fixed: exp(log RR ± z·√(1/v_g + 1/v_r)) (Rothman,
    Greenland and Lash 2008, ch. 14). A group with no victims (or a reference with none) has no interval
    (NaN). Groups in the data but not in ``population_shares`` raise an error.

    References
    ----------
    Rothman, K. J., Greenland, S. and Lash, T. L. (2008). *Modern Epidemiology*, 3rd edn. Philadelphia:
    Lippincott Williams & Wilkins, chapter 14.

    Office for National Statistics (2022). *Ethnic group, England and Wales: Census 2021* (high-level groups).
    """
    cfg = settings()
    confidence = float(confidence if confidence is not None else cfg["rates"]["confidence"])
    per = float(per if per is not None else cfg["rates"]["per_residents"])
    denominator = "population shares given by the caller"
    if isinstance(population_shares, pd.DataFrame) and "csp_code" in population_shares.columns:
        from svtools.analysis.population import ethnicity_residents

        population_shares = ethnicity_residents(population_shares, csp_codes)
        if total_population is None:
            total_population = float(population_shares.sum())
        denominator = "Census 2021 usual residents (all ages) by high-level ethnic group, ONS TS021"
    shares = _shares(population_shares)
    if reference not in shares.index:
        raise DataValidationError(f"reference group '{reference}' has no population share",
                                  column="ethnicity", examples=list(shares.index))
    if "victim_ethnicity" not in records.columns:
        raise DataValidationError("records need victim_ethnicity", column="victim_ethnicity")
    frame = _person_rows(records, "victim", unit, keep=["victim_ethnicity"])
    eth = frame["victim_ethnicity"].astype("object")
    unknown_groups = sorted(set(eth.dropna().astype(str)) - set(shares.index))
    if unknown_groups:
        raise DataValidationError("groups in the records have no population share", column="victim_ethnicity",
                                  examples=unknown_groups)
    victims = eth.dropna().astype(str).value_counts().reindex(shares.index, fill_value=0).astype("int64")
    known = int(victims.sum())
    out = pd.DataFrame({"ethnicity": shares.index, "victims": victims.to_numpy(),
                        "population_share": shares.to_numpy()})
    prop = _proportion(out["victims"], pd.Series(known, index=out.index), confidence)
    out["share"], out["share_lower"], out["share_upper"] = prop["value"], prop["lower"], prop["upper"]
    z = sps.norm.ppf(0.5 + confidence / 2)
    v_r, s_r = victims[reference], shares[reference]
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = (out["victims"] / out["population_share"]) / (v_r / s_r)
        se = np.sqrt(1 / out["victims"] + 1 / v_r)
    ok = (out["victims"] > 0) & (v_r > 0)
    out["rate_ratio"] = rr if v_r > 0 else np.nan
    out["lower"] = np.where(ok, rr * np.exp(-z * se), np.nan)
    out["upper"] = np.where(ok, rr * np.exp(z * se), np.nan)
    is_ref = out["ethnicity"] == reference
    out.loc[is_ref, ["lower", "upper"]] = np.nan
    cols = ["ethnicity", "victims", "share", "share_lower", "share_upper", "population_share", "rate_ratio",
            "lower", "upper"]
    if total_population is not None:
        out["population"] = out["population_share"] * float(total_population)
        rates = _rate(out["victims"], out["population"], confidence, per)
        out[_rate_column(per)] = rates["value"].to_numpy()
        out["rate_lower"], out["rate_upper"] = rates["lower"].to_numpy(), rates["upper"].to_numpy()
        cols += ["population", _rate_column(per), "rate_lower", "rate_upper"]
    out = out[cols]
    not_known = {c: np.nan for c in cols}
    not_known.update(ethnicity="Not known", victims=int(eth.isna().sum()))
    out = pd.concat([out, pd.DataFrame([not_known])], ignore_index=True)
    out["victims"] = out["victims"].astype("int64")
    out.attrs.update(reference=reference, unit=unit, confidence=confidence, denominator=denominator,
                     method="rate ratio, log-scale Wald interval from Poisson counts")
    return out


@dataclass
class RepeatVictims:
    """Repeat victimisation (see :func:`repeat_victims`).

    Attributes
    ----------
    summary : DataFrame
        One row: ``people, repeat_people, repeat_share, repeat_share_lower, repeat_share_upper, offences,
        repeat_offences, repeat_offence_share, records_without_id``.
    distribution : DataFrame
        ``offences_per_person`` (1, 2, ..., "k+"), ``people, people_share, offences, offence_share``.
    """

    summary: pd.DataFrame
    distribution: pd.DataFrame


def repeat_victims(records: pd.DataFrame, id_column: str = "victim_id", min_offences: int = 2,
                   top_band: int = 5, confidence: float | None = None) -> RepeatVictims:
    """Share of victims (or suspects) with two or more offences, and their share of all offences.

    Parameters
    ----------
    records : DataFrame
        Processed records (already filtered to a definition and period) with the id column.
    id_column : str
        Pseudonymised person id (``victim_id``; ``suspect_id`` for repeat suspects).
    min_offences : int
        Offences that make a person a repeat (default 2).
    top_band : int
        The distribution's last band is ``top_band+`` offences.
    confidence : float, optional
        Level of the Wilson interval for the repeat share (default 0.95).

    Returns
    -------
    RepeatVictims
        ``summary`` and ``distribution`` tables (shares 0-1). Records without an id are left out and counted.

    Notes
    -----
    Offences per person = records with that id in ``records`` (one row per offence and victim). The repeat
    share's interval is Wilson's; the offence share is descriptive (no interval: offences of one person are
    not independent).
    """
    confidence = float(confidence if confidence is not None else settings()["rates"]["confidence"])
    if id_column not in records.columns:
        raise DataValidationError("records need the person id column", column=id_column)
    ids = records[id_column]
    per_person = ids.dropna().astype(str).value_counts()
    people, offences = len(per_person), int(per_person.sum())
    repeat = per_person[per_person >= min_offences]
    prop = _proportion(pd.Series([len(repeat)]), pd.Series([people]), confidence)
    summary = pd.DataFrame([{
        "people": people, "repeat_people": len(repeat),
        "repeat_share": float(prop["value"].iloc[0]), "repeat_share_lower": float(prop["lower"].iloc[0]),
        "repeat_share_upper": float(prop["upper"].iloc[0]),
        "offences": offences, "repeat_offences": int(repeat.sum()),
        "repeat_offence_share": repeat.sum() / offences if offences else math.nan,
        "records_without_id": int(ids.isna().sum()),
    }])
    labels = [str(k) for k in range(1, top_band)] + [f"{top_band}+"]
    band = np.minimum(per_person.to_numpy(), top_band)
    dist = (pd.DataFrame({"band": band, "offences": per_person.to_numpy()}).groupby("band")
            .agg(people=("offences", "size"), offences=("offences", "sum"))
            .reindex(range(1, top_band + 1), fill_value=0))
    distribution = pd.DataFrame({
        "offences_per_person": labels,
        "people": dist["people"].to_numpy(dtype="int64"),
        "offences": dist["offences"].to_numpy(dtype="int64"),
    })
    distribution["people_share"] = distribution["people"] / people if people else np.nan
    distribution["offence_share"] = distribution["offences"] / offences if offences else np.nan
    distribution = distribution[["offences_per_person", "people", "people_share", "offences",
                                 "offence_share"]]
    return RepeatVictims(summary=summary, distribution=distribution)


@dataclass
class HarmConcentration:
    """How concentrated harm is among people (see :func:`harm_concentration`).

    Attributes
    ----------
    lorenz : DataFrame
        ``people_share, harm_share`` from (0, 0) to (1, 1), people ordered from least to most harmed.
    concentration : DataFrame
        ``people_share, harm_share`` with people ordered most harmed first (the "top x% hold y%" curve).
    gini : float
        Gini coefficient of harm per person (0 = equal, towards 1 = concentrated).
    people : int
        People with at least one record.
    total_harm : float
        Sum of weights (equivalent days of custody for ONS CSS weights).
    top : float
        The share of people asked about (default 0.05).
    top_harm_share : float
        Share of harm experienced by the most-harmed ``top`` share of people (0-1).
    top_people : int
        Number of people in that top share (rounded).
    per_person : DataFrame
        ``person, offences, harm`` sorted by harm, most first (record level: never publish).
    weights : str
        What the weights were.
    """

    lorenz: pd.DataFrame
    concentration: pd.DataFrame
    gini: float
    people: int
    total_harm: float
    top: float
    top_harm_share: float
    top_people: int
    per_person: pd.DataFrame
    weights: str

    def share_of_top(self, share: float) -> float:
        """Share of harm (0-1) experienced by the most-harmed ``share`` of people (linear between people)."""
        if not 0 <= share <= 1:
            raise ValueError("share must be between 0 and 1")
        x, y = self.lorenz["people_share"].to_numpy(), self.lorenz["harm_share"].to_numpy()
        return float(1 - np.interp(1 - share, x, y))

    def people_for_share(self, harm_share: float) -> int:
        """Fewest people (most harmed first) who together experienced at least ``harm_share`` of the harm."""
        if not 0 <= harm_share <= 1:
            raise ValueError("harm_share must be between 0 and 1")
        cum = self.per_person["harm"].cumsum().to_numpy() / self.total_harm
        return int(np.searchsorted(cum, harm_share - 1e-12) + 1) if harm_share > 0 else 0

    def sentence(self, who: str = "people") -> str:
        """Plain-English headline, e.g. "The top 5% of people (40) experienced 31.2% of the harm."."""
        return (f"The top {100 * self.top:g}% of {who} ({self.top_people:,}) experienced "
                f"{100 * self.top_harm_share:.1f}% of the harm.")

    def summary(self) -> pd.DataFrame:
        """One-row display table: ``people, total_harm, gini, top_share, top_people, top_harm_share``."""
        return pd.DataFrame([{"people": self.people, "total_harm": self.total_harm, "gini": self.gini,
                              "top_share": self.top, "top_people": self.top_people,
                              "top_harm_share": self.top_harm_share}])


def harm_concentration(records: pd.DataFrame, weights: str | pd.Series | None = "css",
                       id_column: str = "victim_id", top: float = 0.05) -> HarmConcentration:
    """Concentration of crime harm among people: Lorenz curve, Gini coefficient and top-x% share.

    Parameters
    ----------
    records : DataFrame
        Processed records (one row per offence and victim) with the id column.
    weights : "css", "count", None, column name or Series
        ``"css"`` (default): ONS Crime Severity Score weights (equivalent days of custody) from the
        ``severity_weight`` column, filled from :func:`svtools.ingest.reference.css_weights` by ``ho_offence_code``
        where missing. ``"count"``/``None``: every offence weighs 1. Another column name, or a Series aligned
        to ``records``, gives the weights directly.
    id_column : str
        Person id (``victim_id``, or ``suspect_id`` for harm caused).
    top : float
        The "top x% of people" share (default 0.05).

    Returns
    -------
    HarmConcentration

    Notes
    -----
    Harm per person h = sum of the weights of their records; records without an id are left out (counted in
    ``per_person.attrs["records_without_id"]``); a record whose weight cannot be found raises an error.
    Lorenz curve: people sorted by h ascending, points (i/n, Σ_{j≤i} h_(j) / Σ h) with (0, 0).
    Gini = 1 − Σ_i (x_i − x_{i−1})(y_i + y_{i−1}) (trapezium rule on the Lorenz points), which equals
    2 Σ_i i·h_(i) / (n Σ h) − (n + 1)/n; its maximum with n people is 1 − 1/n. The top-x% share is
    1 − L(1 − x), interpolating linearly between people.

    References
    ----------
    Office for National Statistics (2016). *Research outputs: developing a Crime Severity Score for England
    and Wales using data on crimes recorded by the police*. Newport: ONS.

    Sherman, L., Neyroud, P. W. and Neyroud, E. (2016). The Cambridge Crime Harm Index: measuring total harm
    from crime based on sentencing guidelines. *Policing*, 10(3), 171-183. doi:10.1093/police/paw003.

    Gini, C. (1912). *Variabilità e mutabilità*. Bologna: Tipografia di Paolo Cuppini.
    """
    if not 0 < top < 1:
        raise ValueError("top must be a share between 0 and 1, e.g. 0.05")
    if id_column not in records.columns:
        raise DataValidationError("records need the person id column", column=id_column)
    records = _unique_index(records)
    w, label = _weights(records, weights)
    has_id = records[id_column].notna().to_numpy()
    ids = records[id_column][has_id].astype(str)
    w = w[has_id]
    if not len(ids):
        raise DataValidationError("no records with a person id: harm concentration is undefined",
                                  column=id_column)
    if (w < 0).any():
        raise DataValidationError("weights must be non-negative", column="severity_weight")
    per = pd.DataFrame({"person": ids.to_numpy(), "harm": w}).groupby("person").agg(
        offences=("harm", "size"), harm=("harm", "sum"))
    per = per.sort_values(["harm", "offences"], ascending=False, kind="mergesort").reset_index()
    total = float(per["harm"].sum())
    if total <= 0:
        raise DataValidationError("total harm is 0: harm concentration is undefined",
                                  column="severity_weight")
    n = len(per)
    asc = np.sort(per["harm"].to_numpy(dtype="float64"))
    x = np.arange(n + 1) / n
    y = np.concatenate([[0.0], np.cumsum(asc) / total])
    y[-1] = 1.0
    gini = float(1 - np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1])))
    lorenz = pd.DataFrame({"people_share": x, "harm_share": y})
    per.attrs["records_without_id"] = int((~has_id).sum())
    share = float(1 - np.interp(1 - top, x, y))
    concentration = pd.DataFrame({"people_share": x, "harm_share": np.concatenate([[0.0], 1 - y[::-1][1:]])})
    return HarmConcentration(lorenz=lorenz, concentration=concentration, gini=max(gini, 0.0), people=n,
                             total_harm=total, top=top, top_harm_share=share, top_people=round(top * n),
                             per_person=per, weights=label)


# Internal helpers ------------------------------------------------------------------------------------------


def _person_rows(records: pd.DataFrame, role: str, unit: str, keep: Sequence[str] = ()) -> pd.DataFrame:
    """Rows to count: records with a person (``<role>_id`` present), one per person when unit='people'."""
    if role not in ("victim", "suspect"):
        raise ValueError("role must be 'victim' or 'suspect'")
    if unit not in ("offences", "people"):
        raise ValueError("unit must be 'offences' or 'people'")
    id_col = f"{role}_id"
    cols = [c for c in (f"{role}_age", f"{role}_sex") if c in records.columns or not keep]
    cols = list(dict.fromkeys([*cols, *keep]))
    missing = [c for c in cols if c not in records.columns]
    if missing:
        raise DataValidationError(f"records need {missing}", column=missing[0])
    frame = _unique_index(records)
    records = frame
    no_person = 0
    if id_col in records.columns:
        has = records[id_col].notna()
        no_person = int((~has).sum())
        frame = records[has]
        if unit == "people":
            order = [c for c in ("recorded_date", "month") if c in frame.columns]
            if order:
                frame = frame.sort_values(order, kind="mergesort")
            frame = frame.drop_duplicates(id_col, keep="first")
    elif unit == "people":
        raise DataValidationError("counting people needs an id column", column=id_col)
    frame = frame[cols].copy()
    frame.attrs["no_person"] = no_person
    return frame


def _proportion(events: pd.Series, total: pd.Series, confidence: float) -> pd.DataFrame:
    """Wilson proportions via :func:`svtools.analysis.stats.proportion`; NaN where the total is 0."""
    from svtools.analysis.stats import proportion

    events = pd.Series(events).astype("Float64").to_numpy("float64", na_value=np.nan)
    total = np.asarray(total, dtype="float64")
    out = pd.DataFrame({"value": np.nan, "lower": np.nan, "upper": np.nan}, index=range(len(events)))
    ok = (total > 0) & np.isfinite(events)
    if ok.any():
        res = proportion(events[ok], total[ok], confidence=confidence).reset_index(drop=True)
        idx = np.flatnonzero(ok)
        for col in ("value", "lower", "upper"):
            out.loc[idx, col] = res[col].to_numpy(dtype="float64")
    return out


def _population_note(pops: pd.DataFrame) -> str:
    from svtools.analysis.population import year_note

    return year_note(pops.reset_index())


def _shares(population_shares) -> pd.Series:
    if isinstance(population_shares, pd.DataFrame):
        value = "share" if "share" in population_shares.columns else "population"
        if "ethnicity" not in population_shares.columns or value not in population_shares.columns:
            raise DataValidationError("population shares need ethnicity and share (or population) columns",
                                      column="ethnicity")
        s = population_shares.set_index("ethnicity")[value]
    elif isinstance(population_shares, Mapping):
        s = pd.Series(dict(population_shares))
    else:
        s = pd.Series(population_shares)
    s = s.astype("float64")
    s.index = s.index.astype(str)
    if s.isna().any() or (s <= 0).any():
        raise DataValidationError("population shares must be positive for every group", column="share",
                                  examples=list(s[s.isna() | (s <= 0)].index))
    return s / s.sum()


def _weights(records: pd.DataFrame, weights) -> tuple[np.ndarray, str]:
    if isinstance(weights, pd.Series):
        w = weights.reindex(records.index)
        label = weights.name or "custom weights"
    elif weights is None or weights == "count":
        return np.ones(len(records)), "count (each offence weighs 1)"
    elif weights == "css":
        label = "ONS Crime Severity Score weights (equivalent days of custody)"
        w = (records["severity_weight"].astype("float64") if "severity_weight" in records.columns
             else pd.Series(np.nan, index=records.index))
        if w.isna().any():
            if "ho_offence_code" not in records.columns:
                raise DataValidationError("CSS weights need severity_weight or ho_offence_code",
                                          column="severity_weight")
            from svtools.ingest.reference import css_weights

            table = css_weights().set_index("ho_offence_code")["severity_weight"]
            w = w.fillna(records["ho_offence_code"].astype(str).map(table))
    elif isinstance(weights, str):
        if weights not in records.columns:
            raise DataValidationError("weight column not in records", column=weights)
        w = records[weights].astype("float64")
        label = weights
    else:
        raise ValueError("weights must be 'css', 'count', None, a column name or a Series")
    bad = w.isna()
    if bad.any():
        examples = (records.loc[bad, "ho_offence_code"].astype(str).unique().tolist()
                    if "ho_offence_code" in records.columns else [])
        raise DataValidationError("no severity weight for some records", column="severity_weight",
                                  examples=examples, n_bad=int(bad.sum()))
    return w.to_numpy(dtype="float64"), str(label)
