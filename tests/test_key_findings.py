"""Key findings ("What this page shows", issue 11 item 4): every sentence checked against the numbers it states.

* Unit tests with hand-made inputs: an interval that includes 1 (or a funnel point inside its limits, or no
  special cause) reads "no clear change" / "no clear difference" and claims no direction; one that excludes 1
  says which way, with the uncertainty in words; the ordering rule; heading ids.
* Real builds (slow): the CSP profile of Hartlepool and Middlesbrough (the session's demo data) and the London
  page of Westminster (the real borough counts). Every sentence of "What this page shows" is parsed: each number
  in it must be a number the underlying section computes (run here, in this process, on the same data), every
  number must be accounted for, the direction words must agree with the interval (or funnel flag, or SPC
  rule), each link must point to an id on the page, and counts and rates must be published elsewhere on the
  page (the findings add no number of their own).
"""

from __future__ import annotations

import math
import re
from html import unescape
from html.parser import HTMLParser

import pytest

from svtools.analysis import findings as F
from svtools.analysis.stats.compare import interval_words, rate_ratio
from svtools.publish.anchors import add_heading_ids, heading_id, page_ids

WHERE = {"section": "offences-by-financial-year", "section_title": "Offences by financial year"}


# =========================================================================== unit: words follow the interval
def test_interval_in_words():
    assert F.ratio_range_words(1.05, 1.31) == "between 5% and 31% higher"
    assert F.ratio_range_words(0.60, 0.88) == "between 12% and 40% lower"
    assert F.ratio_range_words(0.88, 1.31) == "between 12% lower and 31% higher"
    assert F.ratio_range_words(1.2, math.inf) == "at least 20% higher"
    # an interval that excludes 1 never reads "0%"
    assert F.pct(1.004) == "0.4%" and F.pct(0.996) == "0.4%" and F.pct(1.0) == "0%"
    assert F.sig3(2.2567) == "2.26" and F.sig3(0.04421) == "0.0442" and F.sig3(123.4) == "123"


def test_change_whose_interval_includes_1_is_no_clear_change():
    # 12 against 10 offences, same residents: the exact conditional interval is the Clopper-Pearson interval of
    # 12 of 22, pi / (1 - pi): Beta(0.025; 12, 11) = 0.32207 and Beta(0.975; 13, 10) = 0.75614 give 0.4752 to 3.1007
    rr = rate_ratio(12, 10, 1.0, 1.0).iloc[0]
    assert rr["lower"] == pytest.approx(0.47515, abs=1e-4) and rr["upper"] == pytest.approx(3.10068, abs=1e-4)
    f = F.change_finding("robbery", "2024/25", "2019/20", 12, 10, rr["ratio"], rr["lower"], rr["upper"], **WHERE)
    assert f.claim == "no clear change" and not f.supported and f.concern is None
    assert "no clear change" in f.text and "could be chance" in f.text
    assert "between 52% lower and 210% higher" in f.text
    body = f.text.replace(F.ratio_range_words(rr["lower"], rr["upper"]), "")
    assert not re.search(r"\b(higher|lower)\b", body), f.text  # direction words only inside the interval
    assert "1.20 times" not in f.text  # no point estimate stated as if it were a change
    assert f.rule == "rate ratio 95% CI includes 1"
    # a claim note (census rebasing) is added only to a supported change
    g = F.change_finding("robbery", "2024/25", "2019/20", 12, 10, 1.2, 0.8, 1.7, claim_note="REBASED", **WHERE)
    assert "REBASED" not in g.text


def test_change_whose_interval_excludes_1_says_which_way():
    f = F.change_finding("violence with injury", "2021/22", "2019/20", 3911, 3790, 1.3149, 1.2571, 1.3753,
                         claim_note="part of it can be rebasing", **WHERE)
    assert f.claim == "higher" and f.supported and f.concern is True
    assert "was higher in 2021/22 than in 2019/20" in f.text and "1.31 times as high" in f.text
    assert "between 26% and 38% higher" in f.text and "3,911 offences against 3,790" in f.text
    assert f.text.startswith("Violence with injury:") and "rebasing" in f.text
    g = F.change_finding("robbery", "2021/22", "2019/20", 2603, 4255, 0.7795, 0.7421, 0.8186, **WHERE)
    assert g.claim == "lower" and g.concern is False and "between 18% and 26% lower" in g.text
    with pytest.raises(ValueError):
        F.change_finding("x", "a", "b", 1, 1, 1.0, float("nan"), 2.0, **WHERE)


def test_funnel_trend_gradient_and_spc_without_support_claim_nothing():
    w = {"section": "s", "section_title": "S"}
    f = F.funnel_finding("Hartlepool", [("the Cleveland rate", 1.29), ("the rate of all CSPs", 0.79)],
                         "not significant", "not significant", 1.25, "the latest 12 months", **w)
    assert f.claim == "no clear difference" and "no clear difference from the Cleveland rate (1.29) or the rate " \
        "of all CSPs (0.79)" in f.text and not re.search(r"\b(higher|lower|above|below)\b", f.text)
    f = F.funnel_finding("Westminster", [("the London rate", 12.34)], "high", "high", 36.70, "the year", **w)
    assert f.claim == "higher" and "higher than the London rate (12.34)" in f.text and "99.8% limit." in f.text
    assert f.rule == "outside the 99.8% funnel limit"
    f = F.funnel_finding("X", [("the force rate", 2.0)], "low", "not significant", 1.5, "the year", **w)
    assert f.claim == "lower" and "inside the 99.8% limit" in f.text and f.rule == "outside the 95% funnel limit"
    with pytest.raises(ValueError):
        F.funnel_finding("X", [("y", 1.0)], "above", None, 1.0, "w", **w)

    t = F.trend_finding("robbery", 1.01, 0.97, 1.05, **w)
    assert t.claim == "no clear change" and "no clear change in the underlying trend" in t.text
    assert not re.search(r"\b(rising|falling)\b", t.text)
    t = F.trend_finding("robbery", 1.044, 1.0287, 1.0596, **w)
    assert t.claim == "rising" and "between 3% and 6% higher a year" in t.text and "1.044" in t.text

    g = F.gradient_finding("Hartlepool", 1.6, 0.9, 2.8, **w)
    assert g.claim == "no clear change" and "no clear gradient" in g.text and "includes 1" in g.text
    g = F.gradient_finding("Hartlepool", 2.2567, 1.51, 3.4, **w)
    assert g.claim == "gradient" and "higher in more deprived" in g.text and "2.26 times" in g.text

    s = F.spc_finding("serious violence", "month", "2025-03", "common cause", 6, [], [], **w)
    assert s.claim == "no clear change" and "only common-cause variation in the latest 6 months" in s.text
    s = F.spc_finding("serious violence", "month", "2025-03", "common cause", 6, ["improvement"],
                      ["7 months in a row below the average"], **w)
    assert s.claim == "improvement" and s.concern is False and "(fewer offences)" in s.text
    assert s.rule == "SPC rule: 7 months in a row below the average"


def test_red_red_sentence():
    w = {"section": "red-red-indicators", "section_title": "Red-red indicators"}
    f = F.red_red_finding("Westminster", [{"label": "Robbery", "value": 12.692, "benchmark": 2.6705,
                                           "unit": "per 1,000 residents a year", "benchmark_words": "all CSPs",
                                           "trend_lower": 1.3115, "trend_upper": 1.7891,
                                           "trend_period": "March 2020 to February 2023"}], **w)
    assert f.claim == "red-red" and f.concern is True and f.kind == "red-red"
    assert f.text == ("1 indicator of Westminster is both significantly worse than the benchmark and getting worse "
                      "(red-red): Robbery, 12.69 per 1,000 residents a year against 2.67 for all CSPs, between 31% "
                      "and 79% higher each year (March 2020 to February 2023).")
    with pytest.raises(ValueError):
        F.red_red_finding("X", [], **w)
    other = F.funnel_finding("e", [("f", 1.0)], "high", "high", 2.0, "w", order=1, **w)
    assert F.order_findings([other, f]) == [f, other]  # red-red first among concerns


def test_ordering_rule():
    w = {"section": "s", "section_title": "S"}
    nochange = F.change_finding("a", "y1", "y0", 10, 10, 1.0, 0.6, 1.6, order=10, **w)
    better = F.change_finding("b", "y1", "y0", 10, 30, 0.33, 0.2, 0.6, order=10, **w)
    worse_part = F.change_finding("c", "y1", "y0", 30, 10, 3.0, 1.6, 5.0, order=11, part=True, **w)
    worse_trend = F.trend_finding("d", 1.05, 1.02, 1.08, order=20, **w)
    worse_funnel = F.funnel_finding("e", [("f", 1.0)], "high", "high", 2.0, "w", order=90, **w)
    hidden = F.not_possible_finding("No change can be given: a count is hidden.", order=5, **w)
    nodiff = F.funnel_finding("e", [("f", 1.0)], "not significant", None, 1.1, "w", order=3, **w)
    got = F.order_findings([hidden, nochange, better, worse_part, worse_trend, nodiff, worse_funnel])
    # concerns (the page's definition first: funnel, then trend; then a part), improvements, no clear change
    # or difference in page order, and last what the data do not allow
    assert got == [worse_funnel, worse_trend, worse_part, better, nodiff, nochange]
    assert len(got) == F.MAX_FINDINGS and hidden not in got
    assert F.order_findings([hidden, nochange]) == [nochange, hidden]


def test_heading_ids():
    assert heading_id("Compared with the force area and other CSPs") == "compared-with-the-force-area-and-other-csps"
    assert heading_id("How much: financial years") == "how-much-financial-years"
    assert heading_id("Trend &amp; <strong>season</strong>") == "trend-season"
    html = ('<h2 id="about-this-report">About this report</h2><h2>Robbery</h2><h3>Robbery</h3>'
            '<h3 class="x">Kept</h3><h2>About this report</h2>')
    out = add_heading_ids(html)
    assert '<h2 id="robbery">Robbery</h2>' in out and '<h3 id="robbery-2">Robbery</h3>' in out
    assert '<h3 class="x">Kept</h3>' in out  # a heading with attributes is left alone
    assert '<h2 id="about-this-report-2">About this report</h2>' in out  # an existing id is never reused
    assert page_ids(out) == {"about-this-report", "robbery", "robbery-2", "about-this-report-2"}


def test_hidden_count_gives_no_change(ctx, monkeypatch):
    """A hidden count is never read as 0 and never as "no change": the sentence says the data do not allow it."""
    from svtools.publish.sections import findings as sf
    from svtools.publish.sections import profile_volume

    real = profile_volume._family

    class Hidden:
        def __init__(self, fam):
            self._fam = fam
            self.levels = fam.levels

        def value(self, code, node):
            return None if node == "2019/20" else self._fam.value(code, node)

    monkeypatch.setattr(profile_volume, "_family", lambda c, d=None: Hidden(real(c, d)))
    f = sf._profile_change(ctx)
    assert f is not None and f.claim == "not possible" and not f.numbers
    assert "too small to publish" in f.text and "no clear change" not in f.text
    assert not re.search(r"\b0\b", f.text)


# =========================================================================== real builds: parse the pages
class _Findings(HTMLParser):
    """The list items (text, link targets) under the "What this page shows" heading of a page."""

    def __init__(self):
        super().__init__()
        self.items: list[dict] = []
        self._state = "before"
        self._li = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h2" and a.get("id") == "what-this-page-shows":
            self._state = "in"
        elif tag == "h2" and self._state == "in":
            self._state = "after"
        if self._state == "in" and tag == "li":
            self._li = {"text": "", "links": []}
        if self._li is not None and tag == "a":
            self._li["links"].append(a.get("href", ""))
            self._depth += 1

    def handle_endtag(self, tag):
        if tag == "a" and self._depth:
            self._depth -= 1
        if tag == "li" and self._li is not None:
            self._li["text"] = " ".join(self._li["text"].split())
            self.items.append(self._li)
            self._li = None

    def handle_data(self, data):
        if self._li is not None and not self._depth:  # the sentence, not its link text
            self._li["text"] += data


def _text(html: str) -> str:
    """What a reader gets from a page: its text and the alt text of its charts."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    alts = " ".join(re.findall(r'<img[^>]*\salt="([^"]*)"', html))
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html) + " " + alts).split())


#: Labels, not statistics: financial years, months, quarters, calendar years, confidence levels, rates' "per".
_LABELS = [r"\b\d{4}/\d{2}(?: Q\d)?\b", r"\b\d{4}-\d{2}\b", r"\b(?:19|20)\d{2}\b", r"\b95%", r"\b99\.8%",
           r"per 1,000\b", r"per 100,000\b", r"COVID-19", r"under 25\b"]
#: The comparison window of the rate sections ("over the latest 12 months (April 2024 to March 2025)").
_WINDOW = re.compile(r"over (?:the latest \d+ months|the \d+ months? the data hold) \([^)]*\)")
_VERDICTS = ("higher than", "lower than", "no clear difference")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?%?")


def _numbers(text: str, *remove: str) -> list[float]:
    for r in remove:
        text = text.replace(r, " ")
    for pattern in _LABELS:
        text = re.sub(pattern, " ", text)
    return [float(t.rstrip("%").replace(",", "")) for t in _NUMBER.findall(text)]


def _match(stated: list[float], expected: list[tuple[float, float]], sentence: str) -> None:
    """Every expected (value, tolerance) is stated once, and nothing else is stated."""
    left = list(stated)
    for value, tol in expected:
        hit = next((x for x in left if abs(x - value) <= tol), None)
        assert hit is not None, (sentence, value, stated)
        left.remove(hit)
    assert not left, (sentence, "numbers with no source", left)


def _pct(r: float) -> float:
    return abs(float(r) - 1.0) * 100


_INTERVAL = re.compile(r"between [\d.]+% (?:lower |higher )?and [\d.]+% (?:lower|higher)|at least [\d.]+% higher")


def _direction(sentence: str, lower: float, upper: float, up: str, down: str) -> None:
    """The direction words agree with the interval: "no clear change" and no direction when it includes 1."""
    expected = interval_words(lower, upper, words=(up, down, "no clear change"))
    span = _INTERVAL.findall(sentence)
    assert len(span) == 1, sentence
    body = sentence.replace(span[0], "")
    said = set(re.findall(rf"\b({up}|{down})\b", body))
    if expected == "no clear change":
        assert "no clear change" in sentence and not said, sentence
        assert "lower" in span[0] and "higher" in span[0], sentence  # the interval straddles no change
    else:
        assert said == {expected} and "no clear" not in sentence, sentence
        side = "higher" if expected == up else "lower"
        assert span[0].endswith(side) and ("lower" if side == "higher" else "higher") not in span[0], sentence


def _page_items(path) -> tuple[str, list[dict]]:
    html = path.read_text(encoding="utf-8")
    p = _Findings()
    p.feed(html)
    assert p.items, f"no findings on {path}"
    return html, p.items


def _check_common(html: str, items: list[dict]) -> str:
    """Links resolve, 1 to 6 sentences (3 unless the page says the data allow no more), claims before
    "no clear" sentences; returns the page text outside the findings block."""
    ids = page_ids(html)
    sentences = [i for i in items if i["links"]]
    assert 1 <= len(sentences) <= F.MAX_FINDINGS
    if len(sentences) < F.MIN_FINDINGS:
        assert any("allow no further findings" in i["text"] for i in items)
    for i in sentences:
        assert len(i["links"]) == 1 and i["links"][0].startswith("#"), i
        assert i["links"][0][1:] in ids, (i["links"][0], sorted(ids))
    claims = ["no clear" not in i["text"] and "can be given" not in i["text"] for i in sentences]
    assert claims == sorted(claims, reverse=True), [i["text"][:60] for i in sentences]
    start = html.index('id="what-this-page-shows"')
    stop = html.index("<h2", start + 10)
    from svtools.publish.page_lint import page_problems

    assert not page_problems(html[start:stop]), page_problems(html[start:stop])  # no leftovers in the block
    return _text(html[:start] + html[stop:])


def _published(value: str, rest: str, sentence: str) -> None:
    assert re.search(rf"(?<![\d.,]){re.escape(value)}(?![\d,]|\.\d)", rest), (value, sentence)


def _check_red_red(sentence: str, ctx, rest: str) -> None:
    """A red-red sentence states, for each indicator the red_red section lists, its value and benchmark and its
    trend's interval in words, and nothing else; the claim needs both conditions to hold."""
    from svtools.publish import sections

    rr = sections.red_red(ctx).data
    assert rr is not None and len(rr), sentence
    expected = []
    for _, r in rr.iterrows():
        assert r["label"] in sentence and r["verdict"] == "worse" and r["trend"] == "getting worse"
        lo, hi = r["trend_lower_95_ci"], r["trend_upper_95_ci"]
        assert lo > 1 or hi < 1  # the trend's interval excludes 1
        expected += [(r["value"], 0.0051), (r["benchmark_value"], 0.0051), (_pct(lo), 0.51), (_pct(hi), 0.51)]
        _published(f"{r['value']:,.2f}", rest, sentence)
    _match(_numbers(sentence, *rr["label"]), expected + [(len(rr), 0)], sentence)
    assert f"{len(rr)} indicator" in sentence


@pytest.fixture(scope="module")
def demo_pages(demo_data, tmp_path_factory):
    from svtools.publish import batch

    out = tmp_path_factory.mktemp("kf_demo")
    run = batch.run_build(notebooks=["csp_profile"], csps=["E22000027", "E22000029"], jobs=1, out=out,
                          progress=False)
    bad = [(r.job_id, r.ename, r.evalue) for r in run.results if r.status != "ok"]
    assert not bad, bad
    return {c: run.run_dir / "csp" / c / "csp_profile" / "index.html" for c in ("E22000027", "E22000029")}


def _quiet(monkeypatch, tmp_path):
    import IPython.display

    from svtools.publish import output

    monkeypatch.setattr(IPython.display, "display", lambda *o, **k: None)
    monkeypatch.setenv(output.PAGE_DIR_ENV, str(tmp_path / "page"))


@pytest.mark.slow
@pytest.mark.parametrize("code", ["E22000027", "E22000029"])
def test_demo_profile_findings(code, demo_pages, monkeypatch, tmp_path):
    from svtools import config
    from svtools.analysis.stats.spc import rule_words
    from svtools.publish import sections

    html, items = _page_items(demo_pages[code])
    rest = _check_common(html, items)
    _quiet(monkeypatch, tmp_path)
    ctx = sections.ProfileContext.load(code, "demo", "knife_serious_violence", "2025-03-31")
    baseline = config.settings()["periods"]["baseline_financial_year"]
    checked = set()
    for item in (i for i in items if i["links"]):
        s, target = item["text"], item["links"][0][1:]
        if "can be given" in s:  # the data do not allow it: no number stated
            assert not _numbers(s) and "no clear change" not in s, s
            checked.add(target)
            continue
        if target == "offences-by-financial-year":
            fy = sections.financial_years(ctx).values
            latest = fy["years"][-1]
            cmp = fy["comparisons"][latest]
            n, b = fy["offences"][latest], fy["offences"][baseline]
            expected = [(n, 0), (b, 0), (_pct(cmp["lower"]), 0.51), (_pct(cmp["upper"]), 0.51)]
            if cmp["words"] != "no clear change":
                expected.append((cmp["ratio"], 0.0051))
            _match(_numbers(s), expected, s)
            _direction(s, cmp["lower"], cmp["upper"], "higher", "lower")
            for v in (n, b):
                _published(f"{int(v):,}", rest, s)
        elif target == "the-home-office-success-measures":
            t = sections.success_measures(ctx).table
            row = t[(t["Measure"] == "Knife or sharp-object enabled serious violence")
                    & (t["Cohort"] == "Victim under 25")].iloc[0]
            latest = [c for c in t.columns if re.fullmatch(r"\d{4}/\d{2}", str(c)) and c != baseline][0]
            ratio, lo, hi = (float(x) for x in re.findall(r"[\d.]+", row["Rate ratio (95% CI)"]))
            expected = [(float(row[latest].replace(",", "")), 0), (float(row[baseline].replace(",", "")), 0),
                        (_pct(lo), 1.01), (_pct(hi), 1.01)]
            if interval_words(lo, hi) != "no clear change":
                expected.append((ratio, 0.0051))
            _match(_numbers(s), expected, s)
            _direction(s, lo, hi, "higher", "lower")
            assert "under 25" in s
        elif target == "month-by-month":
            res = sections.monthly_spc(ctx)
            sp = res.data
            unit = {"month": "month", "quarter": "quarter", "financial_year": "year"}[res.values["resolution"]]
            n = {"month": 6, "quarter": 4, "financial_year": 2}[res.values["resolution"]]
            recent = sp.tail(n)
            kinds = set(recent["special_cause"]) - {"common cause"}
            words = {rule_words(r, unit) for r in recent["rule"]} - {""}
            said = [w for w in words if w in s]
            _match(_numbers(s, *said), [(n, 0)] if f"the latest {n} {unit}s" in s else [], s)
            if kinds:
                assert any(f"special-cause {k}" in s for k in kinds) and said, s
            else:
                assert "only common-cause variation" in s and "no clear change" in s and "special-cause" not in s
        elif target == "compared-with-the-force-area-and-other-csps":
            res = sections.rate_comparison(ctx)
            v, me = res.values, res.data.set_index("csp_code").loc[code]
            expected = [(v["rate"], 0.0051)]
            if "Cleveland" in s or ctx.force_name in s:
                expected.append((v["force_rate"], 0.0051))
                flag = me["vs_force_95"]
            if "all CSPs" in s:
                expected.append((v["overall_rate"], 0.0051))
                flag = me["vs_all_95"]
            _match(_numbers(_WINDOW.sub(" ", s)), expected, s)
            word = {"high": "higher than", "low": "lower than", "not significant": "no clear difference"}[flag]
            assert {w for w in _VERDICTS if w in s} == {word}, s
            assert ("99.8% limit." in s) == (word != "no clear difference" and (
                me["vs_force_998"] if "Cleveland" in s or ctx.force_name in s else me["vs_all_998"]) == flag), s
            _published(f"{v['rate']:.2f}", rest, s)
        elif target == "red-red-indicators":
            _check_red_red(s, ctx, rest)
        elif target == "deprivation":
            v = sections.deprivation(ctx).values
            assert v["ratio"] is not None, s
            lo, hi = v["ratio_ci"]
            _match(_numbers(s), [(v["ratio"], 0.006 * v["ratio"]), (lo, 0.006 * lo), (hi, 0.006 * hi)], s)
            assert ("no clear gradient" in s) == (lo <= 1 <= hi), s
        else:
            raise AssertionError(f"a finding links to an unexpected section: {target}")
        checked.add(target)
    assert checked, items


@pytest.fixture(scope="module")
def london(svtools_dirs):
    from svtools.cli import main
    from svtools.paths import processed_dir, real_data_dir

    src = real_data_dir() / "london_mps"
    if not src.is_dir():
        pytest.skip(f"{src} not present")
    if not (processed_dir() / "london_mps" / "dataset.json").is_file():
        assert main(["ingest", "--dataset", "london_mps", "--extract", str(src), "--mapping", "london_mps"]) == 0
    return "london_mps"


@pytest.mark.slow
def test_london_page_findings(london, tmp_path_factory, monkeypatch, tmp_path):
    from svtools.analysis.stats.spc import rule_words
    from svtools.publish import batch, sections

    code = "E22000192"  # Westminster
    out = tmp_path_factory.mktemp("kf_london")
    run = batch.run_build(notebooks=["london_csp"], csps=[code], dataset=london, jobs=1, out=out, progress=False)
    assert all(r.status == "ok" for r in run.results), [(r.ename, r.evalue) for r in run.results]
    html, items = _page_items(run.run_dir / "csp" / code / "london_csp" / "index.html")
    rest = _check_common(html, items)
    _quiet(monkeypatch, tmp_path)
    ctx = sections.CountsContext.load(code, london, "london_serious_violence")
    years = sections.count_years(ctx).values
    unit_of = {"month": "month", "quarter": "quarter", "financial_year": "year"}

    def measure_of(sentence: str, target: str):
        if target == "red-red-indicators":
            return ctx.definition
        for m in ctx.measures:
            what = m.short_title
            if target in (heading_id(f"Trend and seasonality of {what}"),
                          heading_id(f"Statistical process control: {what}"),
                          heading_id(f"Compared with the other CSPs: {what}")):
                return m
            if target == "how-much-financial-years" and sentence.startswith(what[:1].upper() + what[1:] + ":"):
                return m
        raise AssertionError(f"no measure for {target}: {sentence}")

    targets = {i["links"][0][1:] for i in items if i["links"]}
    # Westminster's real figures: a rate above the London funnel's limits leads the page (red-red, when the
    # indicators give any, is checked by the same loop)
    assert "compared-with-the-other-csps-serious-violence" in targets, targets
    for item in (i for i in items if i["links"]):
        s, target = item["text"], item["links"][0][1:]
        m = measure_of(s, target)
        if target == "how-much-financial-years":
            v = years[m.name]
            expected = [(v["latest"], 0), (v["baseline"], 0), (_pct(v["lower"]), 0.51), (_pct(v["upper"]), 0.51)]
            if v["words"] != "no clear change":
                expected.append((v["ratio"], 0.0051))
            _match(_numbers(s), expected, s)
            _direction(s, v["lower"], v["upper"], "higher", "lower")
            assert v["words"] in s or (v["words"] == "no clear change" and "no clear change" in s)
            for x in (v["latest"], v["baseline"]):
                _published(f"{int(x):,}", rest, s)
        elif target.startswith("trend-and-seasonality-of-"):
            v = sections.count_trend(ctx, m.name).values
            lo, hi = v["annual_rate_ratio_ci"]
            expected = [(_pct(lo), 0.51), (_pct(hi), 0.51)]
            if v["words"] != "no clear change":
                expected.append((v["annual_rate_ratio"], 0.00051))
            _match(_numbers(s), expected, s)
            _direction(s, lo, hi, "rising", "falling")
            assert target == heading_id(f"Trend and seasonality of {m.short_title}")
        elif target.startswith("statistical-process-control-"):
            res = sections.count_spc(ctx, m.name)
            v, sp = res.values, res.data
            unit = unit_of[v["resolution"]]
            n = {"month": 6, "quarter": 4, "financial_year": 2}[v["resolution"]]
            kinds = set(sp.tail(n)["special_cause"]) - {"common cause"}
            words = {rule_words(r, unit) for r in v["recent_rules"]}
            said = [w for w in words if w in s]
            _match(_numbers(s, *said), [(n, 0)] if f"the latest {n} {unit}s" in s else [], s)
            if kinds:
                assert any(f"special-cause {k}" in s for k in kinds) and said, (s, words)
                if f"the latest {unit} (" in s:
                    assert f"special-cause {v['latest']}" in s
            else:
                assert "only common-cause variation" in s and "special-cause" not in s
        elif target == "red-red-indicators":
            _check_red_red(s, ctx, rest)
        elif target.startswith("compared-with-the-other-csps-"):
            res = sections.count_funnel(ctx, m.name)
            me = res.data.set_index("csp_code").loc[code]
            _match(_numbers(s, res.values["window"]), [(me["rate"], 0.0051), (res.values["force_rate"], 0.0051)], s)
            word = {"high": "higher than", "low": "lower than", "not significant": "no clear difference"}[
                me["funnel_95"]]
            assert {w for w in _VERDICTS if w in s} == {word}, s
            _published(f"{me['rate']:.2f}", rest, s)
            assert ("99.8% limit." in s) == (me["funnel_998"] == me["funnel_95"] != "not significant"), s
        else:
            raise AssertionError(f"a finding links to an unexpected section: {target}")
