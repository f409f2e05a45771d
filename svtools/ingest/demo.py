"""SYNTHETIC police extract with known truth, for demonstrations and for testing the statistics.

Record-level police data cannot be shipped, so ``svtools demo-data`` writes a deterministic, seeded, entirely
SYNTHETIC crime extract in the ``config/mappings/demo_extract.yaml`` source layout for every Community Safety
Partnership (CSP) of the nine forces whose real data.police.uk street files ship in
``../shared/data/real/police_uk/forces_2022-01_to_2022-11/``, recorded April 2018 to March 2025. Beside it
go SYNTHETIC hospital admissions (assault by a sharp object), ``truth.json`` (every true parameter and the
expected counts) and a ``README.md``. All parameters live in ``config/demo.yaml``.

*National demo.* ``forces=["all"]`` (``svtools demo-data --forces all``) generates every territorial force of
England and Wales (43 forces, 314 CSPs of the December 2024 lookup, the Metropolitan Police and the City of
London Police included) with the same model. The 34 forces without street files are calibrated to the real
Home Office police recorded crime 2019/20 force counts, shared among LSOAs by population and the real IMD
gradient; their names, prefixes, trends and (real Census 2021) ethnicity follow the rules in
``config/demo.yaml`` ``national`` (:func:`svtools.ingest.demo_model.expand_config`; docs/national_demo.md).

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
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from svtools import __version__
from svtools.config import settings
from svtools.errors import ConfigError, SvtoolsError
from svtools.paths import raw_dir
# the model's parts and one force live in demo_model and demo_force; the public names are re-exported here
from svtools.ingest.demo_force import (
    _COMMA_TOKEN,
    _Model,
    _generate_force,
)
from svtools.ingest.demo_model import (  # noqa: F401
    ETHNIC_GROUPS,
    EXTRACT_COLUMNS,
    STREAMS,
    _COMMA_LABELS,
    _HOSPITAL_AGE_BANDS,
    _HOSPITAL_SEXES,
    _SYNTHETIC_NOTE,
    _force_slugs,
    _pfa_of,
    expand_config,
    home_office_counts,
    national_force_names,
    national_forces,
    resolve_forces,
    _top_share,
    demo_config,
    load_truth,
    monthly_intensity,
    real_counts,
    truth_from_config,
)

__all__ = [
    "generate_demo_data",
    "national_forces",
    "national_force_names",
    "resolve_forces",
    "monthly_intensity",
    "load_truth",
    "truth_from_config",
    "demo_config",
    "real_counts",
    "EXTRACT_COLUMNS",
    "STREAMS",
]


# ============================================================================================================
# writing
# ============================================================================================================
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
  {hom} per 100,000 residents a year (ONS mid-2020 population).{_readme_national(truth)}
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


def _readme_national(truth: dict) -> str:
    """The README's line on forces calibrated to the Home Office table (empty for the 9-force demo)."""
    ho = truth["calibration"].get("home_office")
    if not ho:
        return ""
    return (f"\n- The {len(ho['forces'])} forces without street files (the national demo): real Home Office "
            "police recorded crime 2019/20 force counts (OGL v3.0) set the expected April 2019 - March 2020 "
            "volume, shared among LSOAs by population and IMD decile; trends, names and ethnicity follow the "
            "rules in `config/demo.yaml` `national` (docs/national_demo.md).")


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
        Force slugs; default the nine demo forces (``config/geography.yaml`` ``demo_forces``). ``["all"]``:
        every territorial force of England and Wales (43, :func:`national_forces`); ``"demo"`` stands for the
        nine. Forces other than the nine get their values from ``config/demo.yaml`` ``national`` (volumes
        calibrated to the real Home Office 2019/20 force counts; docs/national_demo.md).
    scale : float
        Multiplies every expected volume (1.0 = calibrated to the real counts: about 2.7 million rows for the
        nine demo forces; nationally 1.58 million at scale 0.1, so about 16 million at 1.0).
    progress : bool
        Show a progress bar over forces on stderr.

    Returns
    -------
    dict
        ``out_dir``, ``files``, ``rows_per_force``, ``crimes_per_force``, ``rows_total``, ``seconds``,
        ``seed``, ``scale``.
    """
    t0 = time.perf_counter()
    all_slugs = list(national_forces())                               # generator order: 9 demo forces first
    slugs = resolve_forces(forces)                                    # fixed order
    if not scale > 0:
        raise SvtoolsError(f"scale must be positive, got {scale!r}")
    cfg = demo_config()
    missing = [s for s in _force_slugs() if s not in cfg["forces"]]
    if missing:
        raise ConfigError(f"config/demo.yaml: forces lacks {missing}")
    cfg = expand_config(cfg, slugs)                                   # the national rules for the others
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
        if hasattr(iterator, "set_postfix_str"):
            iterator.set_postfix_str(slug)
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
    # SYNTHETIC partner data consistent with this extract (A&E, ambulance, youth justice, exclusions)
    from svtools.ingest.demo_partners import generate_partner_data
    files += generate_partner_data(out, seed=seed)["files"]
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
        "calibration": _calibration_truth(cfg, slugs),
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
                         "SYNTHETIC data only; victim share = pop share x rate ratio, normalised"
                         + ("" if slugs == [s for s in slugs if "calibration" not in cfg["forces"][s]] else
                            "; forces other than the nine demo forces: the REAL Census 2021 TS021 shares of "
                            "the force's LSOAs (config/demo.yaml national)")),
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


def _calibration_truth(cfg: dict, slugs: list[str]) -> dict:
    """truth.json ``calibration``: the street rule (the nine demo forces) and, when any other force was
    generated, the Home Office rule with the real counts used (``config/demo.yaml`` ``national``)."""
    out = {**cfg["calibration"],
           "note": ("base rates are set so the expected Jan-Nov 2022 count per CSP and stream "
                    "equals the real data.police.uk count (located rows) divided by (1 - blank "
                    "LSOA rate), times scale; expected counts below are before LSOA blanking")}
    ho_slugs = [s for s in slugs if cfg["forces"][s].get("calibration") == "home_office"]
    if ho_slugs:
        ho = cfg["national"]["home_office"]
        counts = home_office_counts()
        out["home_office"] = {
            **{k: ho[k] for k in ("file", "window", "streams", "deprivation_rate_ratio_per_decile",
                                  "reference_decile")},
            "forces": ho_slugs,
            "real_counts_2019_20": {s: {st: float(counts.at[_pfa_of(s), st]) for st in ho["streams"]}
                                    for s in ho_slugs},
            "note": ("forces without data.police.uk street files: base rates are set so the expected count "
                     "over the window (April 2019 - March 2020) per force and stream equals the real Home "
                     "Office count times scale (blank-LSOA rows included), shared among the force's 2011 "
                     "LSOAs in proportion to ONS mid-2020 population x rr ** (reference_decile - IMD "
                     "decile); homicide as for every force (homicide_per_100k_per_year). Per CSP: "
                     "calibration_home_office_2019_20_share. Trends, names, prefixes and ethnicity by the "
                     "rules in config/demo.yaml national (ethnicity: real Census 2021 TS021 shares)"),
        }
    return out
