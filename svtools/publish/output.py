"""Charts and tables for the published pages: one palette, one theme, alt text from the data, safe tables.

Every chart on a page goes through :func:`show`, which embeds a PNG of fixed width (``config/settings.yaml``
``figures``: 7 in at 96 dpi = 672 px, which scales down to a phone) with alt text in the display metadata and
closes the figure, so a long batch does not leak memory. Alt text is written from the numbers themselves
(:func:`describe_series`), never by hand.

Tables are HTML, not images (:func:`show_table`), with a caption and header scopes for screen readers.
:func:`publish_table` also writes the table as a CSV download beside the page. Both refuse a table that holds a
count from 1 to the disclosure threshold or a record-level column (:func:`check_publishable`): pass tables
through :func:`svtools.analysis.stats.suppress` first.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from svtools import config
from svtools.errors import SvtoolsError
# the chart theme and display live in figures.py; re-exported here, where the notebooks and sections reach them
from svtools.publish import figures as _figures
from svtools.publish.figures import figure_settings, new_figure, set_theme  # noqa: F401

__all__ = [
    "PAGE_DIR_ENV",
    "TABLES_SIDECAR",
    "RECORD_LEVEL_COLUMNS",
    "DisclosureError",
    "palette",
    "figure_settings",
    "set_theme",
    "new_figure",
    "show",
    "month_label",
    "format_count",
    "describe_series",
    "monthly_chart",
    "check_publishable",
    "table_layout",
    "table_id",
    "table_html",
    "show_table",
    "publish_table",
    "CHART_DATA_KIND",
    "check_chart_columns",
    "prepare_chart_data",
    "write_chart_data",
]

#: Environment variable naming the folder of the page being built (``svtools.publish.batch`` sets it per job);
#: :func:`publish_table` writes its CSV there. Unset in JupyterLab: tables are shown but not written.
PAGE_DIR_ENV = "SVTOOLS_PAGE_DIR"

#: Written beside a page by :func:`publish_table` (one entry per CSV: file, caption, count columns, threshold);
#: the build moves it into ``manifest.json`` so the disclosure checks of every download are on record.
TABLES_SIDECAR = ".svtools-tables.json"

#: Columns that identify a crime or a person, or give an exact time: never published.
RECORD_LEVEL_COLUMNS = frozenset(
    {"crime_ref", "victim_id", "suspect_id", "occurred_at", "recorded_date", "occurred_hour", "source_line"}
)


class DisclosureError(SvtoolsError):
    """A table about to be published holds a small count or record-level data."""


# --------------------------------------------------------------------------- theme
def palette() -> dict:
    """The colour-blind-safe palette from ``config/settings.yaml`` (Okabe-Ito)."""
    return config.palette()


# --------------------------------------------------------------------------- alt text from data
def month_label(value) -> str:
    """``2019-07-01`` -> ``"July 2019"``."""
    return pd.Timestamp(value).strftime("%B %Y")


def format_count(value, threshold: int | None = None) -> str:
    """A count in words for text: thousands separators; 1 to ``threshold`` becomes "fewer than N"."""
    if value is None or pd.isna(value):
        return "unknown"
    v = float(value)
    if threshold and 1 <= v <= threshold and v == int(v):
        return f"fewer than {threshold + 1}"
    return f"{int(v):,}" if v == int(v) else f"{v:,.1f}"


def describe_series(series: pd.Series, what: str, area: str, *, frequency: str = "Monthly",
                    threshold: int | None = None) -> str:
    """Alt text for a time series chart, written from the data.

    Parameters
    ----------
    series : pandas.Series
        Values indexed by month (timestamps or periods), in time order.
    what : str
        What is counted, e.g. ``"knife-enabled offences"``.
    area : str
        Where, e.g. ``"Hartlepool"``.
    frequency : str
        First word of the sentence (``"Monthly"``).
    threshold : int, optional
        Counts from 1 to ``threshold`` are written as "fewer than threshold + 1" (default: the police
        disclosure threshold from config; 0 to write every number).

    Examples
    --------
    >>> s = pd.Series([10, 34, 9], index=pd.to_datetime(["2019-06-01", "2019-07-01", "2019-08-01"]))
    >>> describe_series(s, "knife-enabled offences", "Hartlepool", threshold=0)
    'Monthly knife-enabled offences in Hartlepool, June 2019 to August 2019, peaking in July 2019 at 34; lowest in August 2019 (9).'
    """
    if threshold is None:
        threshold = config.disclosure_threshold("police")
    head = f"{frequency} {what} in {area}"
    values = pd.to_numeric(pd.Series(series), errors="coerce").dropna()
    if values.empty:
        return f"{head}: no data."
    index = values.index.to_timestamp() if isinstance(values.index, pd.PeriodIndex) else values.index
    values = pd.Series(values.to_numpy(), index=pd.DatetimeIndex(index))
    span = f"{month_label(values.index[0])} to {month_label(values.index[-1])}"
    if (values == 0).all():
        return f"{head}, {span}: none recorded in any month."
    peak, low = values.max(), values.min()
    peak_at = values.index[values == peak]
    low_at = values.index[values == low]

    def when(at: pd.DatetimeIndex) -> str:
        first = month_label(at[0])
        extra = len(at) - 1
        return first if not extra else f"{first} and {extra} other month{'s' if extra > 1 else ''}"

    text = (f"{head}, {span}, peaking in {when(peak_at)} at {format_count(peak, threshold)}; "
            f"lowest in {when(low_at)} ({format_count(low, threshold)})")
    return text + "."


def monthly_chart(series: pd.Series, ylabel: str = "Offences per month", title: str | None = None,
                  colour: str | None = None):
    """A line chart of a monthly series (house style); returns the figure for :func:`show`."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import MaxNLocator

    fig, ax = new_figure()
    values = pd.Series(series)
    index = values.index.to_timestamp() if isinstance(values.index, pd.PeriodIndex) else values.index
    ax.plot(pd.DatetimeIndex(index), values.to_numpy(dtype=float), color=colour or palette()["primary"],
            linewidth=2, marker="o", markersize=3)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(mdates.YearLocator(base=1, month=4))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- charts and the data behind them
#: ``kind`` of a chart's data in the page's disclosure record (``manifest.json`` ``jobs[].tables[]``).
CHART_DATA_KIND = "chart"
#: A chart-data column name: lower-case words joined by ``_`` (``lower_95_ci``, ``rate_per_1000``).
_SNAKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
#: Column names too vague for a download read without its chart: say what the number is.
#: (``value`` is allowed beside a ``unit`` column, as in the spine chart's indicator table.)
VAGUE_COLUMNS = frozenset({"lci", "uci", "lcl", "ucl", "lower", "upper", "rate", "n", "shown", "est", "sa", "x",
                           "y"})
#: Columns that can name a chart point's area, and its period.
AREA_COLUMNS = ("area_code", "area_name")
PERIOD_COLUMNS = ("period_start", "period_end", "month", "quarter", "financial_year")


def check_chart_columns(frame: pd.DataFrame, what: str = "chart data") -> None:
    """Raise ``ValueError`` unless ``frame``'s columns are explicit snake_case names with the area and the period.

    Every column is snake_case (``lower_95_ci``, never ``Lower 95% CI`` or ``lci``: :data:`VAGUE_COLUMNS` are
    refused), ``area_code`` and ``area_name`` are there, and so is a period column (``period_start`` and
    ``period_end``, or ``month``, ``quarter`` or ``financial_year``).

    Examples
    --------
    >>> check_chart_columns(pd.DataFrame(columns=["area_code", "area_name", "month", "offences"]))
    >>> check_chart_columns(pd.DataFrame(columns=["area_code", "area_name", "month", "lci"]))
    Traceback (most recent call last):
    ...
    ValueError: chart data: column name(s) ['lci'] are too vague; say what the number is (e.g. lower_95_ci)
    """
    cols = [str(c) for c in frame.columns]
    bad = [c for c in cols if not _SNAKE.fullmatch(c)]
    if bad:
        raise ValueError(f"{what}: column name(s) {bad} are not snake_case (e.g. lower_95_ci, rate_per_1000)")
    vague = [c for c in cols if c in VAGUE_COLUMNS]
    if vague:
        raise ValueError(f"{what}: column name(s) {vague} are too vague; say what the number is (e.g. lower_95_ci)")
    missing = [c for c in AREA_COLUMNS if c not in cols]
    if missing:
        raise ValueError(f"{what}: needs the area's {missing} (columns: {cols})")
    if not any(c in cols for c in PERIOD_COLUMNS):
        raise ValueError(f"{what}: needs a period column, one of {list(PERIOD_COLUMNS)} (columns: {cols})")


def _chart_csv_frame(data: pd.DataFrame, count_columns: Sequence[str]) -> pd.DataFrame:
    """The chart's data as written: counts as whole numbers (blank where hidden), months as ``YYYY-MM``, other
    numbers to 6 decimals."""
    out = data.reset_index(drop=True).copy()
    for col in out.columns:
        s = out[col]
        if col in count_columns:
            v = pd.to_numeric(s, errors="coerce")
            out[col] = v.round().astype("Int64")
        elif pd.api.types.is_datetime64_any_dtype(s):
            out[col] = pd.DatetimeIndex(s).strftime("%Y-%m")
        elif isinstance(s.dtype, pd.PeriodDtype):
            out[col] = s.dt.to_timestamp().dt.strftime("%Y-%m")
        elif pd.api.types.is_float_dtype(s):
            out[col] = s.round(6)
    return out


_charts_on_page: dict[str, int] = {}
_chart_page_seen: dict = {"page": None, "cell": 0}


def _chart_stem(stem: str) -> str:
    """``stem`` for a page's first chart of that name, ``stem_2``... after it (counted afresh for each page, as
    :func:`table_id` counts captions)."""
    page, cell = os.environ.get(PAGE_DIR_ENV), _execution_count()
    if page != _chart_page_seen["page"] or cell < _chart_page_seen["cell"]:
        _charts_on_page.clear()
    _chart_page_seen.update(page=page, cell=cell)
    seen = _charts_on_page[stem] = _charts_on_page.get(stem, 0) + 1
    return stem if seen == 1 else f"{stem}_{seen}"


def prepare_chart_data(data: pd.DataFrame, name: str | None = None, count_columns: Sequence[str] = (),
                       threshold: int | None = None) -> pd.DataFrame:
    """The data behind a chart, checked and as it will be written (see :func:`show`); raises before anything is
    shown: :class:`~svtools.publish.disclosure.DisclosureError` for data not from the gate,
    :class:`DisclosureError` for a small count or a record-level column, ``ValueError`` for vague or missing
    columns."""
    from svtools.publish.disclosure import require_gate_frame

    what = f"the data of chart '{name or 'chart'}'"
    require_gate_frame(data, "a chart's data")
    check_chart_columns(data, what)
    counts = [str(c) for c in count_columns]
    absent = [c for c in counts if c not in data.columns]
    if absent:
        raise ValueError(f"chart '{name or 'chart'}': count column(s) {absent} are not in its data")
    frame = _chart_csv_frame(data, counts)
    check_publishable(frame, threshold, counts, what=what)
    return frame


def write_chart_data(frame: pd.DataFrame, name: str | None, alt: str, count_columns: Sequence[str] = (),
                     threshold: int | None = None, section: str | None = None, caption: str | None = None,
                     page_dir: str | Path | None = None) -> Path | None:
    """Write data from :func:`prepare_chart_data` as ``<name>.csv`` (``<name>_2.csv``... for a page's later
    charts of that name) beside the page, recorded as ``kind: chart`` with its ``section``, and show the link to
    it (to go right under the chart). Nothing is written outside a build (no page folder)."""
    from IPython.display import HTML, display

    folder = page_dir or os.environ.get(PAGE_DIR_ENV)
    if not folder:
        return None
    stem = _chart_stem(_slug(name or "chart"))
    cap = caption or ("Data behind the chart: " + alt.strip().split(". ")[0].rstrip("."))
    path = publish_table(frame, stem, cap, threshold=threshold, count_columns=[str(c) for c in count_columns],
                         page_dir=folder, display_table=False,
                         record={"kind": CHART_DATA_KIND, "section": section or stem})
    size_kb = max(1, round(path.stat().st_size / 1024))
    display(HTML(f'<p class="chart-data"><a class="chart-data" href="{html.escape(path.name)}" download>'
                 f'Download the data behind this chart (CSV, {size_kb} KB)</a></p>'))
    return path


def show(fig, alt: str, data: pd.DataFrame | None = None, *, name: str | None = None,
         count_columns: Sequence[str] = (), threshold: int | None = None, section: str | None = None,
         caption: str | None = None, page_dir: str | Path | None = None) -> Path | None:
    """Show ``fig`` with its alt text (:func:`svtools.publish.figures.show`) and write the data behind it as a CSV
    download, linked right under the chart.

    The data go through the same disclosure check as a table (:func:`check_publishable`, with
    ``count_columns`` as the counts) and must come from the gate (:func:`svtools.publish.disclosure.frame_of`
    or :func:`~svtools.publish.disclosure.derived`: published numbers only); their columns must be explicit
    snake_case names with the area and the period (:func:`check_chart_columns`). Checks run before anything is
    shown (:func:`prepare_chart_data`). The CSV is ``<name>.csv`` (``<name>_2.csv``... for a page's later charts
    of the same name) beside the page, recorded with ``kind: chart`` and its ``section`` in the page's
    disclosure record, and so in the run's manifest and the hand-over bundle, whose gate checks it again
    (:func:`write_chart_data`).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The chart (closed afterwards).
    alt : str
        Alternative text written from the data.
    data : DataFrame, optional
        What the chart draws, one row per point (e.g. an SPC chart's months, counts, mean and process limits).
        Without it the chart is shown alone (an analyst's own notebook); every published page passes it.
    name : str
        Stem of the CSV (default ``chart``); :func:`svtools.publish.sections.context._show` passes
        ``<section>_chart``.
    count_columns : sequence of str
        The columns holding counts (checked against the threshold, written as whole numbers, blank if hidden).
    threshold : int, optional
        The disclosure threshold (default the police one).
    section, caption : str, optional
        Recorded with the CSV (the caption defaults to the first sentence of ``alt``).

    Returns
    -------
    pathlib.Path or None
        The CSV written (None without ``data`` or outside a build).
    """
    import matplotlib.pyplot as plt

    frame = None
    if data is not None:
        try:
            frame = prepare_chart_data(data, name, count_columns, threshold)
        except BaseException:
            plt.close(fig)
            raise
    _figures.show(fig, alt)
    if frame is None:
        return None
    return write_chart_data(frame, name, alt, count_columns, threshold, section, caption, page_dir)


# --------------------------------------------------------------------------- tables
def _is_month_precision(values: pd.Series) -> bool:
    stamps = pd.to_datetime(values.dropna(), errors="coerce")
    if stamps.isna().any():
        return False
    return bool(((stamps.dt.day == 1) & (stamps.dt.normalize() == stamps)).all())


def _count_like(value) -> float | None:
    """The value as a number when it could be a count (an integer), else None."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return float(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) and float(value).is_integer() else None
    if value is pd.NA:
        return None
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        return float(text) if re.fullmatch(r"\d+", text) else None
    return None


def check_publishable(frame: pd.DataFrame, threshold: int | None = None,
                      count_columns: Sequence[str] | None = None, what: str = "table") -> list[str]:
    """Raise :class:`DisclosureError` unless ``frame`` is safe to publish; return the columns checked as counts.

    Refused: a record-level column (:data:`RECORD_LEVEL_COLUMNS`, in the columns or the index), a date-time
    column finer than a month, and any count from 1 to ``threshold`` (0 is allowed). Counts are the integer
    cells of ``count_columns`` (default: every integer column, every float column holding only whole numbers,
    and whole-number cells of text/object columns, e.g. a suppressed column mixing counts and ``*``).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as it will be published.
    threshold : int, optional
        Largest count that must be hidden (default: the police threshold in ``config/settings.yaml``).
    count_columns : sequence of str, optional
        Only these columns hold counts.
    """
    if threshold is None:
        threshold = config.disclosure_threshold("police")
    names = [str(c) for c in frame.columns] + [str(n) for n in frame.index.names if n is not None]
    bad = sorted({n for n in names if n.lower() in RECORD_LEVEL_COLUMNS})
    if bad:
        raise DisclosureError(f"{what}: record-level column(s) {bad} must never be published")
    flat = frame.reset_index() if any(n is not None for n in frame.index.names) else frame
    for col in flat.columns:
        s = flat[col]
        if pd.api.types.is_datetime64_any_dtype(s) and not _is_month_precision(s):
            raise DisclosureError(f"{what}: column '{col}' holds exact dates or times; publish months or years")
        if s.dtype == object and s.map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64))).any():
            raise DisclosureError(f"{what}: column '{col}' holds date-times; publish months or years")
    from svtools.analysis.stats import assert_no_small_counts

    columns = list(count_columns) if count_columns is not None else list(frame.columns)
    counts = {}
    for col in columns:
        s = frame[col]
        if pd.api.types.is_bool_dtype(s):
            continue
        if count_columns is None and pd.api.types.is_float_dtype(s):
            known = s.dropna()
            if not (known == np.floor(known)).all():
                continue  # rates, shares: not counts
        values = [_count_like(v) for v in s]
        if count_columns is not None or any(v is not None for v in values):
            counts[col] = values
    if all(len(v) == len(frame) for v in counts.values()) and not any(
            v is not None and 0 < v <= threshold for values in counts.values() for v in values):
        return [str(c) for c in counts]  # no count from 1 to threshold: what assert_no_small_counts finds, without
        # building its frame (most of the cost of checking the thousands of small tables of a national run)
    try:
        assert_no_small_counts(pd.DataFrame(counts, index=frame.index, columns=list(counts), dtype=object),
                               threshold)
    except AssertionError as exc:
        raise DisclosureError(f"{what}: {exc}; suppress them first (svtools.analysis.stats.suppress), or name the count "
                              "columns with count_columns=[...]") from None
    return [str(c) for c in counts]


def _cell(value) -> tuple[str, bool]:
    """HTML text of one cell and whether it is numeric (right-aligned)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "", False
    if isinstance(value, (bool, np.bool_)):
        return ("Yes" if value else "No"), False
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}", True
    if isinstance(value, (float, np.floating)):
        return (f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"), True
    if isinstance(value, pd.Timestamp):
        return html.escape(month_label(value)), False
    text = str(value)
    numeric = bool(re.fullmatch(r"[-+]?[\d,]*\.?\d+%?|\*", text.strip()))
    return html.escape(text), numeric


_TABLE_LAYOUT = config.settings()["tables"]
#: A table with at least this many columns is shown as one card per row on a narrow screen (``stacked``);
#: from ``config/settings.yaml`` ``tables:``, as are the three below.
STACK_MIN_COLUMNS = int(_TABLE_LAYOUT["stack_min_columns"])
#: ... and so is a narrower one whose estimated width (:func:`table_layout`) passes this many characters:
#: about what a 320 px phone fits across in the page's type (288 px of column), cell padding included.
STACK_MIN_CHARS = int(_TABLE_LAYOUT["stack_min_chars"])
#: A table with at least this many columns, or wider than this many characters, is ``wide``: it is stacked up
#: to a tablet's width (48rem, where the page column is narrower than its own) and set a size smaller above it.
WIDE_MIN_COLUMNS = int(_TABLE_LAYOUT["wide_min_columns"])
WIDE_MIN_CHARS = int(_TABLE_LAYOUT["wide_min_chars"])
#: Width in characters a text value is estimated at when longer: it wraps between its words in its cell.
_TEXT_WRAP_CHARS = 14


def _text_width(text: str, kind: str) -> int:
    """Characters a cell needs across: a header or a text value wraps between its words, a number never."""
    text = html.unescape(text)
    longest_word = max((len(w) for w in text.split()), default=0)
    if kind == "header":
        return longest_word
    if kind == "number":
        return len(text)
    return min(len(text), max(longest_word, _TEXT_WRAP_CHARS))


def table_layout(columns: Sequence[str], rows: Sequence[Sequence[str]],
                 numeric: Sequence[bool] | None = None) -> str:
    """The layout class of a table from its shape: ``""`` (stays a table), ``"stacked"`` or ``"stacked wide"``.

    A stacked table becomes one card per row below the stylesheet's breakpoint (``style.css``: 40rem, or 48rem
    when wide), headed by its row header, each value beside its column name: nothing is off-screen on a phone.
    Tables of :data:`STACK_MIN_COLUMNS` or more columns stack, and so do narrower ones estimated wider than
    :data:`STACK_MIN_CHARS` characters: each column as wide as its header's longest word, its longest number,
    or its longest text value (up to :data:`_TEXT_WRAP_CHARS`, or its longest word), plus two for padding.

    Parameters
    ----------
    columns : sequence of str
        Column headers (as shown, HTML-escaped or not).
    rows : sequence of sequence of str
        Cell texts, row by row.
    numeric : sequence of bool, optional
        Which columns hold numbers (they never wrap); default none.

    Examples
    --------
    >>> table_layout(["Area", "Offences"], [["Hartlepool", "1,234"]], [False, True])
    ''
    >>> table_layout(["Area", "2023/24", "2024/25", "Change"], [["Hartlepool", "1", "2", "+1"]])
    'stacked'
    """
    numeric = list(numeric) if numeric is not None else [False] * len(columns)
    widths = [_text_width(c, "header") for c in columns]
    for row in rows:
        widths = [max(w, _text_width(t, "number" if num else "text")) for w, t, num in zip(widths, row, numeric)]
    chars = sum(w + 2 for w in widths)
    n = len(columns)
    if n >= WIDE_MIN_COLUMNS or chars > WIDE_MIN_CHARS:
        return "stacked wide" if n >= 2 else ""
    if n >= STACK_MIN_COLUMNS or (n >= 2 and chars > STACK_MIN_CHARS):
        return "stacked"
    return ""


#: Tables seen on the page being built (id -> how many times), and which page that is.
_ids_on_page: dict[str, int] = {}
_page_seen: dict = {"page": None, "cell": 0}


def _execution_count() -> int:
    """The IPython cell being run (0 outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return 0
    ip = get_ipython()
    return int(getattr(ip, "execution_count", 0) or 0) if ip is not None else 0


def table_id(caption: str) -> str:
    """A deterministic id for a table on its page: ``tbl-`` and a hash of the caption, ``-2``... if repeated.

    The count of captions seen starts again with each page: the build's warm kernels run one page after another
    (:class:`svtools.publish.render.WarmKernel`), each with its own ``$SVTOOLS_PAGE_DIR`` and its cell count
    reset to 1. So the same page built twice gets the same ids, whatever ran before it, and no two tables of a
    page share one.
    """
    page, cell = os.environ.get(PAGE_DIR_ENV), _execution_count()
    if page != _page_seen["page"] or cell < _page_seen["cell"]:
        _ids_on_page.clear()
    _page_seen.update(page=page, cell=cell)
    key = "tbl-" + hashlib.sha1(str(caption).encode("utf-8")).hexdigest()[:10]
    seen = _ids_on_page[key] = _ids_on_page.get(key, 0) + 1
    return key if seen == 1 else f"{key}-{seen}"


def table_html(frame: pd.DataFrame, caption: str, row_header: bool | str = True, note: str | None = None) -> str:
    """An accessible HTML table: ``<caption>``, ``<th scope="col">`` headers, the first column as row headers.

    Numbers get thousands separators and are right-aligned (``class="num"``). A table that would not fit a
    phone (:func:`table_layout`) is ``stacked``: every cell carries its column's name in ``data-label`` for the
    card layout of ``style.css``, every element its ARIA role (the stylesheet changes their ``display``, which
    would otherwise lose the table semantics in some browsers), and its box (which can still scroll sideways
    between the breakpoint and the page's full width) is a keyboard-focusable region named by the caption,
    whose id is deterministic and unique on the page (:func:`table_id`). A ``wide`` table's box also takes the
    window's width on a wide screen, beyond the text column.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table (a named index becomes its first columns).
    caption : str
        What the table shows: its caption, and the name of its box.
    row_header : bool or str
        The first column heads each row (default); False for none; or the name of the column that names the
        rows, shown first (on a phone, the heading of each row's card: e.g. a neighbourhood's name, not its code).
    note : str, optional
        A line under the table.
    """
    if not caption or not str(caption).strip():
        raise ValueError("a published table needs a caption")
    flat = frame.reset_index() if any(n is not None for n in frame.index.names) else frame
    if isinstance(row_header, str):
        if row_header not in flat.columns:
            raise ValueError(f"table '{caption}': row_header column {row_header!r} is not one of its columns "
                             f"{[str(c) for c in flat.columns]}")
        flat = flat[[row_header] + [c for c in flat.columns if c != row_header]]
    cols = [str(c) for c in flat.columns]
    heads = [html.escape(c) for c in cols]
    numeric_col = []
    for i in range(len(cols)):
        s = flat.iloc[:, i]
        numeric = i > 0 and pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        numeric_col.append(numeric or (i > 0 and bool(s.map(lambda v: _cell(v)[1]).all())))
    body = [[_cell(v) for v in row] for row in flat.itertuples(index=False, name=None)]
    layout = table_layout(heads, [[t for t, _ in row] for row in body], numeric_col)
    stacked = bool(layout)

    def role(name: str) -> str:
        return f' role="{name}"' if stacked else ""

    def label(i: int) -> str:
        return f' data-label="{heads[i]}"' if stacked else ""

    text_caption = html.escape(str(caption))
    if stacked:
        tid = table_id(caption)
        wrap = "table-wrap wide" if "wide" in layout.split() else "table-wrap"
        out = [f'<div class="{wrap}" role="region" tabindex="0" aria-labelledby="{tid}-caption">',
               f'<table class="{layout}" role="table">', f'<caption id="{tid}-caption">{text_caption}</caption>']
    else:
        out = ['<div class="table-wrap"><table>', f"<caption>{text_caption}</caption>"]
    out.append(f"<thead{role('rowgroup')}><tr{role('row')}>")
    for i, h in enumerate(heads):
        cls = ' class="num"' if numeric_col[i] else ""
        out.append(f'<th scope="col"{cls}{role("columnheader")}>{h}</th>')
    out.append(f"</tr></thead><tbody{role('rowgroup')}>")
    for row in body:
        out.append(f"<tr{role('row')}>")
        for i, (text, numeric) in enumerate(row):
            if i == 0 and row_header:
                out.append(f'<th scope="row"{role("rowheader")}{label(i)}>{text}</th>')
            else:
                cls = ' class="num"' if numeric else ""
                out.append(f"<td{cls}{role('cell')}{label(i)}>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    if note:
        out.append(f'<p class="note">{html.escape(note)}</p>')
    return "".join(out)


def show_table(frame: pd.DataFrame, caption: str, *, threshold: int | None = None,
               count_columns: Sequence[str] | None = None, note: str | None = None,
               row_header: bool | str = True) -> None:
    """Display ``frame`` as an accessible HTML table (:func:`table_html`) after checking it is safe to publish."""
    from IPython.display import HTML, display

    check_publishable(frame, threshold, count_columns, what=f"table '{caption}'")
    display(HTML(table_html(frame, caption, row_header=row_header, note=note)))


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")
    if not slug:
        raise ValueError(f"cannot make a file name from {name!r}")
    return slug


def _record_table(folder: Path, entry: dict) -> None:
    sidecar = Path(folder) / TABLES_SIDECAR
    entries = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else []
    entries = [e for e in entries if e.get("file") != entry["file"]] + [entry]
    sidecar.write_text(json.dumps(entries), encoding="utf-8")


def publish_table(frame: pd.DataFrame, name: str, caption: str, *, threshold: int | None = None,
                  count_columns: Sequence[str] | None = None, note: str | None = None,
                  page_dir: str | Path | None = None, display_table: bool = True,
                  gate: dict | None = None, row_header: bool | str = True,
                  record: dict | None = None) -> Path | None:
    """Show ``frame`` on the page and write it as ``<name>.csv`` beside the page, with a download link.

    Refuses (raises :class:`DisclosureError`) a table holding a count from 1 to the threshold or a
    record-level column. The CSV goes to ``page_dir`` or the folder in ``$SVTOOLS_PAGE_DIR`` (set by the
    batch build); with neither (e.g. in JupyterLab) the table is shown and nothing is written. ``row_header`` is
    as in :func:`table_html` (the CSV keeps the frame's column order). ``record`` adds keys to the CSV's
    disclosure record (e.g. ``kind``, ``section`` of a chart's data, :func:`show`).

    Returns
    -------
    pathlib.Path or None
        The CSV written, if any.
    """
    from IPython.display import HTML, display

    counted = check_publishable(frame, threshold, count_columns, what=f"table '{name}'")
    folder = page_dir or os.environ.get(PAGE_DIR_ENV)
    path = None
    link = ""
    if folder:
        path = Path(folder) / f"{_slug(name)}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        flat = frame.reset_index() if any(n is not None for n in frame.index.names) else frame
        flat.to_csv(path, index=False, encoding="utf-8")
        _record_table(path.parent, {
            "file": path.name, "caption": str(caption), "rows": int(len(flat)), "count_columns": counted,
            "threshold": config.disclosure_threshold("police") if threshold is None else int(threshold),
            **({"gate": gate} if gate else {}), **(record or {})})
        size_kb = max(1, round(path.stat().st_size / 1024))
        link = (f'<p><a href="{html.escape(path.name)}" download>Download this table '
                f'(CSV, {size_kb} KB)</a></p>')
    if display_table:
        display(HTML(table_html(frame, caption, row_header=row_header, note=note) + link))
    return path

