"""The spine chart: quantiles (a peer once swapped P25 and P75), polarity, and colour by significance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from svtools.analysis import indicators as ai
from svtools.publish import charts, disclosure, output
from svtools.publish.charts.spine import MARKERS, spine_positions


def test_quantiles_of_a_known_set():
    """R: quantile(c(5, 1, 4, 2, 3), c(.25, .75)) gives 2 and 4 (type 7); order of input does not matter."""
    s = ai.spread([5, 1, 4, 2, 3], "lower_is_better")
    assert (s["p25"], s["p75"]) == (2.0, 4.0)
    assert s["p25"] < s["p75"]
    s = ai.spread([10.0, 0.5, 3.0, np.nan, 7.0], "lower_is_better")  # NaN (hidden) left out
    assert s["n"] == 4
    assert s["p25"] == pytest.approx(np.percentile([0.5, 3, 7, 10], 25)) == pytest.approx(2.375)
    assert s["p75"] == pytest.approx(7.75)


def test_worst_and_best_follow_polarity():
    v = [1.0, 2.0, 9.0]
    assert (ai.spread(v, "lower_is_better")["worst"], ai.spread(v, "lower_is_better")["best"]) == (9.0, 1.0)
    assert (ai.spread(v, "higher_is_better")["worst"], ai.spread(v, "higher_is_better")["best"]) == (1.0, 9.0)
    assert (ai.spread(v, "no_polarity")["worst"], ai.spread(v, "no_polarity")["best"]) == (9.0, 1.0)


def test_positions_put_worse_to_the_left():
    # lower is better: a higher value is worse, drawn left of the benchmark at 0.5
    assert spine_positions([2.0], 1.0, 0.0, 2.0, "lower_is_better")[0] == pytest.approx(0.0)
    assert spine_positions([0.0], 1.0, 0.0, 2.0, "lower_is_better")[0] == pytest.approx(1.0)
    assert spine_positions([2.0], 1.0, 0.0, 2.0, "higher_is_better")[0] == pytest.approx(1.0)
    assert spine_positions([1.0], 1.0, 0.0, 2.0, "no_polarity")[0] == pytest.approx(0.5)
    # asymmetric spread: the larger distance fills half the row
    assert spine_positions([1.5, 5.0], 1.0, 0.5, 5.0, "higher_is_better") == pytest.approx([0.5625, 1.0])


def _rows(verdicts, polarities):
    n = len(verdicts)
    return pd.DataFrame({
        "label": [f"Indicator {i}" for i in range(n)], "unit": "offences per 1,000 residents a year",
        "unit_short": "per 1,000", "value": [2.0 if v in ("worse", "higher") else 1.0 if v == "similar" else 0.5
                                             for v in verdicts],
        "benchmark_value": 1.0, "p25": 0.8, "p75": 1.4, "worst": 3.0, "best": 0.2, "polarity": polarities,
        "verdict": verdicts, "status_words": "",
    })


def _markers(fig):
    ax = fig.axes[0]
    out = []
    for coll in ax.collections:
        if len(coll.get_offsets()) == 1:
            out.append((to_hex(coll.get_facecolor()[0]), float(coll.get_offsets()[0][1])))
    return out


def test_colour_follows_significance_and_polarity():
    pal = output.palette()
    verdicts = ["worse", "similar", "better", "higher"]
    pols = ["lower_is_better", "lower_is_better", "higher_is_better", "no_polarity"]
    fig = charts.spine_chart(disclosure.derived(_rows(verdicts, pols), _a_table()), "A test spine chart")
    got = sorted(_markers(fig), key=lambda t: -t[1])  # top row first
    want = [pal[MARKERS[v][0]].lower() for v in verdicts]
    assert [c for c, _ in got] == want
    # colour is never the only cue: every verdict has its own marker shape and legend words
    assert len({MARKERS[v][1] for v in ("worse", "similar", "better", "higher")}) == 4
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("Worse" in t for t in labels) and any("Similar" in t for t in labels)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "worse" in texts and "similar" in texts and "better" in texts
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_the_chart_refuses_numbers_not_from_the_gate():
    with pytest.raises(disclosure.DisclosureError):
        charts.spine_chart(_rows(["worse"], ["lower_is_better"]), "Raw numbers")


def _a_table():
    cube = disclosure.Cube("t", [disclosure.Dim("area_code", ("A", "B"), {"ALL": ("A", "B")})],
                           pd.DataFrame({"area_code": ["A", "B"], "count": [20, 30]}))
    cube.publish([("A",), ("B",), ("ALL",)])
    return cube.protect().table("area_code", None, name="t")


def test_section_on_the_demo_profile(ctx, shown):
    from section_helpers import alts, check_published, page_dir

    from svtools.publish import sections
    from svtools.publish.sections.spine import CSV_COLUMNS

    res = sections.spine_chart(ctx)
    assert res.available
    a = alts(shown)
    assert a and a[0].startswith("Spine chart of") and "Hartlepool" in a[0]
    check_published(res, page_dir())
    assert res.csv is not None and res.csv.name == "spine_chart_chart.csv"  # the data behind the chart
    csv = pd.read_csv(page_dir() / res.csv.name, dtype=str, keep_default_na=False)
    assert [c for c in csv.columns if c in CSV_COLUMNS] == CSV_COLUMNS  # (plus the page's period_start/_end)
    assert set(csv["area_code"]) == {ctx.code}
    # every shown value is the table's: hidden rows have no value, published rows a value inside their CI
    pub = csv[csv["status"] == "published"]
    assert (pub["indicator_value"] != "").all()
    assert (csv.loc[csv["status"] != "published", "indicator_value"] == "").all()
    v, lo, hi = (pub[c].astype(float) for c in ("indicator_value", "lower_95_ci", "upper_95_ci"))
    assert ((lo <= v) & (v <= hi)).all()
    p25, p75 = pub["p25"].astype(float), pub["p75"].astype(float)
    assert (p25 <= p75).all()
    # not recorded / withheld indicators are named, never 0
    assert (csv.loc[csv["indicator"] == "repeat_victimisation_share", "indicator_value"] == "").all()
