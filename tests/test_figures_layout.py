"""The layout of every chart kind: each axis updates its ticks once for each place its axes stands in
(figures._ticks_once), which gives the PNG of matplotlib's own repeated updates byte for byte; and on a range of
inputs (long and short labels, one and many series, empty and refused charts) every text a chart draws lies
inside the figure and clear of the other texts of its axes."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from svtools.publish import charts, figures  # noqa: E402
from tests.test_charts import CHARTS, MONTHS, VALUES, gated  # noqa: E402


class _Counting:
    """Counts Axis._update_ticks calls that do the work (the real method)."""

    def __init__(self, monkeypatch):
        import matplotlib.axis as maxis

        self.calls = 0
        real = maxis.Axis._update_ticks

        def counted(axis):
            self.calls += 1
            return real(axis)

        monkeypatch.setattr(maxis.Axis, "_update_ticks", counted)


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_ticks_updated_once_a_place_give_matplotlibs_own_png(name, monkeypatch):
    """Every chart kind, shown as show() does (prepare, then the paint): the same PNG bytes with each axis'
    ticks updated once for each place its axes stands in as with every reader updating them, and fewer
    updates."""
    once = _Counting(monkeypatch)
    fig = CHARTS[name]()
    figures.prepare(fig)
    png_once = figures.png_bytes(fig)
    calls_once, once.calls = once.calls, 0
    plt.close(fig)
    monkeypatch.setattr(figures, "_TICKS_ONCE", False)
    fig = CHARTS[name]()
    figures.prepare(fig)
    png_every = figures.png_bytes(fig)
    plt.close(fig)
    assert png_once == png_every
    assert calls_once < once.calls


def test_a_ticks_memo_repeats_only_the_last_update_and_follows_every_change(monkeypatch):
    """The memo repeats the last real update only: a moved axes (a new box), new limits, new ticks set or a
    tick label's text changed by hand update the ticks afresh, and going back to an earlier place does too
    (the ticks are where the last update left them, not where that place had them)."""
    fig, ax = plt.subplots(figsize=(6, 3), dpi=96)
    ax.plot([0, 1], [0, 10])
    counting = _Counting(monkeypatch)
    figures._ticks_once(fig)

    def labels():
        return [t.label1.get_text() for t in ax.yaxis._update_ticks()]

    first = labels()
    assert labels() == first and counting.calls == 1
    ax.set_position([0.1, 0.1, 0.8, 0.1])  # a short axes: fewer ticks
    fewer = labels()
    assert len(fewer) < len(first) and counting.calls == 2
    ax.set_position([0.125, 0.11, 0.775, 0.77])  # back where it was: the ticks are updated again
    assert labels() == first and counting.calls == 3
    ax.set_ylim(0, 1000)
    assert labels() != first and counting.calls == 4
    ax.set_yticks([0, 500, 1000], ["none", "half", "all"])
    assert labels() == ["none", "half", "all"] and counting.calls == 5
    ax.yaxis.get_major_ticks()[0].label1.set_text("changed by hand")
    assert labels() == ["none", "half", "all"] and counting.calls == 6  # as matplotlib: the formatter's text
    plt.close(fig)


LONG = "Possession of weapons offences involving a bladed article in a public place"


def _inputs():
    """Charts on a range of inputs: long and short labels, one and many series, few and many points."""
    short_mix = pd.DataFrame({"offence": ["A", "B"], "n": [5.0, 9.0]})
    long_mix = pd.DataFrame({"offence": ["Possession of weapons offences", "Violence with injury", "Robbery",
                                         "Homicide", "Other violence against the person"],
                             "n": [1234567.0, 92.0, 40.0, np.nan, 7.0]})
    one = pd.DataFrame({"financial_year": ["2023/24", "2024/25"], "All ages": [12, 15]})
    many = pd.DataFrame({"financial_year": [f"20{y}/{y + 1}" for y in range(17, 25)],
                         **{f"Cohort {k} with a long name": 100 + np.arange(8) * (k + 1) * 10 for k in range(3)}})
    spc_short = pd.DataFrame({"month": MONTHS[:6], "value": VALUES[:6], "mean": 20.0, "lower": -2.0,
                              "upper": 32.0, "variation": ["common cause"] * 6})
    names = [f"Offence {k}" for k in range(9)]
    one_long = pd.DataFrame({"offence": names[:4] + [LONG * 2] + names[4:],  # a label of seven lines
                             "n": [float(40 - 3 * k) for k in range(10)]})
    return {
        "bar_one_long_label": lambda: charts.bar_chart(gated(one_long), label="offence", value="n", xlabel="N",
                                                       title="One label of seven lines among short ones",
                                                       sort=False),
        "bar_short": lambda: charts.bar_chart(gated(short_mix), label="offence", value="n", xlabel="N",
                                               title="Short"),
        "bar_long": lambda: charts.bar_chart(gated(long_mix), label="offence", value="n", title=LONG * 2,
                                             xlabel=LONG, reference=300, reference_label=LONG),
        "yearly_one": lambda: charts.yearly_chart(gated(one), title="One series"),
        "yearly_many": lambda: charts.yearly_chart(gated(many), title=LONG),
        "spc_short": lambda: charts.spc_chart(gated(spc_short), title="S"),
        **{f"every_{k}": v for k, v in CHARTS.items()},
    }


INPUTS = _inputs()


def _texts_by_axes(fig):
    """The drawn texts of ``fig`` (figures._drawn_texts) with their extents, grouped: each axes' own texts
    (tick labels, labels, titles, its children) and the figure's (legends)."""
    renderer = fig.canvas.get_renderer()
    texts = figures._drawn_texts(fig, draw=False)
    out = []
    for t in texts:
        owner = getattr(t, "axes", None)
        out.append((t, t.get_window_extent(renderer), owner))
    return out


def _line_boxes(t, renderer) -> list:
    """The corners (display px) of each line of text ``t``, as it is drawn: a rotated rectangle a line (from
    its descent to its height over its baseline), not the upright box round the whole text."""
    ext = t.get_window_extent(renderer)
    bbox, info, _ = t._get_layout(renderer)
    ax0, ay0 = ext.x0 - bbox.x0, ext.y0 - bbox.y0  # the anchor, in display px
    theta = np.radians(t.get_rotation())
    u, v = np.array([np.cos(theta), np.sin(theta)]), np.array([-np.sin(theta), np.cos(theta)])
    boxes = []
    for line, (w, h, d), (x, y) in info:
        if not line.strip():
            continue
        p = np.array([ax0 + x, ay0 + y])
        boxes.append(np.array([p + a * u + b * v for a, b in ((0, -d), (w, -d), (w, h - d), (0, h - d))]))
    return boxes


def _overlap(a, b, slack: float = 0.5) -> bool:
    """Whether two convex quadrilaterals overlap by more than ``slack`` px (separating axes)."""
    for quad in (a, b):
        for k in range(4):
            edge = quad[(k + 1) % 4] - quad[k]
            normal = np.array([-edge[1], edge[0]]) / np.hypot(*edge)
            pa, pb = a @ normal, b @ normal
            if pa.max() <= pb.min() + slack or pb.max() <= pa.min() + slack:
                return False
    return True


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_every_text_inside_the_figure_and_clear_of_the_axes_other_texts(name):
    """After show()'s checks (prepare: the layout the PNG is painted on), every drawn text's extent lies inside
    the figure, and the tick labels, axis labels and titles of an axes and the legends overlap none of each
    other (texts a chart places on its data, e.g. funnel labels, are placed by their own rules and tested in
    tests/test_charts.py)."""
    fig = INPUTS[name]()
    figures.prepare(fig)
    box = fig.bbox
    found = _texts_by_axes(fig)
    assert found
    for t, ext, _ in found:
        assert box.x0 - 0.5 <= ext.x0 and ext.x1 <= box.x1 + 0.5 and box.y0 - 0.5 <= ext.y0 and \
            ext.y1 <= box.y1 + 0.5, (name, t.get_text(), ext, box)
    layout = []
    for ax in fig.axes:
        own = {id(x) for x in [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]}
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                own.update({id(tick.label1), id(tick.label2)})
        layout += [(t, ext) for t, ext, _ in found if id(t) in own]
    for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]:
        layout += [(t, ext) for t, ext, _ in found if t in legend.get_texts()]
    renderer = fig.canvas.get_renderer()
    lines = [(t, box) for t, _ in layout for box in _line_boxes(t, renderer)]
    for (a, qa), (b, qb) in itertools.combinations(lines, 2):
        assert a is b or not _overlap(qa, qb), (name, a.get_text(), b.get_text(), qa.round(1), qb.round(1))
    plt.close(fig)


def test_an_empty_or_refused_chart_leaves_no_figure_open():
    """A chart without a title is refused and leaves no figure behind (the layout is never reached)."""
    before = len(plt.get_fignums())
    with pytest.raises(ValueError):
        charts.bar_chart(gated(pd.DataFrame({"offence": ["A"], "n": [1.0]})), label="offence", value="n", xlabel="N",
                         title=" ")
    assert len(plt.get_fignums()) == before


@pytest.mark.parametrize("labels", [
    ["Common cause variation", "Special cause: concern"],
    ["Observed", "Trend", "Seasonally adjusted"],
    ["95% limits allowing for over-dispersion", "99.8% limits allowing for over-dispersion", "Target 0.50",
     "Hartlepool"],
    ["A label long enough to need wrapping when two of them share the width of the figure", "Short"],
    ["Force average (300.00)", "95% confidence interval"],
])
def test_legend_below_keeps_the_one_line_legend_only_when_it_is_the_lowest(labels):
    """_legend_below keeps its first legend (every label on one line, the most columns) without trying the
    others when it fits: the choice is the one the full search makes (the lowest legend that fits, the first of
    equal heights)."""
    import textwrap

    from svtools.publish.charts import common

    def figure():
        fig, ax = common._figure()
        for k, lab in enumerate(labels):
            ax.plot([0, 1], [k, k], label=lab)
        return fig, ax

    fig, ax = figure()
    common._legend_below(fig, ax, ncol=2)
    chosen = (fig.legends[0]._ncols, [t.get_text() for t in fig.legends[0].get_texts()])
    plt.close(fig)
    fig, ax = figure()
    handles, _ = ax.get_legend_handles_labels()
    renderer = fig.canvas.get_renderer()
    font_px = common._fs("legend") * figures.CSS_PX_PER_IN / 72
    longest = max(len(lab) for lab in labels)
    best = None
    for n in range(min(2, len(handles)), 0, -1):
        chars = int((fig.get_figwidth() * figures.CSS_PX_PER_IN / n - 3.4 * font_px) / (0.56 * font_px))
        for width in sorted({longest, min(longest, chars), min(longest, chars - 4)}, reverse=True):
            if width < 10:
                continue
            wrapped = ["\n".join(textwrap.wrap(lab, width)) or lab for lab in labels]
            legend = fig.legend(handles, wrapped, loc="outside lower center", ncol=n, frameon=False)
            ext = legend.get_window_extent(renderer)
            legend.remove()
            if common._fits(fig, legend, ext) and (best is None or ext.height < best[0] - 0.5):
                best = (ext.height, n, wrapped)
    plt.close(fig)
    assert best is not None and chosen == (best[1], best[2])
