"""The house figure: size, resolution and text sizes from the ``figures:`` block of ``config/settings.yaml``, the
seaborn/matplotlib theme, and :func:`show`, which puts a chart on a page as a PNG with its alternative text.

Sizes are in CSS pixels. A figure is laid out at ``dpi`` (96) figure pixels per inch, which is what CSS means by
an inch, so a chart ``width_in`` wide is ``width_in * 96`` CSS px wide and :func:`show` says so in the image's
``width``/``height`` (the page shows it at that size on a wide screen and scales it down to a narrower column).
The PNG itself is rasterised at ``raster_dpi`` (2x) so the text is sharp on high-density screens. Text sizes are
chosen so that the smallest text is at least ``min_text_px`` CSS px once the chart is scaled to the narrowest
column (``column_px``: a 390 px phone); :func:`text_sizes` measures it and :func:`show` enforces it.

Re-exported by :mod:`svtools.publish.output` (``output.show`` and friends).
"""

from __future__ import annotations

import base64
import io

from svtools import config

#: CSS pixels per inch (the CSS definition; figures are laid out at this dpi).
CSS_PX_PER_IN = 96


def palette() -> dict:
    """The colour-blind-safe palette from ``config/settings.yaml`` (Okabe-Ito)."""
    return config.palette()


def figure_settings() -> dict:
    """The ``figures:`` block of ``config/settings.yaml``, typed.

    Returns
    -------
    dict
        ``width_in``, ``height_in``, ``tall_height_in`` (inches), ``dpi`` (layout, = CSS px per inch),
        ``raster_dpi`` (PNG), ``png_colours`` (PNG palette size, 0 = full colour), ``column_px`` and ``min_text_px`` (CSS px) and ``font_pt`` (``base``, ``title``,
        ``label``, ``tick``, ``legend``, ``annotation``: points).
    """
    fig = config.settings()["figures"]
    try:
        out = {
            "width_in": float(fig["width_in"]),
            "height_in": float(fig["height_in"]),
            "tall_height_in": float(fig["tall_height_in"]),
            "dpi": int(fig["dpi"]),
            "raster_dpi": int(fig["raster_dpi"]),
            "png_colours": int(fig["png_colours"]),
            "column_px": float(fig["column_px"]),
            "min_text_px": float(fig["min_text_px"]),
            "font_pt": {k: float(fig["font_pt"][k]) for k in ("base", "title", "label", "tick", "legend",
                                                              "annotation")},
        }
    except KeyError as err:
        raise KeyError(f"config/settings.yaml: the figures: block needs {err}") from None
    if out["dpi"] != CSS_PX_PER_IN:
        raise ValueError(f"config/settings.yaml: figures.dpi must be {CSS_PX_PER_IN} (CSS px per inch; the PNG "
                         f"resolution is figures.raster_dpi), not {out['dpi']}")
    return out


def font_size(role: str) -> float:
    """The text size in points of ``role`` (``base``, ``title``, ``label``, ``tick``, ``legend``, ``annotation``)."""
    sizes = figure_settings()["font_pt"]
    if role not in sizes:
        raise KeyError(f"no font size for {role!r} in config/settings.yaml figures.font_pt; has {sorted(sizes)}")
    return sizes[role]


def min_font_pt() -> float:
    """The smallest font size (points) that is still ``min_text_px`` CSS px when a house-width chart is scaled
    down to ``column_px``."""
    fig = figure_settings()
    return fig["min_text_px"] / (CSS_PX_PER_IN / 72 * column_scale(fig["width_in"]))


def column_scale(width_in: float, column_px: float | None = None) -> float:
    """How much a chart ``width_in`` wide is scaled on a page column ``column_px`` CSS px wide (at most 1: an
    image is never enlarged past its CSS width)."""
    column_px = figure_settings()["column_px"] if column_px is None else column_px
    return min(1.0, column_px / (width_in * CSS_PX_PER_IN))


#: Entries kept by :func:`_shared_text_layouts` (a few MB; a page's charts use a few hundred distinct texts).
_TEXT_LAYOUTS_KEPT = 8192


def _shared_text_layouts() -> None:
    """Make matplotlib lay each distinct text out once per process, not once per figure and measurement.

    ``Text._get_layout`` (the size and line offsets of a text, relative to its anchor: what every extent,
    layout pass and paint reads) finds the font and measures every line on each call, and its measurements are
    cached per renderer, so per figure: a page's ten charts measured the same tick labels and titles ~4,000
    times. Its result depends only on what the key below holds (the text, its font, size, rotation, alignment
    and line spacing, the figure's and the renderer's dpi, the renderer's kind and the font lists of rcParams
    that pick the font), not on the text's position or figure, so a result is shared by every text with the
    same key: the same numbers as before, so the same positions and the same PNG bytes. Texts that wrap
    themselves to their figure (``wrap=True``) or use TeX are laid out as before. Installed once (by
    :func:`set_theme`); bounded (:data:`_TEXT_LAYOUTS_KEPT` entries, then cleared)."""
    import matplotlib as mpl
    import matplotlib.text as mtext

    real = mtext.Text._get_layout
    if getattr(real, "_svtools_shared", False):
        return
    cache: dict = {}
    rc = mpl.rcParams

    def _get_layout(self, renderer):
        if self._wrap or self.get_usetex():
            return real(self, renderer)
        key = (
            self.get_text(), self._fontproperties.copy(), self.get_rotation(), self._horizontalalignment,
            self._verticalalignment, self._multialignment, self._rotation_mode, self._linespacing,
            self.get_parse_math(), self.get_figure(root=True).dpi, type(renderer), getattr(renderer, "dpi", None),
            rc["font.family"] and tuple(rc["font.family"]), tuple(rc["font.sans-serif"]), tuple(rc["font.serif"]),
            tuple(rc["font.monospace"]), rc["mathtext.fontset"],
        )
        hit = cache.get(key)
        if hit is None:
            if len(cache) >= _TEXT_LAYOUTS_KEPT:
                cache.clear()
            hit = cache[key] = real(self, renderer)
        bbox, lines, box = hit
        return bbox.frozen(), list(lines), box

    _get_layout._svtools_shared = True
    _get_layout._svtools_cache = cache
    _get_layout._svtools_real = real
    mtext.Text._get_layout = _get_layout


#: Entries kept by :func:`_shared_text_paint`: shaped texts and measured strings, and rendered glyphs (~0.9 KB
#: each with its key: a csp_profile page paints ~2,650 glyphs; 14 different demo pages left 6,841 distinct ones,
#: ~6 MB, ~300 more a page by then). At the glyph bound (~14 MB) the older half is dropped.
_SHAPED_TEXTS_KEPT = 8192
_GLYPH_BITMAPS_KEPT = 16384


def _shared_text_paint(check: bool = False) -> None:
    """Make Agg shape each distinct text and rasterise each distinct glyph once per process, not on every paint.

    Painting a text (``RendererAgg.draw_text``) shapes it (``FT2Font._layout``: the glyphs and their offsets)
    and renders each glyph with FreeType at its sub-pixel position (``_render_glyph``), which was a page's
    largest single chart cost (~260 texts, ~2,650 glyphs). The shaping depends only on the font object (the
    one ``get_font`` gives for the text's font files), its size, the renderer's dpi, the string, the hinting
    flags and the text's font features and language; a glyph's bitmap on the font, size, dpi, glyph, the
    rotation matrix, the hinting flags, the anti-aliasing mode and the glyph's position in 1/64 px modulo a
    whole pixel (a position whole pixels away renders the same bitmap that many pixels away: FreeType
    translates the outline before it rasterises it). So a result is reused for every text and glyph with the
    same key: the same bitmaps at the same pixels, the same PNG bytes (tests/test_charts.py compares every
    chart kind with matplotlib's own painting). Mathtext and TeX are painted as before. With ``check`` every
    reuse is also rendered afresh and compared (a test's switch). Installed once (by :func:`set_theme`);
    bounded (:data:`_SHAPED_TEXTS_KEPT` entries, then cleared; :data:`_GLYPH_BITMAPS_KEPT`, then the older half
    dropped)."""
    import itertools
    import math

    import numpy as np
    from matplotlib.backends import backend_agg
    from matplotlib.ft2font import RenderMode

    agg = backend_agg.RendererAgg
    real_text, real_glyphs = agg.draw_text, agg._draw_text_glyphs_and_boxes
    if getattr(real_text, "_svtools_shared", False):
        real_text._svtools_check[0] = check
        return
    shapes: dict = {}
    bitmaps: dict = {}
    matrices: dict = {}
    checking = [check]

    def reuse(cache: dict, key, what: str, compute):
        """``cache[key]``, computed once (bounded: :data:`_SHAPED_TEXTS_KEPT`, then cleared); in check mode
        computed afresh every time and compared with what is kept."""
        hit = cache.get(key)
        if hit is None or checking[0]:
            fresh = compute()
            if hit is not None and hit != fresh:
                raise AssertionError(f"a reused {what} differs from FreeType's: {key}")
            if hit is None:
                if len(cache) >= _SHAPED_TEXTS_KEPT:
                    cache.clear()
                hit = cache[key] = fresh
        return hit

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath:
            return real_text(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
        font = self._prepare_font(prop)
        flags = backend_agg.get_hinting_flag()
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        size = prop.get_size_in_points()
        key = (font, size, self.dpi, s, flags, features if features is None else tuple(features),
               language if language is None or isinstance(language, str) else tuple(map(tuple, language)))
        items = reuse(shapes, key, "shaping", lambda: tuple(
            (item.ft_object, item.glyph_index, item.x, item.y)
            for item in font._layout(s, flags=flags, features=features, language=language)))
        self._draw_text_glyphs_and_boxes(
            gc, x, y, angle, ((ft, size, glyph, 0, 1, dx, dy) for ft, glyph, dx, dy in items), [])

    def draw_glyphs(self, gc, x, y, angle, glyphs, boxes):
        # as RendererAgg._draw_text_glyphs_and_boxes (y is downwards), each glyph's bitmap rendered once
        cos = math.cos(math.radians(angle))
        sin = math.sin(math.radians(angle))
        load_flags = backend_agg.get_hinting_flag()
        antialiased = bool(gc.get_antialiased())
        mode = RenderMode.NORMAL if antialiased else RenderMode.MONO
        height = self.height
        top_row = int(height)
        draw_image = self._renderer.draw_text_image
        for font, size, glyph_index, slant, extend, dx, dy in glyphs:  # dy is upwards.
            mkey = (cos, sin, slant, extend)
            matrix = matrices.get(mkey)
            if matrix is None:
                m = (0x10000 * np.array([[cos, -sin], [sin, cos]])
                     @ [[extend, extend * slant], [0, 1]]).round().astype(int)
                matrix = matrices[mkey] = (m, tuple(m.ravel().tolist()))
            px = round(0x40 * (x + dx * cos - dy * sin))
            py = round(0x40 * (height - y + dx * sin + dy * cos))  # FreeType's y is upwards.
            key = (font, size, self.dpi, glyph_index, matrix[1], load_flags, antialiased, px & 63, py & 63)
            hit = bitmaps.get(key)
            if hit is None or checking[0]:
                font.set_size(size, self.dpi)
                font._set_transform(matrix[0], [px, py])
                bitmap = font._render_glyph(glyph_index, load_flags, mode)
                buffer = np.array(bitmap.buffer)
                if not antialiased:
                    buffer *= 0xff
                fresh = (buffer, bitmap.left - (px >> 6), bitmap.top - (py >> 6))
                if hit is not None and not (np.array_equal(hit[0], fresh[0])
                                            and (hit[1:] == fresh[1:] or not fresh[0].size)):
                    raise AssertionError(f"a reused glyph bitmap differs from FreeType's: {key}")
                if hit is None:
                    if len(bitmaps) >= _GLYPH_BITMAPS_KEPT:  # the older half goes (a dict keeps insertion order)
                        for old in list(itertools.islice(bitmaps, len(bitmaps) // 2)):
                            del bitmaps[old]
                    hit = bitmaps[key] = fresh
            buffer, left, top = hit
            # draw_text_image's y is downwards & the bitmap bottom side.
            draw_image(buffer, left + (px >> 6), top_row - (top + (py >> 6)) + buffer.shape[0], 0, gc)
        if boxes:
            real_glyphs(self, gc, x, y, angle, (), boxes)

    real_metrics = agg.get_text_width_height_descent
    metrics: dict = {}

    def get_text_width_height_descent(self, s, prop, ismath):
        # as RendererAgg's (an unrotated string's width, height and descent, px), each measured once
        if ismath is not False:
            return real_metrics(self, s, prop, ismath)
        font = self._prepare_font(prop)
        flags = backend_agg.get_hinting_flag()
        key = (font, prop.get_size_in_points(), self.dpi, s, flags)

        def measure():
            font.set_text(s, 0.0, flags=flags)
            w, h = font.get_width_height()  # width and height of unrotated string
            return (w / 64.0, h / 64.0, font.get_descent() / 64.0)  # (from subpixels)

        return reuse(metrics, key, "text measurement", measure)

    draw_text._svtools_shared = True
    draw_text._svtools_check = checking
    draw_text._svtools_real = real_text
    draw_text._svtools_caches = (shapes, bitmaps, metrics)
    draw_glyphs._svtools_real = real_glyphs
    get_text_width_height_descent._svtools_real = real_metrics
    agg.draw_text, agg._draw_text_glyphs_and_boxes = draw_text, draw_glyphs
    agg.get_text_width_height_descent = get_text_width_height_descent


def set_theme() -> None:
    """Apply the house seaborn/matplotlib theme: palette and text sizes from config, no chart junk."""
    import seaborn as sns

    _shared_text_layouts()
    _shared_text_paint()
    fig = figure_settings()
    pt = fig["font_pt"]
    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette=list(palette()["sequence"]),
        rc={
            "figure.figsize": (fig["width_in"], fig["height_in"]),
            "figure.dpi": fig["dpi"],
            "savefig.dpi": fig["raster_dpi"],
            "font.size": pt["base"],
            "axes.titlesize": pt["title"],
            "axes.labelsize": pt["label"],
            "xtick.labelsize": pt["tick"],
            "ytick.labelsize": pt["tick"],
            "legend.fontsize": pt["legend"],
            "legend.title_fontsize": pt["legend"],
            "figure.titlesize": pt["title"],
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlelocation": "left",
        },
    )


def new_figure(height_in: float | None = None):
    """A figure and axes of the house size (width fixed by config so every chart scales the same)."""
    import matplotlib.pyplot as plt

    fig = figure_settings()
    return plt.subplots(figsize=(fig["width_in"], height_in or fig["height_in"]), dpi=fig["dpi"],
                        layout="constrained")


def lay_out(fig) -> None:
    """Lay ``fig`` out and place every artist (constrained layout, tick labels, titles) without rasterising it.

    What every measurement of this module reads (text extents, axes positions): a full Agg draw gives the same
    positions and also paints every pixel, which the measurements never look at (about twice the cost). The PNG
    is painted once, by :func:`png_bytes`.

    Titles are pinned where matplotlib's automatic placing would leave them (:func:`_pin_titles`), which spares
    every layout pass and paint a measurement of the y axis that only serves that placing.
    """
    _ticks_once(fig)
    pinned = _pin_titles(fig)
    fig.draw_without_rendering()
    if pinned and _unpin_titles(fig, pinned):
        fig.draw_without_rendering()


def _pin_titles(fig) -> list:
    """Turn matplotlib's automatic title placing off on the axes of ``fig`` where it cannot move a title, and
    return those axes.

    The placing (``Axes._update_title_position``, run by every layout pass and every draw) moves a title up
    only above x tick labels or an x label at the top of the axes (or above the bottom ones, when the axes has
    no tick marks: never, on a chart), or above the y axis' offset text ("1e6");
    to know the latter it measures the whole y axis, for each axes, on every pass (about a fifth of a layout).
    An axes with its x tick labels and label at the bottom, no twins, children or aligned titles, and titles at
    their home position (y = 1 in axes coordinates: nothing moved them) is pinned there; :func:`lay_out`
    unpins any that shows an offset text after the draw, and draws again (the title then placed as before).
    """
    pinned = []
    for ax in fig.axes:
        if getattr(ax, "_autotitlepos", None) is False or getattr(ax, "_svtools_unpinned", False):
            continue  # pinned already (here or by the caller's own title position), or unpinned for good
        if (_top_tick_labels(ax.xaxis) or ax.xaxis.get_label_position() == "top" or ax.child_axes or len(ax._twinned_axes.get_siblings(ax)) > 1
                or len(fig._align_label_groups["title"].get_siblings(ax)) > 1):
            continue
        titles = (ax.title, ax._left_title, ax._right_title)
        if any(t.get_position()[1] != 1.0 for t in titles):
            continue
        ax._autotitlepos = False
        ax._svtools_pinned = True
        pinned.append(ax)
    return pinned


def _top_tick_labels(axis) -> bool:
    """Whether ``axis`` (an x axis) may draw tick labels at the top (the first major and minor ticks stand for
    all, as in matplotlib's ``Axis._get_ticks_position``; the house style draws no tick marks, which that calls
    "unknown")."""
    from matplotlib.ticker import NullLocator

    ticks = [axis.majorTicks[0]] if not isinstance(axis.get_major_locator(), NullLocator) else []
    ticks += [axis.minorTicks[0]] if not isinstance(axis.get_minor_locator(), NullLocator) else []
    return any(t.label2.get_visible() for t in ticks)


def _unpin_titles(fig, axes) -> bool:
    """Give the axes of ``axes`` whose y axis now shows an offset text their automatic title placing back;
    whether any did (the figure must be laid out again)."""
    unpinned = False
    for ax in axes:
        offset = ax.yaxis.offsetText
        if offset.get_visible() and offset.get_text():
            ax._autotitlepos = True
            del ax._svtools_pinned
            ax._svtools_unpinned = unpinned = True
    return unpinned


class _Reading:
    """Around reads that touch matplotlib's tick bookkeeping (``Axis._update_ticks``, ``get_xticklabels``): they
    put the ticks where the last layout had them and mark the figure stale though nothing moved, so a figure
    that was laid out before the read is marked current again after it (:func:`_paint` reuses that layout)."""

    def __init__(self, fig):
        self.fig = fig

    def __enter__(self):
        self.current = not self.fig.stale
        return self

    def __exit__(self, *exc):
        if self.current:
            self.fig.stale = False
        return False


#: Whether :func:`_ticks_once` is in force (a test's switch: off, every reader updates the ticks, as matplotlib).
_TICKS_ONCE = True


def _ticks_once(fig) -> None:
    """Make each axis of ``fig`` update its ticks (``Axis._update_ticks``: the locator's positions, the
    formatter's labels, every tick moved and re-labelled, and new ticks made when more are needed) once for each
    place its axes stands in, not once for every reader. Installed for the figure's life (on each axis: from
    the first layout, measurement or paint on).

    A layout pass measures each axis through ``Axes.get_tightbbox``, which updates its ticks for the axis
    itself, again to place the axis label (``_get_tick_boxes_siblings``) and again for the spine's extent
    (``Spine.get_window_extent``); a draw updates them twice more; the constrained layout makes two passes,
    then the figure is drawn, and :func:`layout_left` and :func:`_axes_height_to_come` measure the axes before
    any of it: ~10 updates an axis a chart, most of them where the one before left the ticks. An update's
    result depends only on what the key below holds (the axes' box in display px, which changes with the
    layout and the dpi, the view limits, the locator and formatter objects and which tick groups are shown).
    So an update with the key of the last real one returns the ticks that one gave, which are where it left
    them (nothing else moves or re-labels a tick), unless a tick label's text was changed since (checked): the
    same positions, labels and extents, the same layout and pixels (tests/test_figures_layout.py compares every
    chart kind's PNG with matplotlib's own updates). Any other key updates the ticks afresh."""
    if not _TICKS_ONCE:
        return
    for ax in fig.axes:
        for axis in ax._axis_map.values():
            if "_update_ticks" not in vars(axis):
                axis._update_ticks = _ticks_memo(axis)


def _ticks_memo(axis):
    """``axis._update_ticks`` that repeats the last real update when nothing it reads has changed."""
    real = type(axis)._update_ticks.__get__(axis)
    last = [None, None, None]  # the key, the ticks, their label texts

    def _update_ticks():
        major, minor = axis.major, axis.minor
        key = (tuple(axis.axes.bbox.bounds), tuple(axis.get_view_interval()), major.locator, major.formatter,
               minor.locator, minor.formatter, repr(axis._major_tick_kw), repr(axis._minor_tick_kw),
               axis.get_scale())
        ticks = last[1]
        if (ticks is None or last[0] != key
                or last[2] != [(t.label1.get_text(), t.label2.get_text()) for t in ticks]):
            ticks = real()
            last[:] = key, ticks, [(t.label1.get_text(), t.label2.get_text()) for t in ticks]
        return list(ticks)

    return _update_ticks


def _drawn_texts(fig, draw: bool = True):
    """Every text artist of ``fig`` that is drawn: visible, not empty, inside the figure (after a layout, unless
    ``draw`` is False because the figure was just laid out)."""
    from matplotlib.text import Text

    if draw:
        lay_out(fig)
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    undrawn = set()  # tick labels of ticks outside the view, which matplotlib keeps but never draws
    with _Reading(fig):
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                drawn = {id(t) for t in axis._update_ticks()}
                for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                    if id(tick) not in drawn:
                        undrawn.update({id(tick.label1), id(tick.label2)})
    found = []
    with _Reading(fig):  # an annotation's extent updates its arrow and box (stale), which every draw redoes
        for t in fig.findobj(Text):
            if id(t) in undrawn or not t.get_visible() or not t.get_text().strip() or t.get_alpha() == 0:
                continue
            ext = t.get_window_extent(renderer)
            if ext.width <= 0 or ext.x1 < box.x0 or ext.x0 > box.x1 or ext.y1 < box.y0 or ext.y0 > box.y1:
                continue  # e.g. tick labels of ticks outside the view, which are never drawn
            found.append(t)
    return found


def text_sizes(fig, column_px: float | None = None) -> list[tuple[str, float]]:
    """The size in CSS px of every drawn text of ``fig`` when the chart is shown in a column ``column_px`` wide.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    column_px : float, optional
        Width of the page column (default ``figures.column_px``, a 390 px phone).

    Returns
    -------
    list of (str, float)
        ``(text, css_px)``, smallest first: ``font_pt / 72 * 96 * scale``, with ``scale`` from
        :func:`column_scale`.
    """
    scale = column_scale(float(fig.get_size_inches()[0]), column_px)
    sizes = [(t.get_text(), t.get_fontsize() / 72 * CSS_PX_PER_IN * scale) for t in _drawn_texts(fig)]
    return sorted(sizes, key=lambda s: s[1])


def enforce_min_text(fig, draw: bool = True) -> list[str]:
    """Raise every drawn text of ``fig`` smaller than ``figures.min_text_px`` (at ``column_px``) to that size.

    A safety net for text a caller adds after a chart is built; the charts themselves use sizes from config
    that meet the rule. Returns the texts that were enlarged.
    """
    from matplotlib.text import Text

    fig_settings = figure_settings()
    scale = column_scale(float(fig.get_size_inches()[0]))
    floor = fig_settings["min_text_px"] / (CSS_PX_PER_IN / 72 * scale)
    if draw:
        lay_out(fig)
    if all(t.get_fontsize() >= floor - 1e-9 for t in fig.findobj(Text)):
        return []  # no text is small (drawn or not): nothing to measure (the charts' own sizes meet the rule)
    raised = []
    for t in _drawn_texts(fig, draw=False):
        if t.get_fontsize() < floor - 1e-9:
            t.set_fontsize(floor)
            raised.append(t.get_text())
    return raised


def _touching(fig, ax, draw: bool = True) -> bool:
    if draw:
        lay_out(fig)
    renderer = fig.canvas.get_renderer()
    with _Reading(fig):
        labels = ax.get_xticklabels()
    boxes = sorted((t.get_window_extent(renderer) for t in labels
                    if t.get_visible() and t.get_text().strip()), key=lambda b: b.x0)
    boxes = [b for b in boxes if b.x1 >= fig.bbox.x0 and b.x0 <= fig.bbox.x1]
    return any(a.x1 + 2 > b.x0 for a, b in zip(boxes, boxes[1:]))


def split_tick_label(text: str) -> str:
    """``text`` broken onto two lines at its first space or hyphen ("00-03" becomes "00-" over "03"), as
    :func:`declutter_ticks` breaks x tick labels that touch; a label on two lines already is left as it is."""
    import re

    if "\n" in text:
        return text
    return re.sub(r"^(.+?[- ])(?=\S)", lambda m: m.group(1).rstrip() + "\n", text, count=1)


def tick_labels_touch(ax, labels, width: float | None = None) -> bool:
    """Whether x tick ``labels`` one a column, centred on columns of equal width across ``ax``, would touch
    (closer than 2 px, :func:`declutter_ticks`' test) on an axes ``width`` display px wide (default: as wide as
    ``ax`` stands now). A label's width does not depend on the layout, so this needs none: before the first
    layout an axes usually stands wider than the layout leaves it, so labels that touch here touch on it too."""
    from matplotlib.text import Text

    if len(labels) < 2:
        return False
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    width = ax.get_window_extent(renderer).width if width is None else width
    probe = Text()
    probe.update_from(ax.xaxis.get_major_ticks()[0].label1)
    probe.set_figure(fig)
    widest = 0.0
    for text in labels:
        probe.set_text(text)
        widest = max(widest, probe.get_window_extent(renderer).width)
    return widest + 2 > width / len(labels)


def declutter_ticks(fig, draw: bool = True) -> int:
    """Make x tick labels that touch readable (e.g. category labels a caller set after the chart was built):
    first break each label onto two lines at its first space or hyphen ("00-03" becomes "00-" over "03"), and
    if they still touch, turn them 45 degrees. Returns how many axes were changed."""
    changed = 0
    for k, ax in enumerate(fig.axes):
        if not _touching(fig, ax, draw=draw and k == 0):
            continue
        changed += 1
        ticks = ax.get_xticks()
        texts = [t.get_text() for t in ax.get_xticklabels()]
        split = [split_tick_label(t) for t in texts]
        if split != texts:
            ax.set_xticks(ticks, split)
            if not _touching(fig, ax):
                continue
            ax.set_xticks(ticks, texts)
        for t in ax.get_xticklabels():
            t.set_rotation(45)
            t.set_horizontalalignment("right")
            t.set_rotation_mode("anchor")
        ax.stale = True  # (a tick label's change reaches no figure: the layout must be made again)
    return changed


def fit_title(ax, draw: bool = True, left: float | None = None) -> bool:
    """Wrap the left title of ``ax`` so that every line fits between the left of the axes and the right edge
    of the figure (measured on the layout of a new :func:`lay_out`, or of the last one when ``draw`` is False;
    ``left``, display px, stands for the left of the axes when given: where a layout to come will put it).

    Each wrapping is measured on a copy of the title, so a title that already fits is left as it is (the
    figure's layout stays current; so it does when the new wrapping has as many lines, see
    :func:`_same_title_layout`). A title this function wrapped is re-wrapped from its words as they were (a
    line broken after a hyphen, "Stockton-on-" over "Tees", joins up again as "Stockton-on-Tees"). Returns True
    when the title was re-wrapped.
    """
    import textwrap

    from matplotlib.text import Text

    fig = ax.figure
    current = ax.get_title(loc="left")
    wrapped, source = getattr(ax, "_svtools_title", (None, None))
    title = source if current == wrapped else " ".join(current.split())
    if not title:
        return False
    if draw:
        lay_out(fig)
    renderer = fig.canvas.get_renderer()
    room = fig.bbox.x1 - (ax.get_window_extent(renderer).x0 if left is None else left) - 6
    probe = Text()
    probe.update_from(getattr(ax, "_left_title", None) or ax.set_title(current, loc="left"))
    probe.set_figure(fig)
    chars, last = len(title), None
    while True:
        text = "\n".join(textwrap.wrap(title, chars))
        if text != last:  # (narrower widths often give the same lines: measured once)
            probe.set_text(text)
            width, last = probe.get_window_extent(renderer).width, text
        if chars <= 12 or width <= room:
            break
        chars -= 2
    ax._svtools_title = (text, title)
    if text == current:
        return False
    laid_out = not fig.stale
    title = getattr(ax, "_left_title", None)
    before = title.get_window_extent(renderer) if laid_out and title is not None else None
    ax.set_title(text, loc="left")
    if before is not None and _same_title_layout(ax, before, renderer):
        fig.stale = False  # the same lines at other break points: the layout made before still holds
    return True


def layout_left(ax) -> float:
    """Where the constrained layout will put the left edge of ``ax`` (display px), guessed without laying the
    figure out: the layout's pad from the figure's edge, then the y axis' tick labels and label as they stand
    (the pre-layout ticks: usually the labels of the layout's). Used for the first wrapping of a chart's title
    (:func:`fit_title` ``left``): a good guess saves the layout that re-wrapping the title on the real one would
    cost (:func:`prepare` fits it there, whatever the guess was). An axes that is not in the first column of
    its grid is where it stands."""
    fig = ax.figure
    _ticks_once(fig)
    renderer = fig.canvas.get_renderer()
    x0 = ax.get_window_extent(renderer).x0
    spec = ax.get_subplotspec()
    engine = fig.get_layout_engine()
    if spec is None or spec.colspan.start != 0 or engine is None or "w_pad" not in engine.get():
        return x0
    deco = ax.yaxis.get_tightbbox(renderer) if ax.axison and ax.yaxis.get_visible() else None
    width = x0 - deco.x0 if deco is not None and deco.x0 < x0 else 0.0
    return fig.bbox.x0 + engine.get()["w_pad"] * fig.dpi + width


def _same_title_layout(ax, before, renderer) -> bool:
    """Whether the left title of ``ax``, re-wrapped since the last layout (where its extent was ``before``),
    leaves that layout as it was, so that the figure need not be laid out again.

    What the constrained layout and the title's placing read of a title is its vertical extent and a 1 px box
    at the middle of its width (``Axes.get_tightbbox(for_layout_only=True)``; its overlap with the y axis'
    offset text, when that is shown). So the layout holds when the title's extent has the same bottom and top
    and the middle of its width stays over the axes (where the axes' own box already covers it), before and
    after, and no offset text is shown.
    """
    after = ax._left_title.get_window_extent(renderer)
    frame = ax.get_window_extent(renderer)
    offset = ax.yaxis.offsetText
    if offset.get_visible() and offset.get_text():
        return False

    def over_axes(ext):
        middle = (ext.x0 + ext.x1) / 2
        return ext.width > 0 and frame.x0 <= middle - 0.5 and middle + 0.5 <= frame.x1

    return before.y0 == after.y0 and before.y1 == after.y1 and over_axes(before) and over_axes(after)


def fit_axis_labels(fig, draw: bool = True, relayout: bool = True) -> int:
    """Wrap an axis label line that is longer than its axis (a long y label on a short chart is otherwise cut
    off at the figure's edge) onto as few lines as fit; lines the caller broke stay broken. Returns how many
    labels were wrapped; when some were, the figure is laid out again (unless ``relayout`` is False: the
    caller will)."""
    if draw:
        lay_out(fig)
    renderer = fig.canvas.get_renderer()
    changed = 0
    for ax in fig.axes:
        for axis, along in ((ax.yaxis, "height"), (ax.xaxis, "width")):
            # a y label may be as tall as its axes; an x label, centred under its axes, as wide as the figure
            # leaves it room on its narrower side, twice over (a label's size does not depend on the layout, so
            # no new draw is needed to measure a wrapped one)
            frame = ax.get_window_extent(renderer)
            middle = (frame.x0 + frame.x1) / 2
            room = frame.height + 2 if along == "height" else 2 * min(middle - fig.bbox.x0, fig.bbox.x1 - middle) - 4
            changed += _wrap_label(axis.get_label(), along, room, renderer) > 1
    if changed and relayout:
        lay_out(fig)  # the new layout, for what is measured next
    return changed


def _wrap_label(label, along: str, room: float, renderer, margin: float = 0.0) -> int:
    """Wrap the lines of an axis ``label`` (as :func:`fit_axis_labels` does) onto the fewest lines, up to 3,
    whose ``along`` extent (``"height"`` or ``"width"``) is no more than ``room``; returns how many (0: an empty
    label). With a ``margin``, a wrapping whose extent is within ``margin`` px of ``room`` either way (the
    first that fits, or the last that did not) counts as unsure: the label is left as it was and -1 returned."""
    import math
    import textwrap

    original = label.get_text()
    if not original.strip():
        return 0
    for lines in range(1, 4):
        if lines > 1:
            label.set_text("\n".join("\n".join(textwrap.wrap(part, math.ceil(len(part) / lines) + 2)) or part
                                     for part in original.split("\n")))
        size = getattr(label.get_window_extent(renderer), along)
        if margin and abs(size - room) < margin:
            label.set_text(original)
            return -1
        if size <= room:
            break
    return lines


def _axes_height_to_come(fig) -> float | None:
    """The height (display px) the constrained layout will give the only axes of ``fig``, read before any
    layout from what it stacks above and below the axes: the x axis' tick labels and label and the title
    (their extents from where the axes stands now: they do not depend on its size), the figure's legends
    outside the axes, and the layout's pads (one at each edge of the figure and two around the legends).
    None when ``fig`` is not one axes under a constrained layout with no figure-level titles."""
    engine = fig.get_layout_engine()
    if (len(fig.axes) != 1 or engine is None or "h_pad" not in engine.get() or fig._suptitle is not None
            or fig._supxlabel is not None or fig._supylabel is not None):
        return None
    ax = fig.axes[0]
    _ticks_once(fig)
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    xaxis = ax.xaxis.get_tightbbox(renderer) if ax.axison and ax.xaxis.get_visible() else None
    below = frame.y0 - xaxis.y0 if xaxis is not None and xaxis.y0 < frame.y0 else 0.0
    top = max([frame.y1] + [t.get_window_extent(renderer).y1 for t in (ax.title, ax._left_title, ax._right_title)
                            if t.get_visible() and t.get_text()])
    legends = [legend.get_window_extent(renderer).height for legend in fig.legends]
    pad = engine.get()["h_pad"] * fig.dpi
    return fig.bbox.height - below - (top - frame.y1) - sum(legends) - pad * (2 + 2 * len(legends))


def _wrap_labels_before_layout(fig) -> int:
    """Wrap the axis labels of ``fig`` that :func:`fit_axis_labels` would wrap on its first layout, before
    that layout, so that it is the last (one layout a chart, not two): an x label against the figure's width
    (the same room after any layout), a y label against :func:`_axes_height_to_come`. A y label within 3 px of
    fitting is left to :func:`fit_axis_labels`, on the real layout. Returns how many labels were wrapped; the
    titles are then fitted to where the wider label will put the axes (:func:`layout_left`), as
    :func:`prepare` does after a wrapped label."""
    height = _axes_height_to_come(fig)
    if height is None:
        return 0
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    wrapped = (_wrap_label(ax.yaxis.get_label(), "height", height + 2, renderer, margin=3.0) > 1) + (
        _wrap_label(ax.xaxis.get_label(), "width", fig.bbox.width - 4, renderer) > 1)
    if wrapped:
        fit_title(ax, draw=False, left=layout_left(ax))
    return wrapped


def legends_into_layout(fig) -> int:
    """Move a legend a caller anchored under its axes by hand (``bbox_to_anchor`` below 0, which collides
    with tick and axis labels once they wrap) to the figure's layout, centred under everything. Returns how
    many were moved."""
    moved = 0
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        anchor = legend.get_bbox_to_anchor().transformed(ax.transAxes.inverted())
        if anchor.y1 >= 0:
            continue
        handles, labels = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
        legend.remove()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(2, len(handles)), frameon=False)
        moved += 1
    return moved


def prepare(fig) -> dict:
    """The safety net :func:`show` applies before saving, for text a caller added after a chart was built:
    text below the minimum is enlarged (:func:`enforce_min_text`), x tick labels that touch are turned
    (:func:`declutter_ticks`), an axis label longer than its axis is wrapped (:func:`fit_axis_labels`) and titles
    are re-wrapped to the final layout (:func:`fit_title`); a legend anchored under the axes by hand goes into
    the layout first (:func:`legends_into_layout`).

    Every check measures the same layout (:func:`lay_out`, no pixels painted); the figure is laid out again only
    when a check changed something that moves the layout (a title re-wrapped onto as many lines moves nothing:
    :func:`fit_title`). A chart's own title fitting needs no layout of its own (``fit_title(ax, draw=False)``):
    the titles are fitted here, on the first layout, before the axis labels (whose room depends on the title's
    lines); when an axis label was wrapped, again to where the wider label will put the axes
    (:func:`layout_left`) before the one new layout; and once more at the end, on it.

    Returns
    -------
    dict
        ``raised`` (texts enlarged), ``turned``, ``wrapped`` and ``moved`` (counts).
    """
    _ticks_once(fig)
    moved = legends_into_layout(fig)
    early = 0
    if fig.stale:
        early = _wrap_labels_before_layout(fig)
        lay_out(fig)
    raised = enforce_min_text(fig, draw=False)
    if raised:
        lay_out(fig)
    turned = declutter_ticks(fig, draw=False)
    for ax in fig.axes:
        fit_title(ax, draw=False)
    wrapped = fit_axis_labels(fig, draw=fig.stale, relayout=False)  # a new layout only when a change moved it
    if wrapped:  # a y label on more lines moves the axes right: the titles are wrapped to where, then laid out
        for ax in fig.axes:
            fit_title(ax, draw=False, left=layout_left(ax))
        lay_out(fig)
    for ax in fig.axes:
        fit_title(ax, draw=False)  # the layout may have moved the axes since the titles were fitted
    return {"raised": raised, "turned": turned, "wrapped": early + wrapped, "moved": moved}


def _paint(fig, dpi: float):
    """The pixels of ``fig`` at ``dpi``, an ``(height, width, 4)`` uint8 RGBA array, painted once.

    A figure with a layout engine is laid out here (unless its last layout is still current: nothing changed
    since, ``fig.stale`` False) and painted with that layout fixed: ``savefig`` would otherwise run a
    layout-only pass of its own (the constrained layout and the placing of every artist) before painting.
    Positions are fractions of the figure and pads are in inches, so a layout made at the layout dpi holds at
    ``dpi``. The figure keeps its layout engine afterwards.
    """
    import matplotlib as mpl
    import numpy as np

    engine = fig.get_layout_engine()
    if engine is not None:
        if fig.stale:
            lay_out(fig)
        with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
            fig.set_layout_engine(None)
    buf = io.BytesIO()
    try:
        _ticks_once(fig)
        with _Reading(fig):  # savefig's dpi round trip marks the figure stale; nothing moved
            fig.savefig(buf, format="rgba", dpi=dpi)
    finally:
        if engine is not None:
            fig.set_layout_engine(engine)
    raw = buf.getvalue()
    width, height = int(fig.get_figwidth() * dpi), int(fig.get_figheight() * dpi)
    if len(raw) != width * height * 4:
        raise RuntimeError(f"savefig gave {len(raw)} bytes of RGBA, not {width} x {height} x 4")
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 4)


_SLOTS: list = []


def _slot_table():
    """One 16 MB table of a palette slot for each 24-bit colour, reused by every :func:`palette_image` (a new
    zeroed one a chart cost ~2.5 ms); it holds the last image's slots, and each image sets those of its own
    colours, the only ones it looks up."""
    import numpy as np

    if not _SLOTS:
        _SLOTS.append(np.zeros(1 << 24, dtype=np.uint8))
    return _SLOTS[0]


def palette_image(rgba, colours: int):
    """An RGB(A) pixel array as a palette (``P``) image of at most ``colours`` colours, without dithering.

    Exact when the image has no more than ``colours`` distinct colours (a chart drawn from a small palette
    usually has 200-400, anti-aliasing included): each pixel keeps its colour, and no quantiser runs. Otherwise
    PIL's maximum coverage quantiser (an adaptive palette; a colour bar's gradient stays smooth): on the demo
    page's three charts of more colours (SPC, funnel, heatmap: 334-795) every pixel within 1-3 of its colour on
    each channel, where median cut left some 12-61 off, in half its time (~20 ms a chart, not ~40; the same
    PNG sizes). Alpha is dropped, as
    :meth:`PIL.Image.Image.convert` ``("RGB")`` does. The exact palette is ordered by frequency (ties by colour
    value), so the same pixels give the same image.

    Parameters
    ----------
    rgba : numpy.ndarray
        ``(height, width, 3 or 4)`` uint8.
    colours : int
        Palette size, 1 to 256.

    Returns
    -------
    PIL.Image.Image
        Mode ``P``.
    """
    import numpy as np
    from PIL import Image

    if not 1 <= int(colours) <= 256:
        raise ValueError(f"figures.png_colours must be 0 (full colour) or 1 to 256, not {colours}")
    height, width = rgba.shape[:2]
    if rgba.shape[2] == 4 and rgba.flags.c_contiguous:  # each pixel's 4 bytes as one number, alpha masked off
        key = rgba.view("<u4").reshape(-1) & np.uint32(0xFFFFFF)
    else:
        wide = rgba[..., :3].astype(np.uint32)
        key = (wide[..., 0] | (wide[..., 1] << 8) | (wide[..., 2] << 16)).reshape(-1)
    values, counts = np.unique(key, return_counts=True)  # (no inverse: a sort's argsort, ~10x the cost)
    if len(values) > int(colours):
        image = Image.fromarray(np.ascontiguousarray(rgba[..., :3]), "RGB")
        return image.quantize(colors=int(colours), method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
    order = np.lexsort((values, -counts))  # most frequent first, ties by colour value
    slot = _slot_table()  # the palette slot of each colour (24 bits), looked up per pixel
    slot[values[order]] = np.arange(len(values))  # (only the image's colours are looked up: other slots unread)
    image = Image.frombytes("P", (width, height), np.take(slot, key).tobytes())
    pal = values[order]
    image.putpalette(np.stack([pal & 255, (pal >> 8) & 255, (pal >> 16) & 255], axis=1).astype(np.uint8).tobytes())
    return image


def png_bytes(fig) -> bytes:
    """``fig`` as PNG bytes at ``figures.raster_dpi``, reduced to ``figures.png_colours`` colours
    (:func:`palette_image`: exact when the chart has no more colours, else maximum coverage; no dithering, and the
    page stays small). Painted once (:func:`_paint`). The same figure gives the same bytes (no timestamp or software
    version in the file; zlib at its default level: ``optimize`` shaved ~6 % off a file for ~10x the encoding
    time)."""
    from PIL import Image

    settings = figure_settings()
    rgba = _paint(fig, settings["raster_dpi"])
    colours = settings["png_colours"]
    image = palette_image(rgba, colours) if colours else Image.fromarray(rgba[..., :3])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def css_size(fig) -> tuple[int, int]:
    """The CSS size of ``fig`` in px, ``(width, height)``: inches x 96, whatever the PNG's resolution."""
    width_in, height_in = fig.get_size_inches()
    return int(round(width_in * CSS_PX_PER_IN)), int(round(height_in * CSS_PX_PER_IN))


def show(fig, alt: str) -> None:
    """Display ``fig`` as a PNG with ``alt`` as its alternative text, then close it.

    The image's ``width`` and ``height`` are its CSS size (:func:`css_size`), not the PNG's pixel size (which is
    ``raster_dpi / 96`` times larger, for sharp text). The figure is checked first (:func:`prepare`).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The chart. It is closed afterwards (memory in long batch runs).
    alt : str
        What the chart shows, in words, with its key numbers (see :func:`describe_series`). Required.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    try:
        if not isinstance(alt, str) or len(alt.strip()) < 10:
            raise ValueError("show() needs alt text describing the chart (at least a short sentence)")
        prepare(fig)
        png = png_bytes(fig)
        width, height = css_size(fig)
    finally:
        plt.close(fig)
    data = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": alt.strip()}
    meta = {"image/png": {"alt": alt.strip(), "width": width, "height": height}}
    display(data, raw=True, metadata=meta)
