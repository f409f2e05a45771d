"""Each domain chart builds a house-style Figure: palette colours, a title, axis labels, phone width."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from svtools import config
from svtools.publish import charts  # noqa: E402
from svtools.publish.disclosure import DisclosureError, _mark  # noqa: E402


def gated(frame):
    """Mark a test frame as published by the gate (charts refuse anything else)."""
    return _mark(frame, "test")

MONTHS = pd.date_range("2018-04-01", "2025-03-01", freq="MS")
RNG = np.random.default_rng(7)
VALUES = RNG.poisson(20, len(MONTHS))


def _colours(fig) -> set[str]:
    """Every colour used by the artists of a figure, as lower-case hex."""
    found = set()
    for ax in fig.axes:
        for line in ax.get_lines():
            found.add(mcolors.to_hex(line.get_color()))
        for coll in ax.collections:
            for c in np.atleast_2d(coll.get_facecolor()):
                if len(c):
                    found.add(mcolors.to_hex(c, keep_alpha=False))
            for c in np.atleast_2d(coll.get_edgecolor()):
                if len(c):
                    found.add(mcolors.to_hex(c, keep_alpha=False))
        for patch in ax.patches:
            found.add(mcolors.to_hex(patch.get_facecolor(), keep_alpha=False))
    return {c.lower() for c in found}


def _check(fig, expected_colours, title_part):
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert title_part in ax.get_title(loc="left").replace("\n", " ")
    assert ax.get_xlabel().strip() and ax.get_ylabel().strip()
    width, _ = fig.get_size_inches()
    assert width == pytest.approx(config.settings()["figures"]["width_in"])
    assert fig.dpi == config.settings()["figures"]["dpi"]
    used = _colours(fig)
    pal = config.palette()
    for key in expected_colours:
        assert pal[key].lower() in used, f"{key} colour {pal[key]} not used; used {sorted(used)}"
    plt.close(fig)


def _limits():
    den = np.linspace(1e4, 6e5, 40)
    p = 0.5 / 1000
    se = np.sqrt(p / den)
    return pd.DataFrame(
        {
            "denominator": den,
            "lower_95": (p - 1.96 * se) * 1e3,
            "upper_95": (p + 1.96 * se) * 1e3,
            "lower_998": (p - 3.09 * se) * 1e3,
            "upper_998": (p + 3.09 * se) * 1e3,
        }
    )


POINTS = pd.DataFrame(
    {
        "label": ["Hartlepool", "Middlesbrough", "Redcar and Cleveland", "Stockton-on-Tees"],
        "denominator": [93836, 141285, 137228, 197419],
        "value": [0.6, 0.9, 0.4, 0.45],
        "signal": ["", "high", "", ""],
    }
)


def test_spc_chart_uses_making_data_count_colours_and_shapes():
    data = pd.DataFrame(
        {
            "month": MONTHS,
            "value": VALUES,
            "mean": 20.0,
            "lower": 8.0,
            "upper": 32.0,
            "variation": ["common cause"] * (len(MONTHS) - 2) + ["improvement", "concern"],
        }
    )
    fig = charts.spc_chart(gated(data), title="SPC in Hartlepool")
    markers = {c.get_paths()[0].vertices.round(2).tobytes() for c in fig.axes[0].collections}
    assert len(markers) == 3  # three point shapes, not colour alone
    _check(fig, ["common_cause", "improvement", "concern"], "SPC in Hartlepool")


def test_funnel_plot_labels_points_and_limits():
    fig = charts.funnel_plot(gated(POINTS), _limits(), target=0.5, title="Funnel", highlight="Hartlepool")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert set(POINTS["label"]) <= set(texts)
    labels = [h.get_label() for h in fig.legends[0].legend_handles]
    assert "95% limits" in labels and "99.8% limits" in labels
    _check(fig, ["primary", "highlight"], "Funnel")


def test_trend_seasonal_forecast_and_its_charts():
    stl = pd.DataFrame(
        {"month": MONTHS, "observed": VALUES, "trend": 20.0, "seasonally_adjusted": VALUES - 1.0}
    )
    _check(charts.trend_chart(gated(stl), title="Trend"), ["primary", "neutral", "secondary"], "Trend")
    prof = pd.DataFrame({"month_of_year": range(1, 13), "value": np.sin(np.arange(12) + 0.5)})
    _check(charts.seasonal_chart(gated(prof), title="Seasonal"), ["primary", "highlight"], "Seasonal")
    fc = pd.DataFrame(
        {
            "month": pd.date_range("2025-04-01", periods=12, freq="MS"),
            "expected": 18.0,
            "lower": 10.0,
            "upper": 27.0,
        }
    )
    fitted = pd.DataFrame({"month": MONTHS, "fitted": 20.0})
    _check(
        charts.forecast_chart(gated(pd.Series(VALUES, index=MONTHS)), fc, fitted=fitted, title="Forecast"),
        ["primary", "highlight", "secondary"],
        "Forecast",
    )
    its = pd.DataFrame({"month": MONTHS, "observed": VALUES, "fitted": 20.0, "counterfactual": 22.0})
    _check(charts.its_chart(gated(its), "2020-04-01", title="Lockdown"), ["primary", "highlight"], "Lockdown")


def test_yearly_chart_marks_suppressed_values():
    table = pd.DataFrame(
        {"financial_year": ["2019/20", "2020/21"], "All ages": [100, np.nan], "Under 25": [40, 30]}
    )
    fig = charts.yearly_chart(gated(table), title="Yearly")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "*" in texts and "100" in texts
    assert any("baseline" in t.get_text() for t in fig.axes[0].get_xticklabels())
    _check(fig, ["primary", "secondary"], "Yearly")


def test_pyramid_chart():
    data = pd.DataFrame(
        {
            "age_band": ["0-9", "10-14", "15-19", "20-24", "25+"],
            "male": [5, 20, 60, 50, np.nan],
            "female": [5, 10, 30, 25, 20],
        }
    )
    fig = charts.pyramid_chart(gated(data), title="Age and sex")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "Male" in texts and "Female" in texts
    _check(fig, ["primary", "secondary"], "Age and sex")


def test_day_hour_heatmap_is_cividis_and_names_the_busiest_hour():
    table = pd.DataFrame(RNG.poisson(5, (7, 24)), index=charts.DAY_NAMES, columns=range(24))
    table.iloc[5, 22] = 40
    fig = charts.day_hour_heatmap(gated(table), title="When")
    mesh = fig.axes[0].collections[0]
    assert mesh.get_cmap().name == config.palette()["heatmap"]
    assert "Saturday 22:00" in fig.axes[0].get_xlabel()
    _check(fig, [], "When")


def test_gradient_and_lorenz_charts():
    g = pd.DataFrame({"imd_decile": range(1, 11), "value": np.linspace(2, 0.5, 10)})
    g["lower"], g["upper"] = g["value"] * 0.8, g["value"] * 1.2
    _check(
        charts.gradient_chart(gated(g), title="Deprivation", line=g[["imd_decile", "value"]], note="SII 1.7"),
        ["primary", "highlight"],
        "Deprivation",
    )
    x = np.linspace(0.01, 1, 50)
    fig = charts.lorenz_chart(
        gated(pd.DataFrame({"area_share": x, "offence_share": x**0.4})),
        title="Lorenz",
        top_share=0.05,
        top_value=0.3,
    )
    assert any("30% of the total" in t.get_text() for t in fig.axes[0].texts)
    _check(fig, ["primary", "highlight"], "Lorenz")


def test_bar_chart_with_cis_highlight_and_reference():
    d = POINTS.assign(lo=POINTS["value"] * 0.8, hi=POINTS["value"] * 1.2)
    fig = charts.bar_chart(
        gated(d),
        label="label",
        value="value",
        lower="lo",
        upper="hi",
        title="League",
        xlabel="Rate per 1,000",
        highlight="Hartlepool",
        reference=0.5,
        value_format="{:.2f}",
    )
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks[-1] == "Middlesbrough"  # largest at the top
    assert "0.90" in [t.get_text() for t in fig.axes[0].texts]
    _check(fig, ["primary", "highlight"], "League")


def test_bar_chart_marks_suppressed_bars():
    d = pd.DataFrame({"offence": ["A", "B"], "n": [10, np.nan]})
    fig = charts.bar_chart(gated(d), label="offence", value="n", title="Mix", xlabel="Offences")
    assert "*" in [t.get_text() for t in fig.axes[0].texts]
    _check(fig, ["primary"], "Mix")


def test_completeness_chart_uses_distinct_markers():
    t = pd.DataFrame(
        {
            "Victim age known": RNG.uniform(0.8, 1, len(MONTHS)),
            "Time known": RNG.uniform(0.6, 0.9, len(MONTHS)),
        },
        index=MONTHS,
    )
    fig = charts.completeness_chart(gated(t), title="Completeness")
    assert len({line.get_marker() for line in fig.axes[0].get_lines()}) == 2
    _check(fig, ["primary", "secondary"], "Completeness")


def test_chart_without_title_is_refused():
    open_before = plt.get_fignums()
    with pytest.raises(ValueError):
        charts.trend_chart(gated(pd.DataFrame({"month": MONTHS, "observed": VALUES, "trend": 20.0})), title="")
    assert plt.get_fignums() == open_before  # no figure left open (a later test's check of show() saw it)


@pytest.mark.parametrize(
    "draw",
    [
        lambda f: charts.trend_chart(f, title="Trend"),
        lambda f: charts.bar_chart(f, label="month", value="observed", title="Bars", xlabel="Offences"),
        lambda f: charts.day_hour_heatmap(f, title="When"),
    ],
    ids=["trend_chart", "bar_chart", "day_hour_heatmap"],
)
def test_chart_refuses_data_not_published_by_the_gate(draw):
    raw = pd.DataFrame({"month": MONTHS, "observed": VALUES, "trend": 20.0})
    with pytest.raises(DisclosureError):
        draw(raw)
    with pytest.raises(DisclosureError):  # a copy that lost the mark is refused too
        draw(pd.DataFrame(gated(raw).to_dict()))


# --------------------------------------------------------------------------- readable on a phone (issue 10)
def _every_chart():
    """One figure of every chart type, built from the test data above."""
    stl = pd.DataFrame({"month": MONTHS, "observed": VALUES, "trend": 20.0, "seasonally_adjusted": VALUES - 1.0})
    spc = pd.DataFrame({"month": MONTHS, "value": VALUES, "mean": 20.0, "lower": -2.0, "upper": 32.0,
                        "variation": ["common cause"] * (len(MONTHS) - 2) + ["improvement", "concern"]})
    fc = pd.DataFrame({"month": pd.date_range("2025-04-01", periods=12, freq="MS"), "expected": 18.0,
                       "lower": 10.0, "upper": 27.0})
    its = pd.DataFrame({"month": MONTHS, "observed": VALUES, "fitted": 20.0, "counterfactual": 22.0})
    years = pd.DataFrame({"financial_year": [f"20{y}/{y + 1}" for y in range(18, 25)],
                          "All ages": [1234, 1410, 980, 1120, 1302, 1388, 1290],
                          "Under 25": [402, 455, np.nan, 380, 410, 433, 398]})
    g = pd.DataFrame({"imd_decile": range(1, 11), "value": np.linspace(2, 0.5, 10)})
    g["lower"], g["upper"] = g["value"] * 0.8, g["value"] * 1.2
    x = np.linspace(0.01, 1, 50)
    mix = pd.DataFrame({"offence": ["Violence with injury", "Robbery of personal property",
                                    "Possession of weapons offences", "Homicide"], "n": [561, 92, 40, np.nan]})
    ages = pd.DataFrame({"age_band": ["0-9", "10-14", "15-19", "20-24", "25-34", "35-44", "45+"],
                         "male": [5, 20, 60, 50, 120, 90, np.nan], "female": [5, 10, 30, 25, 80, 60, 40]})
    heat = pd.DataFrame(RNG.poisson(5, (7, 24)), index=charts.DAY_NAMES, columns=range(24))
    shares = pd.DataFrame({"Victim age known": RNG.uniform(0.8, 1, len(MONTHS)),
                           "Time known": RNG.uniform(0.6, 0.9, len(MONTHS)),
                           "Location known to an LSOA": RNG.uniform(0.7, 0.95, len(MONTHS))}, index=MONTHS)
    long_title = "Knife-enabled serious violence: rate per 1,000 residents a year, April 2024 to March 2025"
    return {
        "spc_chart": lambda: charts.spc_chart(gated(spc), title=long_title),
        "funnel_plot": lambda: charts.funnel_plot(
            gated(_crowded_points()), _limits(), target=0.5, title=long_title, highlight="Hartlepool",
            ylabel="Rate per 1,000 residents a year",
            limit_labels=("95% limits allowing for over-dispersion", "99.8% limits allowing for over-dispersion")),
        "trend_chart": lambda: charts.trend_chart(gated(stl), title=long_title),
        "seasonal_chart": lambda: charts.seasonal_chart(
            gated(pd.DataFrame({"month_of_year": range(1, 13), "value": np.sin(np.arange(12) + 0.5)})),
            title=long_title, model=pd.DataFrame({"month_of_year": range(1, 13), "value": np.sin(np.arange(12))})),
        "forecast_chart": lambda: charts.forecast_chart(
            gated(pd.Series(VALUES, index=MONTHS)), fc, fitted=pd.DataFrame({"month": MONTHS, "fitted": 20.0}),
            title=long_title),
        "its_chart": lambda: charts.its_chart(gated(its), "2020-04-01", window_end="2020-06-01", title=long_title,
                                              interruption_label="First COVID-19 lockdown"),
        "yearly_chart": lambda: charts.yearly_chart(gated(years), title=long_title),
        "pyramid_chart": lambda: charts.pyramid_chart(gated(ages), title=long_title),
        "day_hour_heatmap": lambda: charts.day_hour_heatmap(gated(heat), title=long_title),
        "gradient_chart": lambda: charts.gradient_chart(gated(g), title=long_title, line=g[["imd_decile", "value"]],
                                                        note="SII 1.7, RII 3.4"),
        "lorenz_chart": lambda: charts.lorenz_chart(
            gated(pd.DataFrame({"area_share": x, "offence_share": x**0.4})), title=long_title, top_share=0.05,
            top_value=0.3),
        "bar_chart": lambda: charts.bar_chart(
            gated(mix.assign(lo=mix["n"] * 0.8, hi=mix["n"] * 1.2)), label="offence", value="n", lower="lo",
            upper="hi", reference=300, reference_label="Force average", title=long_title, xlabel="Offences"),
        "completeness_chart": lambda: charts.completeness_chart(gated(shares), title=long_title),
    }


def _crowded_points(n: int = 40):
    """A funnel's worth of CSPs, many of them close together, two outside the limits, and Hartlepool."""
    rng = np.random.default_rng(3)
    den = np.r_[93836, 95000, 97000, rng.uniform(5e4, 6e5, n - 5), 150000, 300000]
    val = np.r_[0.6, 0.61, 0.59, rng.normal(0.5, 0.06, n - 5), 0.95, 0.3]
    names = ["Hartlepool", "Barrow-in-Furness", "Darlington"] + [f"Area {k}" for k in range(n - 5)] + [
        "Middlesbrough", "South Warwickshire"]
    sig = [""] * (n - 2) + ["high", "low"]
    return pd.DataFrame({"label": names, "denominator": den, "value": val, "signal": sig})


CHARTS = _every_chart()


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_every_text_is_readable_at_390_px_and_inside_the_figure(name):
    """The smallest text of every chart type is at least figures.min_text_px CSS px once the image is scaled
    to the 358 px column of a 390 px phone (without the show() safety net), and no text is cut off."""
    from svtools.publish import figures

    fig = CHARTS[name]()
    settings = config.settings()["figures"]
    assert fig.get_size_inches()[0] == pytest.approx(settings["width_in"])
    sizes = figures.text_sizes(fig, column_px=settings["column_px"])
    assert sizes, "no text found"
    smallest_text, smallest_px = sizes[0]
    assert smallest_px >= settings["min_text_px"], f"{smallest_text!r} is {smallest_px:.1f} CSS px at 390 px"
    # the arithmetic: font pt / 72 * 96 * (358 / CSS width)
    scale = settings["column_px"] / (settings["width_in"] * 96)
    texts = figures._drawn_texts(fig)
    assert smallest_px == pytest.approx(min(t.get_fontsize() for t in texts) / 72 * 96 * scale)
    assert figures.prepare(fig)["raised"] == []  # the charts meet the rule themselves
    renderer = fig.canvas.get_renderer()
    for t in figures._drawn_texts(fig):
        box = t.get_window_extent(renderer)
        assert box.x0 >= -1 and box.x1 <= fig.bbox.x1 + 1, f"{name}: {t.get_text()!r} cut off at the side"
        assert box.y0 >= -1 and box.y1 <= fig.bbox.y1 + 1, f"{name}: {t.get_text()!r} cut off at the top/bottom"
    plt.close(fig)


def test_text_added_below_the_minimum_is_enlarged_by_show(monkeypatch):
    from svtools.publish import figures

    monkeypatch.setattr("IPython.display.display", lambda *a, **kw: None)
    fig = charts.trend_chart(gated(pd.DataFrame({"month": MONTHS, "observed": VALUES, "trend": 20.0})),
                             title="Trend")
    note = fig.axes[0].text(0.5, 0.5, "a caller's small note", fontsize=6, transform=fig.axes[0].transAxes)
    assert figures.text_sizes(fig)[0][0] == "a caller's small note"
    assert figures.prepare(fig)["raised"] == ["a caller's small note"]
    assert note.get_fontsize() == pytest.approx(figures.min_font_pt())
    assert figures.text_sizes(fig)[0][1] == pytest.approx(config.settings()["figures"]["min_text_px"])
    plt.close(fig)


def _label_boxes(fig):
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    anns = [a for a in fig.axes[0].texts if type(a).__name__ == "Annotation"]
    # the text's own box: an Annotation's extent includes its leader line, which does reach its point
    return {a.get_text(): Text.get_window_extent(a, renderer) for a in anns}


def _marker_extents(ax):
    """Every scatter marker's box in display pixels, from the drawn marker size (not the chart's own helper)."""
    out = []
    for coll in ax.collections:
        if type(coll).__name__ != "PathCollection":
            continue
        size = np.sqrt(coll.get_sizes()[0]) / 2 * ax.figure.dpi / 72
        for px, py in coll.get_offset_transform().transform(coll.get_offsets()):
            out.append((px - size, py - size, px + size, py + size))
    return out


@pytest.mark.parametrize("label_all", [None, True])
def test_funnel_labels_never_overlap_each_other_or_a_marker(label_all):
    points = _crowded_points()
    fig = charts.funnel_plot(gated(points), _limits(), target=0.5, title="Funnel", highlight="Hartlepool",
                             label_all=label_all)
    boxes = _label_boxes(fig)
    # the page's area and the real outliers are always labelled; with 40 points nothing else by default
    assert {"Hartlepool", "Middlesbrough", "South Warwickshire"} <= set(boxes)
    if label_all is None:
        assert set(boxes) == {"Hartlepool", "Middlesbrough", "South Warwickshire"}
    else:
        assert len(boxes) > 3  # others where there is room
    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not boxes[a].overlaps(boxes[b]), f"labels {a!r} and {b!r} overlap"
    for name, box in boxes.items():
        for m in _marker_extents(fig.axes[0]):
            assert not (box.x0 < m[2] and m[0] < box.x1 and box.y0 < m[3] and m[1] < box.y1), (
                f"label {name!r} sits on a marker at {m}")
        frame = fig.axes[0].get_window_extent()
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
    plt.close(fig)


def test_funnel_labels_stay_clear_in_the_saved_png():
    """Labels are offset in points, so the PNG (drawn at raster_dpi) keeps them where they were placed."""
    from svtools.publish import figures

    fig = charts.funnel_plot(gated(_crowded_points()), _limits(), target=0.5, title="Funnel",
                             highlight="Hartlepool")
    figures.prepare(fig)
    raster = config.settings()["figures"]["raster_dpi"]
    before = {k: (b.x0, b.y0) for k, b in _label_boxes(fig).items()}
    fig.set_dpi(raster)
    after = {k: (b.x0 * fig.dpi / raster * 96 / fig.dpi, b.y0 * 96 / raster) for k, b in _label_boxes(fig).items()}
    for k in before:
        assert after[k] == pytest.approx(before[k], abs=1.5)
    plt.close(fig)


@pytest.mark.parametrize("name", ["funnel_plot", "spc_chart", "day_hour_heatmap"])
def test_same_chart_gives_the_same_png_bytes(name):
    from svtools.publish import figures

    first, second = CHARTS[name](), CHARTS[name]()
    a, b = figures.png_bytes(first), figures.png_bytes(second)
    assert a == b
    assert b"Software" not in a and b"matplotlib" not in a.lower()
    plt.close("all")


def test_show_gives_css_size_and_a_sharper_png(monkeypatch):
    import base64
    import io

    from PIL import Image

    from svtools.publish import figures

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **kw: shown.append((a, kw)))
    fig = CHARTS["trend_chart"]()
    width_in, height_in = fig.get_size_inches()
    figures.show(fig, alt="Offences a month in Hartlepool with the trend.")
    (data,), kw = shown[0]
    meta = kw["metadata"]["image/png"]
    settings = config.settings()["figures"]
    assert meta["width"] == round(settings["width_in"] * 96) == round(width_in * 96)  # CSS px, not PNG px
    assert meta["height"] == round(height_in * 96)
    png = Image.open(io.BytesIO(base64.b64decode(data["image/png"])))
    assert png.size[0] == pytest.approx(meta["width"] * settings["raster_dpi"] / 96, abs=2)
    assert png.size[1] == pytest.approx(meta["height"] * settings["raster_dpi"] / 96, abs=2)


# ---------------------------------------------------------------- the cost of a chart: what show() draws, and how
class _DrawCounter:
    """Counts, while active, constrained-layout passes and paints (a figure drawn with a renderer that draws
    pixels, as opposed to a layout-only pass with the renderer's draw methods switched off)."""

    def __init__(self, monkeypatch):
        from matplotlib.layout_engine import ConstrainedLayoutEngine

        self.layouts = self.paints = 0
        real_execute, real_draw = ConstrainedLayoutEngine.execute, Figure.draw

        def execute(engine, fig):
            self.layouts += 1
            return real_execute(engine, fig)

        def draw(fig, renderer):
            self.paints += "draw_path" not in vars(renderer)  # _draw_disabled() patches draw_* on the instance
            return real_draw(fig, renderer)

        monkeypatch.setattr(ConstrainedLayoutEngine, "execute", execute)
        monkeypatch.setattr(Figure, "draw", draw)


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_show_paints_a_chart_once_and_lays_it_out_at_most_four_times(name, monkeypatch):
    """A chart costs, from building it to its PNG, one paint (the PNG) and one layout that every check
    measures, plus one for each change that moved the layout (titles re-wrapped to more or fewer lines, an axis
    label wrapped, tick labels broken): savefig adds none (it used to add a layout pass of its own, and the title
    fitting and every check painted the figure in full), and the builders measure on a layout, never a paint
    (the funnel plot's labels, the yearly chart's value labels)."""
    from svtools.publish import figures

    monkeypatch.setattr("IPython.display.display", lambda *a, **kw: None)
    counter = _DrawCounter(monkeypatch)
    fig = CHARTS[name]()
    figures.show(fig, alt="A chart of the test data, for counting its draws.")
    assert counter.paints == 1
    assert 1 <= counter.layouts <= 4


def test_png_is_painted_on_the_layout_the_checks_measured():
    """png_bytes paints the last layout when nothing changed since (positions as measured, engine kept), and
    lays the figure out again first when something did (a longer title pushes the axes down)."""
    from svtools.publish import figures

    fig = CHARTS["trend_chart"]()
    figures.prepare(fig)
    figures.lay_out(fig)
    before = [tuple(ax.get_position(original=True).bounds) for ax in fig.axes]  # (no apply_aspect: stale)
    engine = fig.get_layout_engine()
    png = figures.png_bytes(fig)
    for ax, bounds in zip(fig.axes, before):  # a new layout would move them by ~1e-9 (it is not idempotent)
        assert ax.get_position(original=True).bounds == pytest.approx(bounds, abs=1e-11)
    assert fig.get_layout_engine() is engine
    assert not fig.stale
    assert png == figures.png_bytes(fig)
    fig.axes[0].set_title("A title\nnow on\nfour\nlines", loc="left")
    figures.png_bytes(fig)
    after = fig.axes[0].get_position(original=True).bounds
    assert after[1] + after[3] < before[0][1] + before[0][3] - 0.05  # the axes' top came down for the title
    plt.close(fig)


def _fit_title_by_setting(ax) -> str:
    """The wrapping rule of fit_title done the direct way (set each candidate on the title and measure it)."""
    import textwrap

    fig = ax.figure
    title = " ".join(ax.get_title(loc="left").split())
    renderer = fig.canvas.get_renderer()
    room = fig.bbox.x1 - ax.get_window_extent(renderer).x0 - 6
    chars = len(title)
    while True:
        text = ax.set_title("\n".join(textwrap.wrap(title, chars)), loc="left")
        if chars <= 12 or text.get_window_extent(renderer).width <= room:
            return text.get_text()
        chars -= 2


@pytest.mark.parametrize("title", ["Short", "Knife-enabled serious violence per month, Middlesbrough: SPC chart",
                                   "Knife-enabled serious violence: rate per 1,000 residents a year, April 2024 "
                                   "to March 2025, all CSPs in the data", "Antidisestablishmentarianism " * 3])
def test_fit_title_wraps_as_measuring_the_title_itself_and_keeps_a_title_that_fits(title):
    from svtools.publish import figures

    figures.set_theme()
    fig, ax = figures.new_figure()
    ax.set_ylabel("Offences per month")
    ax.set_title(title, loc="left")
    figures.lay_out(fig)
    reference = _fit_title_by_setting(ax)
    ax.set_title(title, loc="left")
    figures.lay_out(fig)
    assert figures.fit_title(ax, draw=False) == (reference != title)
    assert ax.get_title(loc="left") == reference
    figures.lay_out(fig)
    assert not fig.stale
    assert figures.fit_title(ax, draw=False) is False  # already fitted: left alone, the layout stays current
    assert not fig.stale
    plt.close(fig)


def test_a_title_rewrapped_onto_as_many_lines_keeps_the_layout_and_onto_more_lines_does_not():
    """fit_title re-wraps a title to the laid-out axes. Broken at other points onto the same lines (the same
    extent), the title moves nothing the layout reads, so the layout made before holds: the figure stays
    current, and laying it out again would paint the same PNG. Onto more lines, the axes must come down: the
    figure is stale and is laid out again."""
    import textwrap

    from svtools.publish import figures

    figures.set_theme()
    fig, ax = figures.new_figure()
    ax.plot([0, 1], [0, 10])
    ax.set_ylabel("Offences per month")
    title = "Knife-enabled serious violence per month, Middlesbrough: SPC chart"
    ax.set_title(title, loc="left")
    figures.lay_out(fig)
    fitted = _fit_title_by_setting(ax)
    lines = fitted.count("\n") + 1
    assert lines >= 2
    longest = max(len(line) for line in fitted.split("\n"))
    other = next(text for chars in range(longest - 1, 12, -1)
                 if (text := "\n".join(textwrap.wrap(title, chars))) != fitted and text.count("\n") + 1 == lines)
    ax.set_title(other, loc="left")
    figures.lay_out(fig)
    assert figures.fit_title(ax, draw=False) is True
    assert ax.get_title(loc="left") == fitted
    assert not fig.stale
    png = figures.png_bytes(fig)
    fig.stale = True  # png_bytes lays it out again first
    assert figures.png_bytes(fig) == png
    ax.set_title("\n".join(title.split()), loc="left")  # a word a line
    figures.lay_out(fig)
    assert figures.fit_title(ax, draw=False) is True
    assert ax.get_title(loc="left") == fitted
    assert fig.stale
    plt.close(fig)


def test_a_title_broken_after_a_hyphen_joins_up_again_when_re_wrapped():
    """A title fit_title broke after a hyphen ("Stockton-on-" over "Tees") is re-wrapped from its words as they
    were: with more room it reads "Stockton-on-Tees" again, not "Stockton-on- Tees"."""
    from svtools.publish import figures

    figures.set_theme()
    fig, ax = figures.new_figure()
    ax.set_ylabel("Victim age")
    title = "Offences against young victims, Stockton-on-Tees"
    ax.set_title(title, loc="left")
    figures.lay_out(fig)
    for room in range(120, 400, 4):  # a narrow room that breaks the title at a hyphen
        ax.set_title(title, loc="left")
        figures.fit_title(ax, draw=False, left=fig.bbox.x1 - 6 - room)
        if "-\n" in ax.get_title(loc="left"):
            break
    assert "-\n" in ax.get_title(loc="left")
    figures.fit_title(ax, draw=False)  # the real room, wider
    assert ax.get_title(loc="left") == _fit_title_by_setting(ax)
    assert "- " not in ax.get_title(loc="left")
    assert ax.get_title(loc="left").replace("-\n", "-").replace("\n", " ") == title
    plt.close(fig)


def test_palette_image_is_exact_for_a_few_colours_and_ordered_by_frequency():
    from svtools.publish import figures

    white, red, blue = (255, 255, 255), (213, 94, 0), (0, 114, 178)
    pixels = np.array([[white, white, red, white], [blue, red, white, red], [white, white, red, white]],
                      dtype=np.uint8)  # white 7, red 4, blue 1
    rgba = np.concatenate([pixels, np.full((3, 4, 1), 255, dtype=np.uint8)], axis=2)
    image = figures.palette_image(rgba, 256)
    assert image.mode == "P"
    assert image.getpalette()[:9] == [*white, *red, *blue]
    assert np.asarray(image).reshape(-1).tolist() == [0, 0, 1, 0, 2, 1, 0, 1, 0, 0, 1, 0]
    assert (np.asarray(image.convert("RGB")) == pixels).all()
    with pytest.raises(ValueError, match="png_colours"):
        figures.palette_image(rgba, 300)


def test_palette_image_of_more_colours_than_the_palette_uses_max_coverage():
    from PIL import Image

    from svtools.publish import figures

    ramp = np.zeros((40, 300, 3), dtype=np.uint8)
    ramp[..., 0] = np.arange(300)[None, :] * 255 // 299  # 256 reds
    ramp[:20, :, 2] = 200  # and the same with blue: 512 colours
    image = figures.palette_image(ramp, 64)
    assert len(image.getcolors(300)) <= 64
    reference = Image.fromarray(ramp).quantize(colors=64, method=Image.Quantize.MAXCOVERAGE,
                                               dither=Image.Dither.NONE)
    back = np.asarray(image.convert("RGB"))
    assert (back == np.asarray(reference.convert("RGB"))).all()
    assert np.abs(back.astype(int) - ramp).max() <= 8  # 512 colours in 64: the ramp stays smooth


@pytest.mark.parametrize("name", ["day_hour_heatmap", "funnel_plot", "spc_chart"])
def test_a_chart_of_more_colours_than_the_palette_keeps_every_pixel_close(name, monkeypatch):
    """A chart of more than 256 colours (a colour bar's gradient, translucent bands over many colours) is
    quantised with every pixel within 5 of its painted colour on each channel."""
    import io

    from PIL import Image

    from svtools.publish import figures

    fig = CHARTS[name]()
    figures.prepare(fig)
    seen = {}
    real_paint = figures._paint
    monkeypatch.setattr(figures, "_paint", lambda f, dpi: seen.setdefault("rgba", real_paint(f, dpi)))
    decoded = np.asarray(Image.open(io.BytesIO(figures.png_bytes(fig))).convert("RGB")).astype(int)
    painted = seen["rgba"][..., :3].astype(int)
    if len(np.unique(painted.reshape(-1, 3), axis=0)) <= 256:
        pytest.skip(f"{name} of the test data has no more than 256 colours")
    assert np.abs(decoded - painted).max() <= 5
    plt.close(fig)


def test_chart_png_keeps_every_colour_of_its_pixels(monkeypatch):
    """A chart of a few hundred colours is stored without loss: the PNG decodes to the painted pixels."""
    import io

    from PIL import Image

    from svtools.publish import figures

    fig = CHARTS["bar_chart"]()
    figures.prepare(fig)
    seen = {}
    real_paint = figures._paint
    monkeypatch.setattr(figures, "_paint", lambda f, dpi: seen.setdefault("rgba", real_paint(f, dpi)))
    decoded = np.asarray(Image.open(io.BytesIO(figures.png_bytes(fig))).convert("RGB"))
    painted = seen["rgba"][..., :3]
    assert len(np.unique(painted.reshape(-1, 3), axis=0)) <= 256  # so the palette holds every colour
    assert (decoded == painted).all()
    plt.close(fig)


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_shared_text_layouts_are_what_matplotlib_computes(name):
    """figures._shared_text_layouts shares each text's layout between figures: every text of every chart
    kind gets the numbers matplotlib's own Text._get_layout gives it, at the layout dpi and the PNG's."""
    import matplotlib.text as mtext

    from svtools.publish import figures

    fig = CHARTS[name]()
    shared = mtext.Text._get_layout
    assert shared._svtools_shared
    real = shared._svtools_real
    for dpi in (fig.dpi, config.settings()["figures"]["raster_dpi"]):
        from matplotlib.backends.backend_agg import RendererAgg

        renderer = fig.canvas.get_renderer() if dpi == fig.dpi else RendererAgg(100, 100, dpi)
        texts = figures._drawn_texts(fig)
        assert texts
        for t in texts:
            with matplotlib.cbook._setattr_cm(fig, dpi=dpi):
                (b1, lines1, box1), (b2, lines2, box2) = shared(t, renderer), real(t, renderer)
            assert b1.bounds == b2.bounds and lines1 == lines2 and box1 == box2, t.get_text()
    plt.close(fig)


def test_shared_text_layouts_follow_a_change_of_size_text_or_rotation():
    from svtools.publish import figures

    figures.set_theme()
    fig, ax = plt.subplots(figsize=(4.8, 3), dpi=96)
    t = ax.text(0.5, 0.5, "Middlesbrough")
    renderer = fig.canvas.get_renderer()
    small = t.get_window_extent(renderer)
    t.set_fontsize(t.get_fontsize() * 2)
    assert t.get_window_extent(renderer).width > small.width * 1.8
    t.set_text("Middlesbrough and Redcar")
    wider = t.get_window_extent(renderer)
    t.set_rotation(90)
    upright = t.get_window_extent(renderer)
    assert upright.height == pytest.approx(wider.width, abs=1) and upright.width < wider.width / 3
    plt.close(fig)


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_pinned_titles_give_the_png_of_matplotlibs_own_title_placing(name):
    """figures.lay_out pins a chart's title where matplotlib's automatic placing leaves it (sparing a y axis
    measurement per pass): the PNG is byte for byte the one drawn with the automatic placing."""
    from svtools.publish import figures

    pinned, auto = CHARTS[name](), CHARTS[name]()
    for ax in auto.axes:
        ax._svtools_unpinned = True  # never pinned (again: the funnel plot is laid out as it is built)
        if getattr(ax, "_svtools_pinned", False):
            del ax._svtools_pinned
            ax._autotitlepos, auto.stale = True, True
            pinned.stale = True  # both laid out once more, so that they compare like with like
    figures.prepare(pinned), figures.prepare(auto)
    assert any(getattr(ax, "_svtools_pinned", False) for ax in pinned.axes)
    assert not any(getattr(ax, "_svtools_pinned", False) for ax in auto.axes)
    assert figures.png_bytes(pinned) == figures.png_bytes(auto)
    plt.close("all")


def test_a_title_is_unpinned_when_its_y_axis_shows_an_offset_text():
    """A y axis with an offset text ("1e7") over it: the title goes back to matplotlib's placing, above it."""
    from svtools.publish import figures

    figures.set_theme()
    fig, ax = figures.new_figure()
    ax.plot([0, 1, 2], [3.2e7, 3.4e7, 3.3e7])
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    ax.set_title("Residents", loc="left")
    figures.lay_out(fig)
    assert ax.yaxis.offsetText.get_text()
    assert not getattr(ax, "_svtools_pinned", False) and ax._autotitlepos
    renderer = fig.canvas.get_renderer()
    title, offset = ax._left_title.get_window_extent(renderer), ax.yaxis.offsetText.get_window_extent(renderer)
    assert title.y0 >= offset.y1 - 0.5 or title.x0 >= offset.x1  # placed clear of it, as matplotlib does
    figures.lay_out(fig)
    assert not getattr(ax, "_svtools_pinned", False)  # and never pinned again
    plt.close(fig)


def test_a_y_label_too_long_for_its_axes_is_wrapped_before_the_one_layout(monkeypatch):
    """A y label longer than the axes the layout will give it is wrapped before the first layout
    (figures._axes_height_to_come, read off the unlaid-out figure, is the height the layout then gives): the
    chart is laid out once, and the label fits its axes."""
    from svtools.publish import figures

    spc = pd.DataFrame({"month": MONTHS, "value": VALUES, "mean": 20.0, "lower": 5.0, "upper": 32.0,
                        "variation": ["common cause"] * len(MONTHS)})
    fig = charts.spc_chart(gated(spc), title="SPC chart, Hartlepool",
                           ylabel="Knife-enabled serious violence offences per month")
    expected = figures._axes_height_to_come(fig)
    counter = _DrawCounter(monkeypatch)
    assert figures.prepare(fig)["wrapped"] == 1
    assert counter.layouts == 1
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    assert ax.get_window_extent(renderer).height == pytest.approx(expected, abs=1)
    assert "\n" in ax.get_ylabel()
    assert ax.yaxis.label.get_window_extent(renderer).height <= ax.get_window_extent(renderer).height + 2
    plt.close(fig)


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_shared_text_paint_gives_matplotlibs_own_png(name, monkeypatch):
    """figures._shared_text_paint shapes each text, measures each string and renders each glyph once per
    process: every chart kind's PNG is byte for byte the one matplotlib's own Agg text painting gives, and a
    glyph, shaping or measurement it reuses is what FreeType gives afresh (its check mode)."""
    from matplotlib.backends.backend_agg import RendererAgg

    from svtools.publish import figures

    figures.set_theme()
    shared = RendererAgg.draw_text
    assert shared._svtools_shared
    figures.prepare(fig := CHARTS[name]())
    ours = figures.png_bytes(fig)
    figures._shared_text_paint(check=True)  # a second paint: every reuse rendered afresh and compared
    try:
        assert figures.png_bytes(fig) == ours
    finally:
        figures._shared_text_paint(check=False)
    monkeypatch.setattr(RendererAgg, "draw_text", shared._svtools_real)
    monkeypatch.setattr(RendererAgg, "_draw_text_glyphs_and_boxes",
                        RendererAgg._draw_text_glyphs_and_boxes._svtools_real)
    monkeypatch.setattr(RendererAgg, "get_text_width_height_descent",
                        RendererAgg.get_text_width_height_descent._svtools_real)
    figures.prepare(own := CHARTS[name]())
    assert figures.png_bytes(own) == ours
    plt.close("all")


@pytest.mark.parametrize("block", [3, 4, 6])
def test_heatmap_of_hour_blocks_breaks_its_labels_before_its_one_layout(block, monkeypatch):
    """The profile's heatmap (one column a block of hours, the cells the gate hides hatched with a legend):
    labels that would touch are broken ("00-" over "03") by the chart, before its one layout, so show() lays it
    out once and turns nothing; labels with room stay on one line; on the laid-out chart no two labels touch,
    the legend is in the layout (under the x label, inside the figure) and every hidden cell is hatched."""
    from svtools.publish import figures

    blocks = [f"{h:02d}-{h + block:02d}" for h in range(0, 24, block)]
    values = RNG.poisson(4, (7, len(blocks))).astype(float)
    values[0, 0] = values[3, 2] = np.nan
    table = pd.DataFrame(values, index=charts.DAY_NAMES, columns=range(0, 24, block))
    fig = charts.day_hour_heatmap(gated(table), title="When knife-enabled serious violence happens, Hartlepool",
                                  xlabel="Time of day", column_labels=blocks, hidden_label="Too few to show")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    counter = _DrawCounter(monkeypatch)
    result = figures.prepare(fig)
    assert counter.layouts == 1 and result["turned"] == 0 and result["moved"] == 0
    assert not figures._touching(fig, ax, draw=False)
    if block == 3:
        assert labels == [figures.split_tick_label(b) for b in blocks] and labels[0] == "00-\n03"
    else:
        assert labels == blocks
    assert [t.get_text() for t in ax.get_xticklabels()] == labels
    renderer = fig.canvas.get_renderer()
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["Too few to show"]
    box, xlabel = legend.get_window_extent(renderer), ax.xaxis.label.get_window_extent(renderer)
    assert box.y1 <= xlabel.y0 + 0.5 and box.y0 >= fig.bbox.y0 and box.x0 >= fig.bbox.x0 and box.x1 <= fig.bbox.x1
    hatched = [p for p in ax.patches if p.get_hatch() == "///"]
    assert sorted((int(p.get_x()), int(p.get_y())) for p in hatched) == [(0, 0), (2, 3)]
    plt.close(fig)


def test_heatmap_column_labels_must_match_its_columns():
    table = pd.DataFrame(np.ones((7, 8)), index=charts.DAY_NAMES, columns=range(0, 24, 3))
    open_before = plt.get_fignums()
    with pytest.raises(ValueError, match="8 columns"):
        charts.day_hour_heatmap(gated(table), title="When", column_labels=["00-03"])
    assert plt.get_fignums() == open_before


def test_shared_glyphs_are_bounded_and_the_png_stays_the_same(monkeypatch):
    """At its bound the glyph cache drops its older half: it stays bounded, and the PNG is the same."""
    from matplotlib.backends.backend_agg import RendererAgg

    from svtools.publish import figures

    figures.set_theme()
    figures.prepare(fig := CHARTS["bar_chart"]())
    before = figures.png_bytes(fig)
    bitmaps = RendererAgg.draw_text._svtools_caches[1]
    monkeypatch.setattr(figures, "_GLYPH_BITMAPS_KEPT", 40)
    bitmaps.clear()
    assert figures.png_bytes(fig) == before  # (painted again on the same layout)
    assert 0 < len(bitmaps) <= 40
    plt.close(fig)
