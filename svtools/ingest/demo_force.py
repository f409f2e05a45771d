"""One force of the SYNTHETIC demo extract (:mod:`svtools.ingest.demo`): the force-independent model
(:class:`_Model`), the offences, victims and suspects of one force and the arrow table in the source layout.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from svtools.ingest.demo_model import (
    ETHNIC_GROUPS,
    STREAMS,
    _COMMA_LABELS,
    _DateSampler,
    _ETHNIC_LABELS,
    _MAX_AGE,
    _NOT_STATED,
    _SEX_LABELS,
    _ages_from_anchor,
    _band_pmf,
    _categorical,
    _cluster,
    _code_table,
    _delay_pmf,
    _force_lsoas,
    _period,
    _pfa_of,
    _power_pmf,
    home_office_counts,
    monthly_intensity,
    real_counts,
    truth_from_config,
)

_COMMA_TOKEN = "@@comma-label-{}@@"   # stand-in for labels holding a comma while arrow writes unquoted CSV


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
        ho0, ho1 = (pd.Timestamp(m + "-01") for m in cfg["national"]["home_office"]["window"])
        self.cal_ho = np.asarray((self.months >= ho0) & (self.months <= ho1))  # forces without street files
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
    mu = model.intensity(pfa)                                           # (T,)
    home_office = fcfg.get("calibration") == "home_office"              # no street files: config national
    cal = model.cal_ho if home_office else model.cal
    n_cal = int(cal.sum())
    cal_sum = mu[cal].sum()
    base = np.zeros((len(STREAMS), L))
    targets = np.zeros((len(STREAMS), C))     # real counts per CSP over the calibration months (see truth)
    vso_share = None
    if home_office:
        # the force's real Home Office 2019/20 count, shared by population x deprivation gradient
        ho = cfg["national"]["home_office"]
        counts = home_office_counts().loc[pfa]
        for s, stream in enumerate(STREAMS):
            if stream == "homicide":
                continue
            rr = float(ho["deprivation_rate_ratio_per_decile"][stream])
            w = geo["pop"] * rr ** (float(ho["reference_decile"]) - geo["decile"])
            share = w / w.sum()
            targets[s] = float(counts[stream]) * np.bincount(geo["csp"], weights=share, minlength=C)
            base[s] = model.scale * float(counts[stream]) * share / cal_sum
            if stream == "vso":
                vso_share = w / np.bincount(geo["csp"], weights=w, minlength=C)[geo["csp"]]
    else:
        real = real_counts(slug).reindex(geo["lsoa"]).fillna(0)
        alpha = float(cfg["calibration"]["lsoa_pseudo_count"])
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
    targets[s_h] = per_person_year * pop_csp * n_cal / 12.0             # expected over the calibration months
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
            ("calibration_home_office_2019_20_share" if home_office else "calibration_real_counts_2022_jan_nov"):
                {st: round(float(targets[s, c]), 3) for s, st in enumerate(STREAMS)},
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
