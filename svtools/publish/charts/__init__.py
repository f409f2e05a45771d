"""Domain charts for the profiles: SPC, funnel plots, trends, seasonality, forecasts, pyramids, heatmaps,
deprivation gradients, Lorenz curves and bar charts.

Every function takes tidy numbers (already computed by the tested svtools functions), builds one
matplotlib figure in the house style of :mod:`svtools.publish.figures` (sizes from the ``figures:`` block of
``config/settings.yaml``: 4.8 in = 461 CSS px wide, text at least 11 CSS px when scaled to the 358 px column of a
390 px phone; the colour-blind-safe Okabe-Ito palette) and returns it; :func:`svtools.publish.output.show` displays
it with alt text. Nothing here computes statistics or reads data.

Phone rules followed by every chart: titles, legends (under the plot, wrapped to the figure) and axis labels are
fitted to the figure after layout; date axes thin their ticks to what fits; funnel plot labels are placed clear of
every other label and every marker (only the page's area, outliers and, on small funnels, areas with room are
labelled: every value is in the table beside the chart). ``benchmarks/chart_text.py`` prints the smallest text of
every chart on a few demo pages.

Accessibility rules followed by every chart (WCAG 2.2 AA "use of colour"): colour is never the only cue. SPC
points differ in marker shape as well as colour, limit lines differ in line style, bars carry value labels or
the legend names the series, and the busiest heatmap cell is outlined and labelled in words.

The package is split by kind of chart; everything is re-exported here, so ``from svtools.publish import charts;
charts.spc_chart(...)`` is the way to call them:

* :mod:`~svtools.publish.charts.common` - the house-style figure, titles, date axis, COVID-19 band, legend and
  label placement helpers, and the shared constants (:data:`DAY_NAMES`, :data:`SPC_STYLES`);
* :mod:`~svtools.publish.charts.time_series` - SPC, trend, seasonal, forecast, interrupted time series,
  financial-year and completeness charts;
* :mod:`~svtools.publish.charts.comparison` - funnel plot, bar chart, deprivation gradient and Lorenz curve;
* :mod:`~svtools.publish.charts.distribution` - age-sex pyramid and day-of-week x hour-of-day heatmap.
"""

from __future__ import annotations

from svtools.publish.charts.common import DAY_NAMES, SPC_STYLES
from svtools.publish.charts.comparison import bar_chart, funnel_plot, gradient_chart, lorenz_chart
from svtools.publish.charts.spine import spine_chart
from svtools.publish.charts.distribution import day_hour_heatmap, pyramid_chart
from svtools.publish.charts.time_series import (
    completeness_chart,
    forecast_chart,
    its_chart,
    seasonal_chart,
    spc_chart,
    trend_chart,
    yearly_chart,
)

__all__ = [
    "SPC_STYLES",
    "DAY_NAMES",
    "spc_chart",
    "funnel_plot",
    "trend_chart",
    "seasonal_chart",
    "forecast_chart",
    "its_chart",
    "yearly_chart",
    "pyramid_chart",
    "day_hour_heatmap",
    "gradient_chart",
    "lorenz_chart",
    "bar_chart",
    "completeness_chart",
    "spine_chart",
]

