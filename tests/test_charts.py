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
    with pytest.raises(ValueError):
        charts.trend_chart(gated(pd.DataFrame({"month": MONTHS, "observed": VALUES, "trend": 20.0})), title="")


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
