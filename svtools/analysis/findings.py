"""Key findings: the few sentences at the top of a profile ("What this page shows"), each one a claim that a
confidence interval, a funnel limit or an SPC rule supports, or else said plainly to be no clear change.

Pure logic, no data access: the page module :mod:`svtools.publish.sections.findings` computes the inputs with
the same svtools functions the page's sections use and passes them here. Each builder returns a
:class:`Finding` holding its sentence, the section it links to, every number it states and the rule behind it,
so a test can check each sentence against the numbers it came from.

The words follow the interval, never the point estimate (:func:`svtools.analysis.stats.compare.interval_words`):
"higher" only when the whole 95% interval of a rate ratio lies above 1, "lower" only when it lies wholly below,
otherwise "no clear change"; the uncertainty is given in words ("between 5% and 31% higher").

Ordering (:func:`order_findings`), most important first:

1. claims a statistical rule supports before statements of no clear change or no clear difference, and those
   before what the data do not allow;
2. among supported claims, concerns (more offences, a rate rising, above a benchmark, special-cause concern,
   higher rates in more deprived neighbourhoods) before improvements;
3. the page's own definition before its parts (a London group's measures, the under-25 cohort);
4. supported claims by kind (:data:`KIND_ORDER`): red-red indicators (worse than the benchmark and getting
   worse), against a benchmark (funnel), against 2019/20, SPC signals in the latest points, the trend, the
   deprivation gradient;
5. then in the order of the sections on the page.

At most :data:`MAX_FINDINGS` are kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from svtools.analysis.stats.compare import NO_CLEAR_CHANGE, interval_words

__all__ = [
    "Finding",
    "NO_CLEAR_CHANGE",
    "NO_CLEAR_DIFFERENCE",
    "MAX_FINDINGS",
    "MIN_FINDINGS",
    "pct",
    "ratio_range_words",
    "sig3",
    "change_finding",
    "funnel_finding",
    "spc_finding",
    "trend_finding",
    "gradient_finding",
    "not_possible_finding",
    "red_red_finding",
    "order_findings",
    "KIND_ORDER",
]

#: Words for a comparison between two areas whose interval includes no difference.
NO_CLEAR_DIFFERENCE = "no clear difference"
#: The most sentences shown, and the fewest the page aims for (fewer only when the data allow no more).
MAX_FINDINGS = 6
MIN_FINDINGS = 3

#: The order of the kinds of finding within a group (see :func:`order_findings`): indicators both worse than
#: their benchmark and getting worse (red-red), how an area compares with a benchmark, then its change from the Home Office baseline year, then what is happening now (SPC signals in
#: the latest points), the longer trend, and the deprivation gradient.
KIND_ORDER = {"red-red": 0, "funnel": 1, "change": 2, "spc": 3, "trend": 4, "gradient": 5, "not possible": 6}

#: Claims that a rule supports, and whether each is a concern (worse for violence) or an improvement.
_CONCERN = {"higher": True, "rising": True, "concern": True, "gradient": True, "red-red": True,
            "lower": False, "falling": False, "improvement": False, "reverse gradient": False}


@dataclass(frozen=True)
class Finding:
    """One sentence of "What this page shows".

    Attributes
    ----------
    text : str
        The sentence, plain text (no markdown), ending with a full stop.
    section : str
        The id of the page heading it comes from (``offences-by-financial-year``;
        :func:`svtools.publish.anchors.heading_id` of ``section_title``).
    section_title : str
        That heading's words: the link text.
    numbers : dict of str to float
        Every number the sentence states, by name, unrounded (``ratio``, ``lower_pct``, ``latest_count`` ...);
        labels such as financial years and the words of an SPC rule are not numbers.
    rule : str
        The rule that supports the sentence, or shows there is nothing to claim: "rate ratio 95% CI excludes 1",
        "outside the 95% funnel limits", "SPC rule: 7 months in a row above the average" ...
    claim : str
        ``higher``, ``lower``, ``rising``, ``falling``, ``concern``, ``improvement``, ``gradient``,
        ``reverse gradient`` (supported), or ``no clear change``, ``no clear difference``, ``not possible``.
    order : int
        Position of the section on the page (smaller first).
    kind : str
        What the finding compares: ``red-red``, ``funnel``, ``change``, ``spc``, ``trend``, ``gradient`` or
        ``not possible``
        (the ordering's third key, :data:`KIND_ORDER`).
    part : bool
        True for a part of the page's definition (a measure of a London group, the under-25 cohort): the page's
        own definition comes first.
    """

    text: str
    section: str
    section_title: str
    numbers: dict = field(default_factory=dict)
    rule: str = ""
    claim: str = NO_CLEAR_CHANGE
    order: int = 0
    kind: str = ""
    part: bool = False

    @property
    def supported(self) -> bool:
        """True when the sentence claims a change, difference or signal (its rule holds)."""
        return self.claim in _CONCERN

    @property
    def concern(self) -> bool | None:
        """True for a supported claim that is worse (for violence), False for a better one, None otherwise."""
        return _CONCERN.get(self.claim)

    def markdown(self) -> str:
        """The sentence followed by a link to its section: ``... [Month by month](#month-by-month)``."""
        return f"{self.text} [{self.section_title}](#{self.section})"


# =========================================================================== wording helpers
def pct(ratio: float) -> str:
    """A ratio as a whole-number percentage difference from 1, without sign: 1.3124 -> "31%", 0.88 -> "12%";
    one decimal when the whole number would read 0 (1.004 -> "0.4%"), so an interval that excludes 1 never
    reads "0%"."""
    d = abs(float(ratio) - 1.0) * 100
    if round(d) == 0 and d >= 0.05:
        return f"{d:.1f}%"
    return f"{d:.0f}%"


def ratio_range_words(lower: float, upper: float, up: str = "higher", down: str = "lower") -> str:
    """The 95% interval of a ratio in words.

    Examples
    --------
    >>> ratio_range_words(1.05, 1.31)
    'between 5% and 31% higher'
    >>> ratio_range_words(0.6, 0.88)
    'between 12% and 40% lower'
    >>> ratio_range_words(0.88, 1.31)
    'between 12% lower and 31% higher'
    >>> ratio_range_words(1.2, float("inf"))
    'at least 20% higher'
    """
    lo, hi = float(lower), float(upper)
    if math.isinf(hi):
        return f"at least {pct(lo)} {up}" if lo > 1 else f"anywhere from {pct(lo)} {down} upwards"
    if lo >= 1:
        return f"between {pct(lo)} and {pct(hi)} {up}"
    if hi <= 1:
        return f"between {pct(hi)} and {pct(lo)} {down}"
    return f"between {pct(lo)} {down} and {pct(hi)} {up}"


def sig3(x: float) -> str:
    """A ratio to 3 significant figures (0.0333, 0.442, 2.26, 30.0; whole numbers from 100), as the
    deprivation section writes them."""
    if not math.isfinite(x):
        return "unknown"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:#.3g}".rstrip(".")


def _count(v) -> str:
    return f"{int(v):,}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# =========================================================================== builders
def change_finding(subject: str, latest: str, baseline: str, x_latest: int, x_baseline: int, ratio: float,
                   lower: float, upper: float, *, section: str, section_title: str, order: int = 0,
                   note: str = "", claim_note: str = "", part: bool = False) -> Finding:
    """A year against the baseline year from the rate ratio of two **published** counts.

    Parameters
    ----------
    subject : str
        What is counted ("knife or sharp-object enabled serious violence").
    latest, baseline : str
        Financial years ("2024/25", "2019/20").
    x_latest, x_baseline : int
        The two published counts (the page shows them).
    ratio, lower, upper : float
        Rate ratio (rate per resident in ``latest`` over that in ``baseline``) and its exact 95% interval
        (:func:`svtools.analysis.stats.rate_ratio`, as R ``poisson.test``).
    note : str
        A clause added before the full stop (e.g. "victims with a recorded age").
    claim_note : str
        A clause added only when the interval supports a change (e.g. a change of census base between the
        two years' population estimates).

    Returns
    -------
    Finding
        "higher"/"lower" when the interval excludes 1, else "no clear change".
    """
    words = interval_words(lower, upper)
    if words is None:
        raise ValueError("change_finding needs both limits of the rate ratio")
    nums = {"latest_count": float(x_latest), "baseline_count": float(x_baseline), "ratio": float(ratio),
            "lower": float(lower), "upper": float(upper)}
    counts = f"{_count(x_latest)} offences against {_count(x_baseline)}"
    extra = f"; {note}" if note else ""
    if claim_note and words != NO_CLEAR_CHANGE:
        extra += f"; {claim_note}"
    if words == NO_CLEAR_CHANGE:
        text = (f"{_cap(subject)}: no clear change from {baseline} to {latest} ({counts}); the rate per resident "
                f"lies {ratio_range_words(lower, upper)} (95% CI), so the difference could be chance{extra}.")
        rule = "rate ratio 95% CI includes 1"
    else:
        text = (f"{_cap(subject)}: the rate per resident was {words} in {latest} than in {baseline} ({counts}): "
                f"{ratio:.2f} times as high, {ratio_range_words(lower, upper)} (95% CI){extra}.")
        rule = "rate ratio 95% CI excludes 1"
    return Finding(text, section, section_title, nums, rule, words, order, "change", part)


#: A funnel flag (``high``, ``low``, ``not significant``) as a claim.
_FUNNEL = {"high": "higher", "low": "lower", "not significant": NO_CLEAR_DIFFERENCE}


def funnel_finding(area: str, comparators, flag_95: str, flag_998: str | None, rate: float, window: str, *,
                   per: str = "per 1,000 residents a year", section: str, section_title: str, order: int = 0,
                   part: bool = False) -> Finding:
    """An area's rate against one or more benchmarks with the same verdict, from the funnel plot's limits (the
    flags the page draws).

    Parameters
    ----------
    area : str
        "Hartlepool".
    comparators : list of (str, float)
        Each benchmark's words and published rate: ``[("the Cleveland rate", 1.29)]``; several when the area's
        flags against each are the same (one sentence, not two).
    flag_95, flag_998 : str
        ``high``, ``low`` or ``not significant`` against the 95% and 99.8% limits (allowing for
        over-dispersion where the page's limits do:
        :func:`svtools.analysis.stats.funnels.adjusted_funnel_significance`).
    rate : float
        The area's published rate, per ``per``.
    window : str
        The months compared, in words.
    """
    claim = _FUNNEL.get(str(flag_95))
    if claim is None:
        raise ValueError(f"funnel flag {flag_95!r} is not one of {sorted(_FUNNEL)}")
    comparators = list(comparators)
    if not comparators:
        raise ValueError("funnel_finding needs at least one comparator")
    nums = {"rate": float(rate)}
    nums.update({f"comparator_rate_{i}": float(v) for i, (_, v) in enumerate(comparators)})
    joined = [f"{name} ({v:,.2f})" for name, v in comparators]
    head = f"{area}'s rate over {window}, {rate:,.2f} offences {per},"
    if claim == NO_CLEAR_DIFFERENCE:
        text = (f"{head} shows no clear difference from {' or '.join(joined)}: inside the 95% funnel limits.")
        rule = "inside the 95% funnel limits"
    else:
        strong = flag_998 == flag_95
        side = "above" if claim == "higher" else "below"
        text = (f"{head} is {claim} than {' and '.join(joined)}: {side} the 95% funnel limit"
                + (" and the 99.8% limit." if strong else " (but inside the 99.8% limit)."))
        rule = "outside the 99.8% funnel limit" if strong else "outside the 95% funnel limit"
    return Finding(text, section, section_title, nums, rule, claim, order, "funnel", part)


def spc_finding(subject: str, unit: str, latest_label: str, latest_kind: str, recent: int,
                recent_kinds: list[str], recent_rules: list[str], *, section: str, section_title: str,
                order: int = 0, part: bool = False) -> Finding:
    """Special-cause variation in the latest points of an XmR chart (NHS Making Data Count rules).

    Parameters
    ----------
    subject : str
        What is charted.
    unit : str
        "month", "quarter" or "year".
    latest_label : str
        The latest point ("2025-03", "2024/25 Q4").
    latest_kind : str
        ``improvement``, ``concern`` or ``common cause`` of the latest point (:func:`svtools.analysis.stats.spc`).
    recent : int
        How many latest points were read.
    recent_kinds, recent_rules : list of str
        The special-cause kinds among those points (``concern`` first when both) and their rules in plain words
        (:func:`svtools.analysis.stats.spc.rule_words`).
    """
    units = unit + "s"
    nums = {"recent": float(recent)}
    if latest_kind in ("concern", "improvement"):
        kind = latest_kind
        where = f"the latest {unit} ({latest_label}) shows special-cause {kind}"
    elif recent_kinds:
        kind = recent_kinds[0]
        where = f"in the latest {recent} {units} (to {latest_label}) the chart shows special-cause {kind}"
    else:
        text = (f"{_cap(subject)} on the SPC chart: only common-cause variation in the latest {recent} {units} "
                f"(to {latest_label}), so no clear change beyond the usual variation.")
        return Finding(text, section, section_title, nums, "SPC rules: no special cause in the latest points",
                       NO_CLEAR_CHANGE, order, "spc", part)
    rules = "; ".join(recent_rules) if recent_rules else ""
    text = (f"{_cap(subject)} on the SPC chart: {where}"
            + ("" if kind == "concern" else " (fewer offences)") + (f" ({rules})." if rules else "."))
    return Finding(text, section, section_title, nums, "SPC rule: " + rules if rules else "SPC rule", kind, order,
                   "spc", part)


def trend_finding(subject: str, ratio: float, lower: float, upper: float, *, kind: str = "rate",
                  section: str, section_title: str, order: int = 0, part: bool = False) -> Finding:
    """The trend model's annual rate (or count) ratio in words: rising or falling only when its 95% interval
    excludes 1 (:func:`svtools.analysis.trends.covid_trend_model`)."""
    words = interval_words(lower, upper, words=("rising", "falling", NO_CLEAR_CHANGE))
    if words is None:
        raise ValueError("trend_finding needs both limits of the annual ratio")
    nums = {"ratio": float(ratio), "lower": float(lower), "upper": float(upper)}
    per = "per resident" if kind == "rate" else ""
    span = ratio_range_words(lower, upper, "higher", "lower")
    if words == NO_CLEAR_CHANGE:
        text = (f"{_cap(subject)}: no clear change in the underlying trend {per}, allowing for the season and the "
                f"first lockdown (each year {span} than the one before: the interval includes no change).")
        rule = "annual rate ratio 95% CI includes 1"
    else:
        text = (f"{_cap(subject)}: the underlying trend {per} is {words}, allowing for the season and the first "
                f"lockdown: {span} a year (annual {kind} ratio {ratio:.3f}).")
        rule = "annual rate ratio 95% CI excludes 1"
    return Finding(" ".join(text.split()), section, section_title, nums, rule, words, order, "trend", part)


def gradient_finding(area: str, ratio: float, lower: float, upper: float, *, section: str, section_title: str,
                     order: int = 0) -> Finding:
    """The deprivation gradient: the relative index of inequality stated as the page states it (the fitted rate
    at the most deprived end over that at the least deprived end, PHE's log-linear method), claimed only when
    its 95% interval excludes 1."""
    nums = {"ratio": float(ratio), "lower": float(lower), "upper": float(upper)}
    ci = f"95% CI {sig3(lower)} to {sig3(upper)}"
    if lower > 1:
        text = (f"In {area}, rates are higher in more deprived neighbourhoods: the fitted rate at the most "
                f"deprived end is {sig3(ratio)} times that at the least deprived end ({ci}).")
        return Finding(text, section, section_title, nums, "relative index of inequality 95% CI excludes 1",
                       "gradient", order, "gradient")
    if upper < 1:
        nums["inverse"] = 1 / float(ratio)
        text = (f"In {area}, rates are higher in less deprived neighbourhoods: the fitted rate at the least "
                f"deprived end is {sig3(1 / ratio)} times that at the most deprived end ({ci} for most over "
                "least).")
        return Finding(text, section, section_title, nums, "relative index of inequality 95% CI excludes 1",
                       "reverse gradient", order, "gradient")
    text = (f"In {area}, no clear gradient by deprivation: the fitted rate at the most deprived end is "
            f"{sig3(ratio)} times that at the least deprived end, but the interval ({ci}) includes 1.")
    return Finding(text, section, section_title, nums, "relative index of inequality 95% CI includes 1",
                   NO_CLEAR_CHANGE, order, "gradient")


def red_red_finding(area: str, items, *, section: str, section_title: str, order: int = 0) -> Finding:
    """Indicators significantly worse than their benchmark **and** getting worse (the spine chart's red-red list,
    :func:`svtools.publish.indicators.red_red_indicators`), in one sentence.

    Parameters
    ----------
    area : str
        The CSP.
    items : list of dict
        One per red-red indicator, as the red-red table publishes it: ``label``, ``value`` and ``benchmark`` (in
        ``unit``, e.g. "per 1,000 residents a year"), ``benchmark_words`` ("all CSPs in the data"), and the trend
        model's annual rate ratio interval ``trend_lower``, ``trend_upper`` and the months it is fitted to,
        ``trend_period`` (optional: a label, not a number).
    """
    items = list(items)
    if not items:
        raise ValueError("red_red_finding needs at least one red-red indicator")
    nums: dict = {}
    parts = []
    for i, it in enumerate(items):
        nums.update({f"value_{i}": float(it["value"]), f"benchmark_{i}": float(it["benchmark"]),
                     f"trend_lower_{i}": float(it["trend_lower"]), f"trend_upper_{i}": float(it["trend_upper"])})
        parts.append(f"{it['label']}, {float(it['value']):,.2f} {it['unit']} against {float(it['benchmark']):,.2f} "
                     f"for {it['benchmark_words']}, {ratio_range_words(it['trend_lower'], it['trend_upper'])} "
                     "each year" + (f" ({it['trend_period']})" if it.get("trend_period") else ""))
    n = len(items)
    text = (f"{n} indicator{'s' if n != 1 else ''} of {area} {'are' if n != 1 else 'is'} both significantly worse "
            "than the benchmark and getting worse (red-red): " + "; ".join(parts) + ".")
    return Finding(text, section, section_title, nums,
                   "red-red: 95% CI excludes the benchmark and the trend's 95% CI excludes 1, both adverse",
                   "red-red", order, "red-red")


def not_possible_finding(text: str, *, section: str, section_title: str, order: int = 0,
                         part: bool = False) -> Finding:
    """A sentence saying the data do not allow a judgement (a count hidden, a field not recorded): unknown is
    never zero, and never "no change"."""
    return Finding(text, section, section_title, {}, "data do not allow it", "not possible", order,
                   "not possible", part)


def order_findings(findings, limit: int = MAX_FINDINGS) -> list[Finding]:
    """The findings most important first (see the module docstring), at most ``limit``.

    Keys, in turn: supported concerns, supported improvements, "no clear change"/"no clear difference", what
    the data do not allow; the page's own definition before its parts (``part``); the kind of comparison
    (:data:`KIND_ORDER`: red-red, against a benchmark, against 2019/20, SPC signals in the latest points, the trend, the
    deprivation gradient; supported claims only); the section's place on the page (``order``); as given.
    """
    def key(item):
        i, f = item
        group = (0 if f.concern else 1) if f.supported else (2 if f.claim != "not possible" else 3)
        kind = KIND_ORDER.get(f.kind, len(KIND_ORDER)) if f.supported else 0  # no claim: page order
        return group, f.part, kind, f.order, i

    ranked = [f for _, f in sorted(enumerate(findings), key=key)]
    return ranked[:limit]
