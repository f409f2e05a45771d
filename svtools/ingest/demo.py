"""SYNTHETIC police extract with known truth, for demonstrations and for testing the statistics.

Record-level police data cannot be shipped, so ``svtools demo-data`` writes a deterministic, seeded, entirely
SYNTHETIC crime extract in the ``config/mappings/demo_extract.yaml`` source layout for every Community Safety
Partnership (CSP) of the nine forces whose real data.police.uk street files ship in
``../shared/data/real/police_uk/forces_2022-01_to_2022-11/``, recorded April 2018 to March 2025. Beside it
go SYNTHETIC hospital admissions (assault by a sharp object), ``truth.json`` (every true parameter and the
expected counts) and a ``README.md``. All parameters live in ``config/demo.yaml``.

Data-generating model
---------------------
Offences come in four *streams*: violence and sexual offences excluding homicide (``vso``), homicide,
robbery and possession of weapons. For LSOA (2011) :math:`l` in CSP :math:`c` of force :math:`f`, stream
:math:`s` and recorded month :math:`t`

.. math::

    N_{s,l,t} \\sim \\text{Poisson}(b_{s,l}\\, \\mu_f(t)\\, \\varepsilon_{c,t}),

    \\log \\mu_f(t) = \\beta_f y_t + A \\cos(2\\pi (m_t - p)/12) + \\gamma\\, 1[t \\in \\text{COVID}],

with :math:`y_t` years since April 2018, :math:`m_t` the calendar month, :math:`p` the peak month and
:math:`\\varepsilon_{c,t} \\sim \\text{Gamma}(k, 1/k)` (mean 1) shared by every offence of a CSP in a
month, so CSP x month counts are negative binomial with shape :math:`k`. :func:`monthly_intensity` returns
:math:`\\mu_f(t)`.

*Calibration.* :math:`b_{s,l}` is set so that the expected count over January-November 2022 equals the real
data.police.uk count of the stream's crime type in the LSOA's CSP ("Violence and sexual offences",
"Robbery", "Possession of weapons"), shared among the CSP's LSOAs in proportion to each LSOA's real count
plus a small pseudo-count, and divided by (1 - blank-LSOA rate) so *located* counts match the real located
counts. Homicide is calibrated to population (about 1 per 100,000 residents a year) and placed like violence.

*Offences.* Within a stream a Home Office code is drawn with the England and Wales 2019/20 mix (real Home
Office table). The knife flag is Bernoulli with a code-specific share times a deprivation gradient
:math:`rr^{(5.5 - d)}` (IMD decile :math:`d`, 1 = most deprived). Domestic-abuse flag and location type
depend on the code.

*When.* Within its recorded month an offence's occurrence date and recording delay are drawn jointly: the
occurrence date with day-of-week weights (weekend excess), the delay from a pmf (0-3 days mostly, a power-law
tail, heavier for sexual offences), conditioned on the recording date falling in the month, so monthly
*recorded* counts follow the log-linear model exactly. Hour of day follows configured weights (peaks 15-16h,
18-20h and 23-24h).

*Victims.* Crimes with a personal victim have one victim, or two (3%). Sex: fixed by some codes (e.g. rape
of a female), otherwise code-specific, 80% male for knife-enabled offences. Age: a banded profile truncated
to the code's legal range (under-13 codes etc.); about a third under 25. Ethnicity: force population shares
(approximate Census 2021) times victimisation rate ratios. Repeat victimisation: victims within (force,
domestic flag, sex, ethnicity), sorted by CSP and LSOA, are grouped into persons whose offence counts follow
a truncated power law, so a few per cent of victims account for a large share of offences; a person keeps
one date of birth.

*Suspects.* Known for about 60% of crimes (97% for possession), 85% male, with ages; suspects are grouped
into repeat offenders the same way, and a repeat domestic-abuse victim has the same known suspect each time.

*Data quality.* Blank LSOA (as the real files), unknown victim age, "Not Stated" ethnicity, unknown
occurrence time (date only), blank domestic flag and location, "Unknown" sex. No structural error is
injected, so strict ingest passes.

*Hospital admissions.* Poisson counts with mean proportional to the CSP's expected knife-enabled serious
violence (CSP x financial year x age band x sex); cells 1-7 are written as ``*`` as HES supplies them, and
the unsuppressed counts are kept in ``truth.json``.

Determinism: each force draws from its own ``numpy`` generator seeded with ``SeedSequence(seed,
spawn_key=(force position,))``, so a force's file is byte-identical whether it is generated alone or with
the others, and the same seed and arguments give byte-identical files.
"""

from __future__ import annotations

import json
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from svtools import __version__
from svtools.config import read_yaml, settings
from svtools.errors import ConfigError, DataValidationError, SvtoolsError
from svtools.ingest.geography import geography_settings, lsoa_geography
from svtools.paths import CONFIG, raw_dir, real_data_dir
from svtools.ingest.reference import AGE_COLUMNS, offence_codes, population_lsoa11_wide

__all__ = [
    "generate_demo_data",
    "monthly_intensity",
    "load_truth",
    "truth_from_config",
    "demo_config",
    "real_counts",
    "EXTRACT_COLUMNS",
    "STREAMS",
]

#: Column order of the synthetic extract (the demo source system's names, config/mappings/demo_extract.yaml).
EXTRACT_COLUMNS = [
    "Crime Number", "Date Recorded", "Committed From Date", "HO Class", "Weapon Knife Y/N", "DA Flag",
    "LSOA 2011", "Location Type", "Victim URN", "Victim Age at Offence", "Victim Gender",
    "Victim Ethnicity (ONS 5)", "Suspect URN", "Suspect Age", "Suspect Gender", "Owning Force",
    "Officer In Case", "Investigation Status",
]
#: Offence streams, in generation order.
STREAMS = ("vso", "homicide", "robbery", "weapons")
#: ONS 2021 five high-level ethnic groups (canonical) and how the demo source spells them.
ETHNIC_GROUPS = ("White", "Asian", "Black", "Mixed", "Other")
_ETHNIC_LABELS = ("White", "Asian or Asian British", "Black, Black British, Caribbean or African",
                  "Mixed or Multiple ethnic groups", "Other ethnic group")
_NOT_STATED = "Not Stated"
_COMMA_LABELS = [x for x in _ETHNIC_LABELS if "," in x]   # the only source values that need CSV quoting
_SEX_LABELS = ("Female", "Male", "Other")          # index 0 = F, 1 = M, 2 = X
_MAX_AGE = 110                                     # ages are whole years 0-110 (the schema's range)
_DAYS_PER_YEAR = 365.25                            # for ages from dates of birth
_HOSPITAL_AGE_BANDS = ("0-17", "18-24", "25+")     # config/settings.yaml age_bands.hospital
_HOSPITAL_SEXES = ("F", "M")
_REAL_FOLDER = ("police_uk", "forces_2022-01_to_2022-11")
_EPOCH_DOW_OFFSET = 3                              # 1970-01-01 was a Thursday: (day + 3) % 7 -> Monday = 0
_SYNTHETIC_NOTE = ("SYNTHETIC DATA: generated by svtools.ingest.demo for demonstration and testing. These are NOT "
                   "real police or hospital records; no row describes a real crime or person.")


# ============================================================================================================
# configuration and truth
# ============================================================================================================
def demo_config() -> dict:
    """The generator parameters in ``config/demo.yaml`` (read fresh each call)."""
    return read_yaml(CONFIG / "demo.yaml")


def _force_slugs() -> list[str]:
    """The nine demo force slugs in their fixed order (``config/geography.yaml`` ``demo_forces``)."""
    return list(geography_settings()["demo_forces"])


def _pfa_of(slug: str) -> str:
    return geography_settings()["demo_forces"][slug]


def _period() -> tuple[pd.Timestamp, pd.Timestamp, pd.DatetimeIndex]:
    """First day, last day and the month starts of the demo period (``config/settings.yaml`` periods)."""
    per = settings()["periods"]
    start, end = pd.Timestamp(per["demo_start"]), pd.Timestamp(per["demo_end"])
    return start, end, pd.date_range(start, end, freq="MS")


def truth_from_config(cfg: dict | None = None) -> dict:
    """The intensity part of the truth (trend, season, COVID, NB shape) straight from ``config/demo.yaml``.

    Enough for :func:`monthly_intensity`; the full truth (expected counts, realised figures) is written by
    :func:`generate_demo_data` to ``truth.json``.
    """
    cfg = cfg or demo_config()
    per = settings()["periods"]
    it = cfg["intensity"]
    start, _, _ = _period()
    trend = {}
    for slug in _force_slugs():
        rr = float(cfg["forces"][slug]["trend_rate_ratio"])
        trend[_pfa_of(slug)] = {"force": slug, "force_name": cfg["forces"][slug]["name"],
                                "annual_rate_ratio": rr, "beta_per_year": float(np.log(rr))}
    covid_rr = float(it["covid_rate_ratio"])
    return {
        "synthetic": True,
        "intensity": {
            "formula": ("expected offences in LSOA l, recorded month t = base_l * exp(beta_force * "
                        "years_since_origin + A * cos(2*pi*(month_of_year - peak_month)/12) + gamma_covid * "
                        "covid_t) * eps_csp_t; eps ~ Gamma(shape=nb_shape, scale=1/nb_shape)"),
            "origin_month": start.strftime("%Y-%m"),
            "years_since_origin": "(12*(year - 2018) + (month - 4)) / 12, at the first day of the month",
            "seasonal_log_amplitude": float(it["seasonal_log_amplitude"]),
            "seasonal_peak_month": int(it["seasonal_peak_month"]),
            "covid_rate_ratio": covid_rr,
            "covid_log_effect": float(np.log(covid_rr)),
            "covid_months": [pd.Timestamp(per["covid_start"]).strftime("%Y-%m"),
                             pd.Timestamp(per["covid_end"]).strftime("%Y-%m")],
            "nb_shape": float(it["nb_shape"]),
            "nb_level": "CSP x month (one multiplier shared by every offence of a CSP in a month)",
            "trend": trend,
        },
    }


def load_truth(path: str | Path | None = None) -> dict:
    """Read ``truth.json`` written by :func:`generate_demo_data`.

    Parameters
    ----------
    path : str or Path, optional
        The file, or the folder holding it. Default ``data/raw/demo/truth.json``; when that file does not
        exist (no demo data generated yet) the intensity parameters are taken from ``config/demo.yaml``
        (:func:`truth_from_config`), which is all :func:`monthly_intensity` needs.

    Returns
    -------
    dict
        The truth (see the README written beside the data for its keys).
    """
    if path is None:
        default = raw_dir() / "demo" / "truth.json"
        if not default.is_file():
            return truth_from_config()
        path = default
    path = Path(path)
    if path.is_dir():
        path = path / "truth.json"
    if not path.is_file():
        raise DataValidationError("truth file not found; run `svtools demo-data` first", file=str(path))
    return json.loads(path.read_text(encoding="utf-8"))


def monthly_intensity(months, pfa_code: str, truth: dict | None = None) -> np.ndarray:
    """The true multiplicative monthly intensity of recorded offences in one force, :math:`\\mu_f(t)`.

    .. math:: \\mu_f(t) = \\exp(\\beta_f y_t + A\\cos(2\\pi(m_t - p)/12) + \\gamma 1[t \\in \\text{COVID}])

    Expected offences in LSOA :math:`l` in month :math:`t` are ``base_l * monthly_intensity(t)`` (times a
    mean-1 gamma CSP x month multiplier), so a Poisson or negative-binomial GLM of monthly counts on years
    since April 2018, ``cos(2*pi*m/12)``, ``sin(2*pi*m/12)`` and a COVID indicator recovers :math:`\\beta_f`,
    :math:`A\\cos(2\\pi p/12)`, :math:`A\\sin(2\\pi p/12)` and :math:`\\gamma` exactly (in expectation).

    Parameters
    ----------
    months : array-like of dates
        Any dates; each is taken at the first day of its month.
    pfa_code : str
        Police force area code (e.g. ``E23000013``) or demo force slug (e.g. ``cleveland``).
    truth : dict, optional
        From :func:`load_truth` (default: ``load_truth()``).

    Returns
    -------
    numpy.ndarray
        Dimensionless multiplier per month (1.0 = April 2018 level at the seasonal mean, outside COVID).
    """
    truth = truth if truth is not None else load_truth()
    it = truth["intensity"]
    trend = it["trend"]
    if pfa_code not in trend:
        by_slug = {v["force"]: k for k, v in trend.items()}
        if pfa_code not in by_slug:
            raise SvtoolsError(f"no trend for force {pfa_code!r}; known: {sorted(trend)}")
        pfa_code = by_slug[pfa_code]
    idx = pd.DatetimeIndex(pd.to_datetime(months))
    origin = pd.Timestamp(it["origin_month"] + "-01")
    years = ((idx.year - origin.year) * 12 + (idx.month - origin.month)).to_numpy(dtype=float) / 12.0
    phase = 2 * np.pi * (idx.month.to_numpy() - it["seasonal_peak_month"]) / 12
    season = it["seasonal_log_amplitude"] * np.cos(phase)
    ym = idx.year.to_numpy() * 12 + idx.month.to_numpy()
    c0, c1 = (pd.Timestamp(m + "-01") for m in it["covid_months"])
    covid = (ym >= c0.year * 12 + c0.month) & (ym <= c1.year * 12 + c1.month)
    return np.exp(trend[pfa_code]["beta_per_year"] * years + season + it["covid_log_effect"] * covid)


# ============================================================================================================
# small distribution helpers
# ============================================================================================================
def _band_pmf(bands: dict, lo_limit: int = 0) -> np.ndarray:
    """Single-year pmf over ages 0..110 from ``{"a-b": probability}`` bands (uniform within a band)."""
    pmf = np.zeros(_MAX_AGE + 1)
    for label, p in bands.items():
        a, b = (int(x) for x in str(label).split("-"))
        if not (lo_limit <= a <= b <= _MAX_AGE):
            raise ConfigError(f"config/demo.yaml: bad age band {label!r}")
        pmf[a:b + 1] += float(p) / (b - a + 1)
    return pmf / pmf.sum()


def _power_pmf(exponent: float, kmax: int) -> np.ndarray:
    """Truncated discrete power law over k = 1..kmax: P(k) proportional to k ** -exponent."""
    k = np.arange(1, int(kmax) + 1, dtype=float)
    p = k ** -float(exponent)
    return p / p.sum()


def _delay_pmf(spec: dict) -> np.ndarray:
    """Recording delay pmf over 0..max_days days: the configured head (0-3 days) and a power-law tail."""
    head = np.asarray(spec["head"], dtype=float)
    kmax = int(spec["max_days"])
    tail_k = np.arange(len(head), kmax + 1, dtype=float)
    tail = tail_k ** -float(spec["tail_exponent"])
    tail *= (1.0 - head.sum()) / tail.sum()
    return np.concatenate([head, tail])


def _categorical(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    """n draws from a categorical distribution (inverse CDF, vectorised)."""
    cdf = np.cumsum(probs / probs.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(probs) - 1)


def _top_share(counts: np.ndarray, fraction: float) -> float:
    """Share of all offences accounted for by the top ``fraction`` of persons (by number of offences)."""
    if not len(counts):
        return float("nan")
    srt = np.sort(counts)[::-1]
    n_top = max(1, int(round(fraction * len(srt))))
    return float(srt[:n_top].sum() / srt.sum())


# ============================================================================================================
# offence code table
# ============================================================================================================
@lru_cache(maxsize=4)
def _code_table_cached(cfg_json: str) -> pd.DataFrame:
    cfg = json.loads(cfg_json)
    defaults = cfg["code_defaults"]
    profiles = list(cfg["victims"]["age_profiles"])
    locs = list(cfg["locations"])
    known = offence_codes().set_index("ho_offence_code")
    ksv_codes = set(_knife_definition_codes(cfg["hospital"]["knife_codes_definition"]))
    rows = []
    for stream in STREAMS:
        codes = cfg["streams"][stream]
        total = float(sum(v["w"] for v in codes.values()))
        for code, spec in codes.items():
            spec = {**defaults, **spec}
            code = str(code)
            if code not in known.index:
                raise ConfigError(f"config/demo.yaml: offence code {code!r} is not a known Home Office code")
            lo, hi = (spec["age"] if spec["age"] else (0, _MAX_AGE))
            rows.append({
                "code": code, "stream": stream, "weight": float(spec["w"]), "prob": float(spec["w"]) / total,
                "knife": float(spec["knife"]), "da": float(spec["da"]), "male": float(spec["male"]),
                "sex": {None: -1, "F": 0, "M": 1}[spec["sex"]], "age_lo": int(lo), "age_hi": int(hi),
                "age_fixed": spec["age"] is not None, "profile": profiles.index(spec["profile"]),
                "loc": locs.index(spec["loc"]), "victim": bool(spec["victim"]),
                "sexual": known.loc[code, "offence_group"] == "Sexual offences",
                "knife_sv": code in ksv_codes,
                "description": known.loc[code, "description"],
            })
    return pd.DataFrame(rows)


def _code_table(cfg: dict) -> pd.DataFrame:
    return _code_table_cached(json.dumps(cfg)).copy()   # insertion order: indices match _Model


def _knife_definition_codes(name: str) -> list[str]:
    from svtools.ingest.definitions import load_definition

    return list(load_definition(name).offence_codes)


# ============================================================================================================
# real inputs
# ============================================================================================================
@lru_cache(maxsize=16)
def real_counts(force: str) -> pd.DataFrame:
    """Real data.police.uk counts by LSOA (2011) and crime type, January-November 2022, for one demo force.

    Parameters
    ----------
    force : str
        Force slug as in the file names (e.g. ``cleveland``).

    Returns
    -------
    DataFrame
        Index ``lsoa_code`` (blank LSOAs as ``""``), one column per crime type, counts of crimes over the
        11 months (data.police.uk street-level files, OGL v3.0; read in place, never copied).
    """
    folder = real_data_dir().joinpath(*_REAL_FOLDER)
    files = sorted(folder.glob(f"2022-??/2022-??-{force}-street.csv.gz"))
    if len(files) != 11:
        raise DataValidationError(f"expected 11 monthly street files for {force!r}, found {len(files)}",
                                  file=str(folder))
    opts = pacsv.ConvertOptions(include_columns=["LSOA code", "Crime type"],
                                column_types={"LSOA code": pa.string(), "Crime type": pa.string()})
    frame = pa.concat_tables([pacsv.read_csv(f, convert_options=opts) for f in files]).to_pandas()
    frame["LSOA code"] = frame["LSOA code"].fillna("")
    out = frame.groupby(["LSOA code", "Crime type"]).size().unstack(fill_value=0)
    out.index.name = "lsoa_code"
    return out


@lru_cache(maxsize=1)
def _lsoa_population_2020() -> pd.Series:
    wide = population_lsoa11_wide(2020)
    return pd.Series(wide[AGE_COLUMNS].sum(axis=1).to_numpy(dtype=float), index=wide["lsoa11_code"])


def _force_lsoas(slug: str) -> dict:
    """The 2011 LSOAs of one force with CSP, IMD decile and population (arrays sorted by LSOA code)."""
    geo = lsoa_geography()
    g = geo[(geo["lsoa_vintage"] == "2011") & (geo["pfa_code"] == _pfa_of(slug))].sort_values("lsoa_code")
    csp_codes = sorted(g["csp_code"].unique())
    names = g.drop_duplicates("csp_code").set_index("csp_code")["csp_name"]
    return {
        "lsoa": g["lsoa_code"].to_numpy(dtype=object),
        "csp": np.searchsorted(csp_codes, g["csp_code"].to_numpy(dtype=object)),
        "csp_codes": csp_codes,
        "csp_names": [str(names[c]) for c in csp_codes],
        # every 2011 LSOA has an IMD/WIMD 2019 decile; a missing one would get the middle (5.5, no gradient)
        "decile": g["imd_decile"].astype("float64").fillna(5.5).to_numpy(),
        "pop": g["lsoa_code"].map(_lsoa_population_2020()).fillna(0.0).to_numpy(dtype=float),
    }


# ============================================================================================================
# time sampling
# ============================================================================================================
class _DateSampler:
    """Joint draw of occurrence date and recording delay, given the recorded month.

    P(occurrence o, delay k | recorded in month t) is proportional to
    dow_weight(o) * pmf(k) * 1[o + k in month t], so recorded-month counts follow the intensity model exactly
    while occurrence dates carry the day-of-week pattern. Days are integers since 1970-01-01.
    """

    def __init__(self, month_first: np.ndarray, month_last: np.ndarray, dow_w: np.ndarray, pmf: np.ndarray):
        self.cdf = np.cumsum(pmf)
        self.cdf[-1] = 1.0
        max_d = len(pmf) - 1
        fc = np.concatenate([[0.0], self.cdf])            # fc[k + 1] = P(delay <= k), fc[0] = 0
        self.fc = fc
        occ, wts, starts = [], [], []
        pos = 0
        for a, b in zip(month_first, month_last):
            o = np.arange(a - max_d, b + 1)
            hi = np.clip(b - o + 1, 0, max_d + 1)
            lo = np.clip(a - o, 0, max_d + 1)               # P(a - o <= k <= b - o) = fc[hi] - fc[lo]
            w = dow_w[(o + _EPOCH_DOW_OFFSET) % 7] * (fc[hi] - fc[lo])
            occ.append(o)
            wts.append(w)
            starts.append(pos)
            pos += len(o)
        self.occ = np.concatenate(occ)
        cum = np.cumsum(np.concatenate(wts))
        self.cum = cum
        starts = np.asarray(starts + [pos])
        self.lower = np.where(starts[:-1] > 0, cum[np.maximum(starts[:-1] - 1, 0)], 0.0)
        self.total = cum[starts[1:] - 1] - self.lower
        self.end = starts[1:] - 1
        self.first, self.last = month_first, month_last
        self.max_d = max_d

    def draw(self, rng: np.random.Generator, month_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Occurrence day and delay (days) for offences recorded in the given month indices."""
        target = self.lower[month_idx] + rng.random(len(month_idx)) * self.total[month_idx]
        pos = np.minimum(np.searchsorted(self.cum, target, side="right"), self.end[month_idx])
        occ = self.occ[pos]
        lo = np.maximum(0, self.first[month_idx] - occ)
        hi = np.minimum(self.last[month_idx] - occ, self.max_d)
        u = self.fc[lo] + rng.random(len(month_idx)) * (self.fc[hi + 1] - self.fc[lo])
        delay = np.clip(np.searchsorted(self.cdf, u, side="left"), lo, hi)
        return occ, delay


# ============================================================================================================
# grouping into persons (repeat victims and offenders)
# ============================================================================================================
def _cluster(rng: np.random.Generator, strata: np.ndarray, pmf: np.ndarray) -> np.ndarray:
    """Split a sorted sequence of slots into persons whose sizes follow ``pmf`` (over 1..len(pmf)).

    ``strata`` (sorted, contiguous) forces a new person at every change. Returns a person index per slot
    (0, 1, ...; contiguous).
    """
    n = len(strata)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sizes = 1 + _categorical(rng, pmf, n)
    starts = np.cumsum(sizes) - sizes
    flag = np.zeros(n, dtype=bool)
    flag[starts[starts < n]] = True
    flag[0] = True
    flag[1:] |= strata[1:] != strata[:-1]
    return np.cumsum(flag) - 1


def _ages_from_anchor(person: np.ndarray, day: np.ndarray, anchor_age: np.ndarray, anchor_day: np.ndarray,
                      anchor_frac: np.ndarray, lo: int = 0) -> np.ndarray:
    """Age (whole years) at each offence for persons with a fixed date of birth.

    The date of birth is ``anchor_day - (anchor_age + anchor_frac) * 365.25`` (per person).
    """
    dob = anchor_day - (anchor_age + anchor_frac) * _DAYS_PER_YEAR
    age = np.floor((day - dob[person]) / _DAYS_PER_YEAR)
    return np.clip(age, lo, _MAX_AGE).astype(np.int64)


# ============================================================================================================
# one force
# ============================================================================================================
class _Model:
    """Everything that does not depend on the force: months, code table, pmfs, samplers."""

    def __init__(self, cfg: dict, scale: float):
        self.cfg = cfg
        self.scale = float(scale)
        self.start, self.end, self.months = _period()
        self.T = len(self.months)
        self.fy = np.array([f"{y - (m < 4)}/{(y - (m < 4) + 1) % 100:02d}"
                            for y, m in zip(self.months.year, self.months.month)])
        self.fy_labels = sorted(set(self.fy))
        cal0, cal1 = (pd.Timestamp(m + "-01") for m in cfg["calibration"]["months"])
        self.cal = np.asarray((self.months >= cal0) & (self.months <= cal1))
        self.n_cal = int(self.cal.sum())
        self.codes = _code_table(cfg)
        self.truth0 = truth_from_config(cfg)
        first = self.months.values.astype("datetime64[D]").astype(np.int64)
        last = (self.months + pd.offsets.MonthEnd(0)).values.astype("datetime64[D]").astype(np.int64)
        tm = cfg["timing"]
        self.dow_w = np.asarray(tm["dow_weights"], dtype=float)
        self.dow_w = self.dow_w / self.dow_w.mean()
        self.hour_p = np.asarray(tm["hour_weights"], dtype=float)
        self.hour_p = self.hour_p / self.hour_p.sum()
        self.delay_pmfs = {k: _delay_pmf(v) for k, v in tm["delay"].items()}
        self.samplers = {k: _DateSampler(first, last, self.dow_w, p) for k, p in self.delay_pmfs.items()}
        vic = cfg["victims"]
        self.age_pmfs = np.vstack([_band_pmf(b) for b in vic["age_profiles"].values()])
        self.age_cdfs = np.cumsum(self.age_pmfs, axis=1)
        self.age_cdfs[:, -1] = 1.0
        self.sus_age_pmf = _band_pmf(cfg["suspects"]["age_profile"])
        self.rep_pmf = {k: _power_pmf(vic["repeat"][k]["exponent"], vic["repeat"][k]["max"])
                        for k in ("domestic", "other")}
        self.sus_pmf = _power_pmf(cfg["suspects"]["repeat"]["exponent"], cfg["suspects"]["repeat"]["max"])
        self.loc_names = list(cfg["locations"])
        self.loc_labels = sorted({lab for p in cfg["locations"].values() for lab in p})
        self.loc_probs = np.zeros((len(self.loc_names), len(self.loc_labels)))
        for i, name in enumerate(self.loc_names):
            for lab, p in cfg["locations"][name].items():
                self.loc_probs[i, self.loc_labels.index(lab)] = float(p)
        dep = cfg["deprivation"]
        self.dep_rr = float(dep["knife_rate_ratio_per_decile"])
        self.dep_ref = float(dep["reference_decile"])

    def knife_prob(self, code_idx: np.ndarray, decile: np.ndarray) -> np.ndarray:
        """P(knife flag) for codes in LSOAs of the given IMD deciles (deprivation gradient, capped at 1)."""
        base = self.codes["knife"].to_numpy()[code_idx]
        mult = self.dep_rr ** (self.dep_ref - decile)
        return np.where(base >= 1.0, 1.0, np.minimum(1.0, base * mult))

    def intensity(self, pfa: str) -> np.ndarray:
        return monthly_intensity(self.months, pfa, self.truth0)


def _draw_ages(rng, model: _Model, profile: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Victim ages from the profile pmf truncated to [lo, hi] (inverse CDF; rows offset to stay monotone)."""
    cdf = model.age_cdfs
    f_lo = np.where(lo > 0, cdf[profile, np.maximum(lo - 1, 0)], 0.0)
    f_hi = cdf[profile, hi]
    u = f_lo + rng.random(len(lo)) * (f_hi - f_lo)
    flat = (cdf + np.arange(len(cdf))[:, None] * 2.0).ravel()   # row r lives in [2r, 2r + 1]
    idx = np.searchsorted(flat, u + profile * 2.0, side="left") - profile * (_MAX_AGE + 1)
    return np.clip(idx, lo, hi)


def _generate_force(slug: str, force_pos: int, model: _Model, seed: int) -> tuple[pa.Table, dict]:
    """Generate one force's extract (arrow table, rows in file order) and its truth figures."""
    cfg = model.cfg
    fcfg = cfg["forces"][slug]
    pfa = _pfa_of(slug)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(force_pos,)))
    geo = _force_lsoas(slug)
    L, T, C = len(geo["lsoa"]), model.T, len(geo["csp_codes"])
    codes = model.codes
    dq = cfg["data_quality"]

    # ---------------------------------------------------------------------- base volumes (calibrated to 2022)
    real = real_counts(slug).reindex(geo["lsoa"]).fillna(0)
    mu = model.intensity(pfa)                                           # (T,)
    cal_sum = mu[model.cal].sum()
    alpha = float(cfg["calibration"]["lsoa_pseudo_count"])
    base = np.zeros((len(STREAMS), L))
    targets = np.zeros((len(STREAMS), C))                               # real 11-month located counts per CSP
    vso_share = None
    for s, stream in enumerate(STREAMS):
        if stream == "homicide":
            continue
        crime_type = cfg["calibration"]["streams"][stream]
        cnt = real[crime_type].to_numpy(dtype=float) if crime_type in real.columns else np.zeros(L)
        tot = np.bincount(geo["csp"], weights=cnt, minlength=C)
        w = cnt + alpha
        share = w / np.bincount(geo["csp"], weights=w, minlength=C)[geo["csp"]]
        targets[s] = tot
        base[s] = (model.scale * tot[geo["csp"]] * share / (1.0 - float(dq["blank_lsoa"][stream])) / cal_sum)
        if stream == "vso":
            vso_share = share
    s_h = STREAMS.index("homicide")
    pop_csp = np.bincount(geo["csp"], weights=geo["pop"], minlength=C)
    per_person_year = float(cfg["calibration"]["homicide_per_100k_per_year"]) / 1e5
    targets[s_h] = per_person_year * pop_csp * model.n_cal / 12.0       # expected over the calibration months
    base[s_h] = (model.scale * targets[s_h][geo["csp"]] * vso_share
                 / (1.0 - float(dq["blank_lsoa"]["homicide"])) / cal_sum)

    # ----------------------------------------------------------------- counts: Poisson-gamma per LSOA x month
    k = float(cfg["intensity"]["nb_shape"])
    eps = rng.gamma(k, 1.0 / k, size=(C, T))
    lam = base[:, :, None] * mu[None, None, :] * eps[geo["csp"]][None, :, :]   # (S, L, T)
    counts = rng.poisson(lam)
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    n = len(cell)
    stream_i = cell // (L * T)
    lsoa_i = (cell // T) % L
    month_i = cell % T
    csp_i = geo["csp"][lsoa_i]
    decile = geo["decile"][lsoa_i]

    # ---------------------------------------------------------------- offence code, knife, domestic, location
    code_i = np.zeros(n, dtype=np.int64)
    for s, stream in enumerate(STREAMS):
        rows = np.flatnonzero(codes["stream"].to_numpy() == stream)
        sel = np.flatnonzero(stream_i == s)
        code_i[sel] = rows[_categorical(rng, codes["prob"].to_numpy()[rows], len(sel))]
    knife = rng.random(n) < model.knife_prob(code_i, decile)
    da = rng.random(n) < codes["da"].to_numpy()[code_i]
    loc_profile = np.where(da, model.loc_names.index("domestic"), codes["loc"].to_numpy()[code_i])
    loc = np.zeros(n, dtype=np.int64)
    for p in np.unique(loc_profile):
        sel = np.flatnonzero(loc_profile == p)
        loc[sel] = _categorical(rng, model.loc_probs[p], len(sel))

    # ---------------------------------------------------------------------------------------- dates and times
    sexual = codes["sexual"].to_numpy()[code_i]
    occ_day = np.zeros(n, dtype=np.int64)
    delay = np.zeros(n, dtype=np.int64)
    for name, mask in (("standard", ~sexual), ("sexual", sexual)):
        sel = np.flatnonzero(mask)
        occ_day[sel], delay[sel] = model.samplers[name].draw(rng, month_i[sel])
    rec_day = occ_day + delay
    hour = _categorical(rng, model.hour_p, n)
    minute = np.where(rng.random(n) < float(cfg["timing"]["minute_on_the_hour"]), 0, rng.integers(0, 60, n))
    time_unknown = rng.random(n) < float(dq["occurrence_time_unknown"])

    # -------------------------------------------------------------------------------- crime order and numbers
    order = np.lexsort((rng.random(n), rec_day))                        # file order: by date recorded
    rank_of = np.empty(n, dtype=np.int64)
    rank_of[order] = np.arange(n)

    # ----------------------------------------------------------------------- victims (slots = crime x victim)
    vic = cfg["victims"]
    has_victim = codes["victim"].to_numpy()[code_i]
    n_vict = has_victim * (1 + (rng.random(n) < float(vic["two_victim_share"])))
    v_crime = np.repeat(np.arange(n), n_vict)
    v_first = np.concatenate([[0], np.cumsum(n_vict)[:-1]]) if n else np.zeros(0, dtype=np.int64)
    v_rank = np.arange(len(v_crime)) - v_first[v_crime]
    nv = len(v_crime)
    vc = code_i[v_crime]
    fixed_sex = codes["sex"].to_numpy()[vc]
    p_male = np.where(knife[v_crime], float(vic["male_share_knife"]), codes["male"].to_numpy()[vc])
    v_sex = np.where(rng.random(nv) < p_male, 1, 0)
    v_sex = np.where(rng.random(nv) < float(vic["other_sex_share"]), 2, v_sex)
    v_sex = np.where(fixed_sex >= 0, fixed_sex, v_sex)
    pop_pct = np.array([float(vic["population_ethnicity_pct"][slug][g]) for g in ETHNIC_GROUPS])
    eth_rr = np.array([float(vic["ethnicity_rate_ratio"][g]) for g in ETHNIC_GROUPS])
    eth_p = pop_pct * eth_rr / (pop_pct * eth_rr).sum()
    v_eth = _categorical(rng, eth_p, nv)
    v_lo, v_hi = codes["age_lo"].to_numpy()[vc], codes["age_hi"].to_numpy()[vc]
    v_age = _draw_ages(rng, model, codes["profile"].to_numpy()[vc], v_lo, v_hi)

    # repeat victims: first victims of offences without a fixed age, aged >= min_age
    pool = (v_rank == 0) & ~codes["age_fixed"].to_numpy()[vc] & (v_age >= int(vic["repeat"]["min_age"]))
    v_person = np.full(nv, -1, dtype=np.int64)
    rand_v = rng.random(nv)
    n_persons = 0
    da_clusters = []                                    # (slot positions, person ids, sizes) of DA repeats
    for is_da, pmf_key in ((True, "domestic"), (False, "other")):
        sel = np.flatnonzero(pool & (da[v_crime] == is_da))
        strata = v_sex[sel] * len(ETHNIC_GROUPS) + v_eth[sel]
        srt = sel[np.lexsort((rand_v[sel], lsoa_i[v_crime[sel]], csp_i[v_crime[sel]], strata))]
        person = _cluster(rng, v_sex[srt] * len(ETHNIC_GROUPS) + v_eth[srt], model.rep_pmf[pmf_key])
        if len(srt):
            starts = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
            size = np.diff(np.r_[starts, len(srt)])
            anchor = srt[starts]
            frac = rng.random(len(starts))
            v_age[srt] = _ages_from_anchor(person, occ_day[v_crime[srt]], v_age[anchor].astype(float),
                                           occ_day[v_crime[anchor]].astype(float), frac)
            v_person[srt] = person + n_persons
            if is_da:
                da_clusters.append((srt, person + n_persons, size[person]))
            n_persons += len(starts)
    single = v_person < 0
    v_person[single] = n_persons + np.arange(single.sum())
    n_persons += int(single.sum())
    v_id_num = rng.permutation(n_persons)[v_person] + 1

    # --------------------------------------------------------------------------------- suspects (crime level)
    sus = cfg["suspects"]
    kn = sus["known"]
    p_known = np.where(stream_i == STREAMS.index("weapons"), kn["weapons"],
                       np.where(stream_i == s_h, kn["homicide"], np.where(da, kn["domestic"], kn["other"])))
    s_known = rng.random(n) < p_known
    s_sex = np.where(rng.random(n) < np.where(sexual, sus["male"]["sexual"], sus["male"]["other"]), 1, 0)
    s_sex = np.where(rng.random(n) < float(sus["other_sex_share"]), 2, s_sex)
    s_person = np.full(n, -1, dtype=np.int64)
    n_sus = 0
    partner = np.zeros(n, dtype=bool)
    if da_clusters:
        srt, person, size = da_clusters[0]
        multi = size >= 2
        srt, person = srt[multi], person[multi]
        if len(srt):
            crimes = v_crime[srt]
            local = np.unique(person, return_inverse=True)[1]
            first = np.flatnonzero(np.r_[True, local[1:] != local[:-1]])
            anchor_crime = crimes[first]
            s_known[crimes] = s_known[anchor_crime][local]
            s_sex[crimes] = s_sex[anchor_crime][local]
            s_person[crimes] = local + n_sus
            partner[crimes] = True
            n_sus += len(first)
    rest = np.flatnonzero(s_known & ~partner)
    rand_s = rng.random(n)
    srt = rest[np.lexsort((rand_s[rest], lsoa_i[rest], csp_i[rest], s_sex[rest]))]
    s_person[srt] = _cluster(rng, s_sex[srt], model.sus_pmf) + n_sus
    n_sus = int(s_person.max()) + 1 if (s_person >= 0).any() else 0
    # suspect ages: drawn for each person at their first offence in the data
    s_age = np.zeros(n, dtype=np.int64)
    kp = np.flatnonzero(s_known)
    if len(kp):
        person = s_person[kp]
        first_day = np.full(n_sus, np.iinfo(np.int64).max)
        np.minimum.at(first_day, person, occ_day[kp])
        age0 = _categorical(rng, model.sus_age_pmf, n_sus).astype(float)
        youngest = int(np.flatnonzero(model.sus_age_pmf)[0])        # 10: the age of criminal responsibility
        s_age[kp] = _ages_from_anchor(person, occ_day[kp], age0, first_day.astype(float), rng.random(n_sus),
                                      lo=youngest)
    s_id_num = rng.permutation(max(n_sus, 1))[np.maximum(s_person, 0)] + 1

    # -------------------------------------------------------------------------- data quality noise and extras
    blank_lsoa = rng.random(n) < np.array([float(dq["blank_lsoa"][s]) for s in STREAMS])[stream_i]
    da_blank = rng.random(n) < float(dq["domestic_flag_blank"])
    loc_blank = rng.random(n) < float(dq["location_blank"])
    v_age_unknown = rng.random(nv) < float(dq["victim_age_unknown"])
    v_sex_unknown = rng.random(nv) < float(dq["victim_sex_unknown"])
    v_eth_ns = rng.random(nv) < float(dq["victim_ethnicity_not_stated"])
    s_age_unknown = rng.random(n) < float(dq["suspect_age_unknown"])
    s_sex_unknown = rng.random(n) < float(dq["suspect_sex_unknown"])
    # "Officer In Case": a pool of four-digit collar numbers per force
    officers = np.sort(rng.choice(np.arange(1000, 10000), size=int(cfg["officers_per_force"]), replace=False))
    officer = rng.integers(0, len(officers), n)
    st_no = list(cfg["investigation_status"]["no_suspect"])
    st_yes = list(cfg["investigation_status"]["suspect"])
    status = np.where(
        s_known,
        len(st_no) + _categorical(rng, np.array(list(cfg["investigation_status"]["suspect"].values())), n),
        _categorical(rng, np.array(list(cfg["investigation_status"]["no_suspect"].values())), n))

    # ------------------------------------------------------------------------------------- rows in file order
    n_rows_c = np.maximum(n_vict, 1)
    row_crime = np.repeat(order, n_rows_c[order])
    row_start = np.concatenate([[0], np.cumsum(n_rows_c[order])[:-1]]) if n else np.zeros(0, dtype=np.int64)
    row_rank = np.arange(len(row_crime)) - np.repeat(row_start, n_rows_c[order])
    row_slot = np.where(n_vict[row_crime] > 0, v_first[row_crime] + row_rank, -1)
    has_v = row_slot >= 0
    slot = np.maximum(row_slot, 0)

    # one dummy victim slot at the end so row lookups never index an empty array (victimless rows are masked)
    v_id_f, v_age_f, v_sex_f, v_eth_f = (np.r_[a, 0] for a in (v_id_num, v_age, v_sex, v_eth))
    v_au_f, v_su_f, v_ns_f = (np.r_[a, False] for a in (v_age_unknown, v_sex_unknown, v_eth_ns))
    table = _format_table(
        model, fcfg, slug, row_crime, rank_of, rec_day, occ_day, hour, minute, time_unknown, code_i, knife,
        da, da_blank, blank_lsoa, geo["lsoa"], lsoa_i, loc, loc_blank, has_v, slot, v_id_f, v_age_f, v_au_f,
        v_sex_f, v_su_f, v_eth_f, v_ns_f, s_known, s_id_num, s_age, s_age_unknown, s_sex, s_sex_unknown,
        officers[officer], status, st_no + st_yes)

    # --------------------------------------------------------------------------- truth figures for this force
    f_fy = np.array([mu[model.fy == fy].sum() for fy in model.fy_labels])          # (FY,)
    exp_lsoa_fy = base[:, :, None] * f_fy[None, None, :]                            # (S, L, FY) expected
    # expected knife-enabled serious violence (definition codes with the knife flag) per LSOA x FY
    ksv = np.zeros(L)
    exp_code = np.zeros(len(codes))                                     # expected offences per code
    exp_knife_code = np.zeros(len(codes))
    tot_lsoa = exp_lsoa_fy.sum(axis=2)                                              # (S, L) over the period
    dep_knife = np.zeros((10, 2))                                                   # vso expected by decile
    for s, stream in enumerate(STREAMS):
        rows = np.flatnonzero(codes["stream"].to_numpy() == stream)
        for r in rows:
            pk = model.knife_prob(np.full(L, r), geo["decile"])
            exp_code[r] = codes.at[r, "prob"] * tot_lsoa[s].sum()
            exp_knife_code[r] = codes.at[r, "prob"] * (tot_lsoa[s] * pk).sum()
            if codes.at[r, "knife_sv"]:
                ksv += codes.at[r, "prob"] * pk * base[s]
            if stream == "vso":
                d = np.clip(np.round(geo["decile"]).astype(int), 1, 10) - 1
                np.add.at(dep_knife[:, 0], d, codes.at[r, "prob"] * tot_lsoa[s] * pk)
                np.add.at(dep_knife[:, 1], d, codes.at[r, "prob"] * tot_lsoa[s])
    ksv_csp_fy = np.vstack([np.bincount(geo["csp"], weights=ksv * f, minlength=C) for f in f_fy]).T  # (C, FY)

    fy_of_crime = np.searchsorted(model.fy_labels, model.fy[month_i])
    realised = np.zeros((C, len(model.fy_labels)), dtype=np.int64)
    np.add.at(realised, (csp_i, fy_of_crime), 1)
    csp_truth = {}
    for c, code in enumerate(geo["csp_codes"]):
        by_fy = {}
        for j, fy in enumerate(model.fy_labels):
            e = {st: round(float(exp_lsoa_fy[s, geo["csp"] == c, j].sum()), 3)
                 for s, st in enumerate(STREAMS)}
            e["total"] = round(float(sum(e.values())), 3)
            e["knife_serious_violence"] = round(float(ksv_csp_fy[c, j]), 3)
            e["realised_total"] = int(realised[c, j])
            by_fy[fy] = e
        csp_truth[code] = {
            "csp_name": geo["csp_names"][c], "pfa_code": pfa, "force": slug,
            "population_mid2020": int(round(pop_csp[c])),
            "calibration_real_counts_2022_jan_nov": {st: round(float(targets[s, c]), 3)
                                                     for s, st in enumerate(STREAMS)},
            "expected_by_financial_year": by_fy,
        }

    # victim-level realised figures (known age; known M/F)
    vk = ~v_age_unknown
    knife_v = knife[v_crime] & ~v_sex_unknown & (v_sex < 2)
    stats = {
        "crimes": int(n), "rows": int(len(row_crime)), "victim_rows": int(nv),
        "victims_under25": int(((v_age <= 24) & vk).sum()), "victims_age_known": int(vk.sum()),
        "knife_victims_mf": int(knife_v.sum()), "knife_victims_male": int((knife_v & (v_sex == 1)).sum()),
        "victim_person_counts": np.bincount(v_person, minlength=n_persons),
        "suspect_person_counts": (np.bincount(s_person[s_known], minlength=max(n_sus, 1)) if n_sus
                                  else np.zeros(0, dtype=np.int64)),
        "crimes_with_victim": int((n_vict > 0).sum()), "two_victim_crimes": int((n_vict == 2).sum()),
        "suspect_known": int(s_known.sum()), "suspect_known_of": int(n),
        "suspect_male": int((s_known & (s_sex == 1)).sum()),
        "knife_crimes": int(knife.sum()), "blank_lsoa": int(blank_lsoa.sum()),
        "exp_code": exp_code, "exp_knife_code": exp_knife_code, "dep_knife": dep_knife,
        "csp": csp_truth, "ksv_csp_fy": ksv_csp_fy, "csp_codes": geo["csp_codes"],
        "csp_names": geo["csp_names"],
        "eth_victim_p": dict(zip(ETHNIC_GROUPS, eth_p.round(6).tolist())),
        "eth_pop_pct": dict(zip(ETHNIC_GROUPS, pop_pct.tolist())),
    }
    return table, stats


def _labels(values: list[str], idx: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Arrow string array of ``values[idx]`` (null where ``mask``), without per-row Python objects."""
    dictionary = pa.array(values, type=pa.string())
    indices = pa.array(np.asarray(idx, dtype=np.int32), mask=mask)
    return dictionary.take(indices)


def _quotable(labels: list[str]) -> list[str]:
    """Labels with a comma replaced by the tokens :func:`_write_csv` swaps back (see ``_COMMA_LABELS``)."""
    return [_COMMA_TOKEN.format(_COMMA_LABELS.index(x)) if x in _COMMA_LABELS else x for x in labels]


def _ints(values: np.ndarray, mask: np.ndarray | None = None, width: int | None = None) -> pa.Array:
    out = pc.cast(pa.array(np.asarray(values, dtype=np.int64), mask=mask), pa.string())
    return pc.utf8_lpad(out, width=width, padding="0") if width else out


def _format_table(model, fcfg, slug, row_crime, rank_of, rec_day, occ_day, hour, minute, time_unknown, code_i,
                  knife, da, da_blank, blank_lsoa, lsoa_codes, lsoa_i, loc, loc_blank, has_v, slot, v_id_num,
                  v_age, v_age_unknown, v_sex, v_sex_unknown, v_eth, v_eth_ns, s_known, s_id_num, s_age,
                  s_age_unknown, s_sex, s_sex_unknown, officer_no, status, status_labels) -> pa.Table:
    """The extract as an arrow table of strings in the demo source spellings."""
    c = row_crime
    nrow = len(c)
    prefix = fcfg["prefix"]
    rec = rec_day[c]
    rec_ts = pa.array(rec.astype("datetime64[D]").astype("datetime64[s]"))
    occ_s = (occ_day[c] * 86400 + hour[c] * 3600 + minute[c] * 60).astype("datetime64[s]")
    occ_ts = pa.array(occ_s)
    yy = pc.utf8_slice_codeunits(pc.strftime(rec_ts, format="%Y"), 2, 4)
    crime_no = pc.binary_join_element_wise(pa.scalar(prefix), _ints(rank_of[c] + 1, width=7), yy, "/")
    occ_text = pc.if_else(pa.array(time_unknown[c]), pc.strftime(occ_ts, format="%d/%m/%Y"),
                          pc.strftime(occ_ts, format="%d/%m/%Y %H:%M"))
    code_text = [str(x).replace("/", ".") for x in model.codes["code"]]
    no_v = ~has_v
    vs = slot
    v_sex_idx = np.where(v_sex_unknown[vs], 3, v_sex[vs])
    v_eth_idx = np.where(v_eth_ns[vs], len(_ETHNIC_LABELS), v_eth[vs])
    sk = s_known[c]
    s_sex_idx = np.where(s_sex_unknown[c], 3, s_sex[c])
    cols = {
        "Crime Number": crime_no,
        "Date Recorded": pc.strftime(rec_ts, format="%d/%m/%Y"),
        "Committed From Date": occ_text,
        "HO Class": _labels(code_text, code_i[c]),
        "Weapon Knife Y/N": _labels(["N", "Y"], knife[c].astype(int)),
        "DA Flag": _labels(["No", "Yes"], da[c].astype(int), mask=da_blank[c]),
        "LSOA 2011": _labels(list(lsoa_codes), lsoa_i[c], mask=blank_lsoa[c]),
        "Location Type": _labels(model.loc_labels, loc[c], mask=loc_blank[c]),
        "Victim URN": pc.binary_join_element_wise(pa.scalar(prefix + "V"),
                                                  _ints(v_id_num[vs], mask=no_v, width=7), ""),
        "Victim Age at Offence": _ints(v_age[vs], mask=no_v | v_age_unknown[vs]),
        "Victim Gender": _labels(list(_SEX_LABELS) + ["Unknown"], v_sex_idx, mask=no_v),
        "Victim Ethnicity (ONS 5)": _labels(_quotable(list(_ETHNIC_LABELS) + [_NOT_STATED]), v_eth_idx,
                                            mask=no_v),
        "Suspect URN": pc.binary_join_element_wise(pa.scalar(prefix + "S"),
                                                   _ints(s_id_num[c], mask=~sk, width=7), ""),
        "Suspect Age": _ints(s_age[c], mask=~sk | s_age_unknown[c]),
        "Suspect Gender": _labels(list(_SEX_LABELS) + ["Unknown"], s_sex_idx, mask=~sk),
        "Owning Force": pa.array(np.full(nrow, fcfg["name"], dtype=object), type=pa.string()),
        "Officer In Case": pc.binary_join_element_wise(pa.scalar("PC"), _ints(officer_no[c]), " "),
        "Investigation Status": _labels(status_labels, status[c]),
    }
    return pa.table(cols)


# ============================================================================================================
# writing
# ============================================================================================================
_COMMA_TOKEN = "@@comma-label-{}@@"   # stand-in for labels holding a comma while arrow writes unquoted CSV


def _write_csv(table: pa.Table, path: Path, comma_labels: list[str]) -> None:
    """Write CSV quoting only the values that need it (labels with a comma), like a typical RMS export.

    Arrow either quotes every string or none; so labels holding a comma are written as unique tokens with
    ``quoting_style="none"`` and the tokens are swapped for the quoted labels in the bytes.
    """
    buf = pa.BufferOutputStream()
    pacsv.write_csv(table, buf, write_options=pacsv.WriteOptions(include_header=True, quoting_style="none"))
    data = buf.getvalue().to_pybytes()
    head, sep, body = data.partition(b"\n")                  # arrow quotes the header names: write them plain
    if all("," not in n and '"' not in n for n in table.column_names):
        data = ",".join(table.column_names).encode() + sep + body
    for i, label in enumerate(comma_labels):
        data = data.replace(_COMMA_TOKEN.format(i).encode(), ('"' + label.replace('"', '""') + '"').encode())
    path.write_bytes(data)


def _hospital(model: _Model, slug: str, force_pos: int, seed: int, stats: dict) -> list[dict]:
    """SYNTHETIC X99 admissions for one force's CSPs: rows with the unsuppressed counts."""
    hcfg = model.cfg["hospital"]
    # its own stream (spawn key (force, 1)), so the extract's draws do not shift when hospital rules change
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(force_pos, 1)))
    rate = float(hcfg["admissions_per_knife_offence"])
    rows = []
    for c, code in enumerate(stats["csp_codes"]):
        for j, fy in enumerate(model.fy_labels):
            for band in _HOSPITAL_AGE_BANDS:
                for sex in _HOSPITAL_SEXES:
                    share = hcfg["age_band_share"][band] * hcfg["sex_share"][sex]
                    mean = rate * stats["ksv_csp_fy"][c, j] * share
                    rows.append({"area_code": code, "area_name": stats["csp_names"][c], "financial_year": fy,
                                 "age_band": band, "sex": sex, "expected": round(float(mean), 4),
                                 "admissions": int(rng.poisson(mean))})
    return rows


def _readme(summary: dict, truth: dict) -> str:
    """README.md for the output folder: says SYNTHETIC first, then how the data were made."""
    v, it = truth["victims"], truth["intensity"]
    n_csp, n_force = len(truth["expected_counts"]), len(summary["rows_per_force"])
    seed, scale = summary["seed"], summary["scale"]
    top5 = v["repeat"]["realised"]["top_5pct_share"]
    hom = truth["calibration"]["homicide_per_100k_per_year"]
    return f"""# SYNTHETIC demo data: NOT real police or hospital records

**Every row in this folder is SYNTHETIC.** It was generated by `svtools demo-data` (`svtools/demo.py`,
parameters in `config/demo.yaml`) with seed {seed} and scale {scale}. No row describes a real crime,
victim, suspect or hospital patient. Do not publish it as if it were real.

## Files
- `<force>_crime_extract.csv`: one row per crime x victim in a fictional force crime-system layout
  (`config/mappings/demo_extract.yaml`), recorded {truth['period']['start']} to {truth['period']['end']},
  for the {n_csp} Community Safety Partnerships of {n_force} forces.
- `hospital_admissions.csv`: SYNTHETIC admissions for assault by a sharp object (ICD-10 X99) by CSP,
  financial year, age band and sex; counts 1-7 are suppressed as `*` (HES rule). Unsuppressed values are
  in `truth.json`.
- `truth.json`: the true parameters, expected counts per CSP and financial year, and realised figures.

## How it was made
- Volumes: real data.police.uk street-level counts for January-November 2022 (OGL v3.0) of "Violence and
  sexual offences", "Robbery" and "Possession of weapons" by LSOA set each LSOA's base rate; homicide is
  {hom} per 100,000 residents a year (ONS mid-2020 population).
- Monthly intensity is log-linear: a trend per force, a seasonal cosine (peak month
  {it['seasonal_peak_month']}, log amplitude {it['seasonal_log_amplitude']}), a COVID-19 rate ratio of
  {it['covid_rate_ratio']} for April-June 2020, and a gamma (negative binomial) CSP x month multiplier with
  shape {it['nb_shape']}.
- Offence mix: England and Wales 2019/20 Home Office counts by offence code (real table). Knife flag by
  code with a deprivation gradient; victims about {v['expected_under25_share']:.0%} under 25; knife-enabled
  victims about {v['expected_male_share_knife_victims']:.0%} male; ethnicity from APPROXIMATE Census 2021
  shares times invented rate ratios; heavy-tailed repeat victimisation (top 5% of victims:
  {top5:.0%} of victimisations).
- Data-quality noise (blank LSOA, unknown ages and times, "Not Stated" ethnicity), no structural errors.

Regenerate with `svtools demo-data --seed {seed} --scale {scale}`: the files are byte-identical.
"""


def generate_demo_data(out_dir: Path | None = None, *, seed: int = 20250331, forces: list[str] | None = None,
                       scale: float = 1.0, progress: bool = True) -> dict:
    """Write the SYNTHETIC police extract, hospital admissions, ``truth.json`` and ``README.md``.

    Parameters
    ----------
    out_dir : Path, optional
        Output folder (default ``data/raw/demo``). Extract files of forces not generated in this call
        (``*_crime_extract.csv``) are removed so the folder matches its ``truth.json``.
    seed : int
        Random seed; the same seed and arguments give byte-identical files.
    forces : list of str, optional
        Force slugs (``config/geography.yaml`` ``demo_forces``); default all nine.
    scale : float
        Multiplies every expected volume (1.0 = calibrated to the real 2022 counts, about 2.7 million rows).
    progress : bool
        Show a progress bar over forces on stderr.

    Returns
    -------
    dict
        ``out_dir``, ``files``, ``rows_per_force``, ``crimes_per_force``, ``rows_total``, ``seconds``,
        ``seed``, ``scale``.
    """
    t0 = time.perf_counter()
    all_slugs = _force_slugs()
    slugs = list(all_slugs) if forces is None else list(dict.fromkeys(forces))
    unknown = [f for f in slugs if f not in all_slugs]
    if unknown or not slugs:
        raise SvtoolsError(f"unknown demo force(s) {unknown or slugs}; choose from {all_slugs}")
    slugs = [s for s in all_slugs if s in slugs]                      # fixed order
    if not scale > 0:
        raise SvtoolsError(f"scale must be positive, got {scale!r}")
    cfg = demo_config()
    missing = [s for s in all_slugs if s not in cfg["forces"]]
    if missing:
        raise ConfigError(f"config/demo.yaml: forces lacks {missing}")
    out = Path(out_dir) if out_dir is not None else raw_dir() / "demo"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*_crime_extract.csv"):
        if stale.name not in {f"{s}_crime_extract.csv" for s in slugs}:
            stale.unlink()
    model = _Model(cfg, scale)

    try:
        from tqdm.auto import tqdm
        iterator = tqdm(slugs, desc="demo forces", unit="force", file=sys.stderr, disable=not progress)
    except ImportError:  # pragma: no cover - tqdm is pinned
        iterator = slugs
    per_force, files, hospital_rows = {}, [], []
    for slug in iterator:
        table, stats = _generate_force(slug, all_slugs.index(slug), model, seed)
        path = out / f"{slug}_crime_extract.csv"
        _write_csv(table, path, _COMMA_LABELS)
        del table
        files.append(path.name)
        hospital_rows += _hospital(model, slug, all_slugs.index(slug), seed, stats)
        per_force[slug] = stats

    # hospital admissions, suppressed 1-7 as HES supplies them
    threshold = int(settings()["disclosure"]["hes_threshold"])
    marker = settings()["disclosure"]["suppressed_marker"]
    hosp = pd.DataFrame(hospital_rows)
    shown = hosp["admissions"].astype(str).where(~hosp["admissions"].between(1, threshold), marker)
    hosp_out = hosp[["area_code", "area_name", "financial_year", "age_band", "sex"]].assign(admissions=shown)
    hosp_out.to_csv(out / "hospital_admissions.csv", index=False, lineterminator="\n")
    files.append("hospital_admissions.csv")

    truth = _assemble_truth(model, seed, slugs, per_force, hosp)
    summary = {
        "out_dir": str(out), "files": files, "seed": seed, "scale": scale,
        "rows_per_force": {s: per_force[s]["rows"] for s in slugs},
        "crimes_per_force": {s: per_force[s]["crimes"] for s in slugs},
    }
    summary["rows_total"] = int(sum(summary["rows_per_force"].values()))
    (out / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "README.md").write_text(_readme(summary, truth), encoding="utf-8")
    files += ["truth.json", "README.md"]
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary


def _assemble_truth(model: _Model, seed: int, slugs: list[str], per_force: dict, hosp: pd.DataFrame) -> dict:
    """truth.json: the true parameters, expected counts and realised figures (deterministic, no timings)."""
    cfg = model.cfg
    codes = model.codes
    vic = cfg["victims"]
    truth = truth_from_config(cfg)
    trend = truth["intensity"]["trend"]
    truth["intensity"]["trend"] = {k: v for k, v in trend.items() if v["force"] in slugs}
    exp_code = sum(per_force[s]["exp_code"] for s in slugs)
    exp_knife = sum(per_force[s]["exp_knife_code"] for s in slugs)
    dep = sum(per_force[s]["dep_knife"] for s in slugs)
    two = float(vic["two_victim_share"])

    # expected victim figures from the code mix (victim rows = crimes x (1 + two-victim share))
    v_w = np.where(codes["victim"], exp_code * (1 + two), 0.0)
    u25 = np.array([model.age_pmfs[p, lo:min(hi, 24) + 1].sum() / model.age_pmfs[p, lo:hi + 1].sum()
                    for p, lo, hi in zip(codes["profile"], codes["age_lo"], codes["age_hi"])])
    kv_w = np.where(codes["victim"], exp_knife * (1 + two), 0.0)
    male_k = np.where(codes["sex"] == 1, 1.0,
                      np.where(codes["sex"] == 0, 0.0, float(vic["male_share_knife"])))
    vcounts = np.concatenate([per_force[s]["victim_person_counts"] for s in slugs])
    scounts = np.concatenate([per_force[s]["suspect_person_counts"] for s in slugs])

    def tot(key):
        return int(sum(per_force[s][key] for s in slugs))

    def ratio(num, den):
        return round(tot(num) / max(tot(den), 1), 6)

    offence_mix = {}
    total_exp = exp_code.sum()
    for r, row in codes.iterrows():
        offence_mix[row["code"]] = {
            "description": row["description"], "stream": row["stream"],
            "probability_within_stream": round(float(row["prob"]), 6),
            "expected_share_of_all_offences": round(float(exp_code[r] / total_exp), 6),
            "knife_share_at_reference_decile": row["knife"],
            "expected_knife_share": round(float(exp_knife[r] / exp_code[r]), 6) if exp_code[r] else None,
            "domestic_share": row["da"], "victim": bool(row["victim"]),
            "victim_sex_fixed": {-1: None, 0: "F", 1: "M"}[int(row["sex"])],
            "victim_male_share_non_knife": None if row["sex"] >= 0 else row["male"],
            "victim_age_range": [int(row["age_lo"]), int(row["age_hi"])],
            "victim_age_profile": list(vic["age_profiles"])[int(row["profile"])],
            "sexual_offence": bool(row["sexual"]), "knife_serious_violence_code": bool(row["knife_sv"]),
        }
    mult = {str(d): round(model.dep_rr ** (model.dep_ref - d), 6) for d in range(1, 11)}
    delay = {k: {"p_0_to_3_days": round(float(p[:4].sum()), 6),
                 "mean_days": round(float((np.arange(len(p)) * p).sum()), 3),
                 "p_over_365_days": round(float(p[366:].sum()), 6), **cfg["timing"]["delay"][k]}
             for k, p in model.delay_pmfs.items()}
    expected_counts = {}
    for s in slugs:
        expected_counts.update(per_force[s]["csp"])
    n_rows = tot("rows")
    truth.update({
        "synthetic": True,
        "WARNING": _SYNTHETIC_NOTE,
        "generator": {"module": "svtools.ingest.demo", "svtools_version": __version__, "config": "config/demo.yaml",
                      "seed": seed, "scale": model.scale, "forces": slugs,
                      "pfa_codes": {s: _pfa_of(s) for s in slugs}},
        "period": {"start": model.start.strftime("%Y-%m-%d"), "end": model.end.strftime("%Y-%m-%d"),
                   "months": model.T, "financial_years": model.fy_labels},
        "calibration": {**cfg["calibration"],
                        "note": ("base rates are set so the expected Jan-Nov 2022 count per CSP and stream "
                                 "equals the real data.police.uk count (located rows) divided by (1 - blank "
                                 "LSOA rate), times scale; expected counts below are before LSOA blanking")},
        "offence_mix": offence_mix,
        "knife": {
            "share_at_reference_decile_by_code": {c: k for c, k in zip(codes["code"], codes["knife"])
                                                  if k > 0},
            "expected_share_by_code": {c: offence_mix[c]["expected_knife_share"] for c in codes["code"]
                                       if offence_mix[c]["knife_share_at_reference_decile"] > 0},
            "realised_share_all_crimes": ratio("knife_crimes", "crimes"),
        },
        "deprivation": {
            "knife_rate_ratio_per_decile": model.dep_rr, "reference_decile": model.dep_ref,
            "formula": ("P(knife | code, decile d) = min(1, knife_code * rr ** (reference_decile - d)); "
                        "decile 1 = most deprived"),
            "knife_multiplier_by_decile": mult,
            "expected_vso_knife_share_by_decile": {str(d + 1): round(float(dep[d, 0] / dep[d, 1]), 6)
                                                   for d in range(10) if dep[d, 1] > 0},
        },
        "timing": {
            "hour_weights": [round(float(x), 6) for x in model.hour_p],
            "peak_hours": [15, 18, 19, 23],
            "dow_weights_mon_to_sun": [round(float(x), 6) for x in model.dow_w / model.dow_w.sum()],
            "weekend_rate_ratio": round(float(model.dow_w[5:].mean() / model.dow_w[:5].mean()), 6),
            "minute_on_the_hour": cfg["timing"]["minute_on_the_hour"],
            "recording_delay": delay,
            "note": ("occurrence dates carry the day-of-week weights; recorded months follow the intensity "
                     "exactly"),
        },
        "victims": {
            "two_victim_share": two,
            "realised_two_victim_share": ratio("two_victim_crimes", "crimes_with_victim"),
            "age_profiles": vic["age_profiles"],
            "expected_under25_share": round(float((v_w * u25).sum() / v_w.sum()), 6),
            "realised_under25_share": ratio("victims_under25", "victims_age_known"),
            "male_share_knife": float(vic["male_share_knife"]),
            "expected_male_share_knife_victims": round(float((kv_w * male_k).sum() / kv_w.sum()), 6),
            "realised_male_share_knife_victims": ratio("knife_victims_male", "knife_victims_mf"),
            "other_sex_share": vic["other_sex_share"],
            "ethnicity": {
                "note": ("population shares are APPROXIMATE, ROUNDED, HAND-ENTERED Census 2021 figures for "
                         "SYNTHETIC data only; victim share = pop share x rate ratio, normalised"),
                "rate_ratio": vic["ethnicity_rate_ratio"],
                "population_pct": {s: per_force[s]["eth_pop_pct"] for s in slugs},
                "victim_share": {s: per_force[s]["eth_victim_p"] for s in slugs},
            },
            "repeat": {
                **vic["repeat"],
                "expected_mean_offences_per_victim_in_pool": {
                    k: round(float((np.arange(1, len(p) + 1) * p).sum()), 6)
                    for k, p in model.rep_pmf.items()},
                "pool": ("first victims of offences without a fixed age range, aged >= min_age; grouped "
                         "within (force, domestic flag, sex, ethnicity), sorted by CSP and LSOA"),
                "realised": {
                    "victims": int(len(vcounts)), "victim_rows": int(vcounts.sum()),
                    "share_of_victims_with_2plus": round(float((vcounts >= 2).mean()), 6),
                    "top_1pct_share": round(_top_share(vcounts, 0.01), 6),
                    "top_5pct_share": round(_top_share(vcounts, 0.05), 6),
                    "top_10pct_share": round(_top_share(vcounts, 0.10), 6),
                    "max_offences_one_victim": int(vcounts.max()) if len(vcounts) else 0,
                    "definition": ("share of victim rows (offences x victim) belonging to the top x% of "
                                   "victim ids ranked by their number of rows"),
                },
            },
        },
        "suspects": {
            **{k: cfg["suspects"][k] for k in ("known", "male", "age_profile", "repeat", "other_sex_share")},
            "realised_known_share": ratio("suspect_known", "suspect_known_of"),
            "realised_male_share": ratio("suspect_male", "suspect_known"),
            "realised_suspects": int(len(scounts)),
            "realised_top_5pct_share": round(_top_share(scounts, 0.05), 6),
        },
        "data_quality": {**cfg["data_quality"],
                         "realised_blank_lsoa_share_of_crimes": ratio("blank_lsoa", "crimes")},
        "expected_counts": expected_counts,
        "realised": {"crimes": tot("crimes"), "rows": n_rows,
                     "rows_per_force": {s: per_force[s]["rows"] for s in slugs},
                     "crimes_per_force": {s: per_force[s]["crimes"] for s in slugs}},
        "hospital_admissions": {
            **cfg["hospital"], "icd10": "X99", "suppressed": "1-7 written as '*'",
            "unsuppressed": hosp[["area_code", "financial_year", "age_band", "sex", "expected", "admissions"]]
            .to_dict(orient="records"),
        },
    })
    return truth
