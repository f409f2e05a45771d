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


def set_theme() -> None:
    """Apply the house seaborn/matplotlib theme: palette and text sizes from config, no chart junk."""
    import seaborn as sns

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


def _drawn_texts(fig, draw: bool = True):
    """Every text artist of ``fig`` that is drawn: visible, not empty, inside the figure (after a draw, unless
    ``draw`` is False because the figure was just drawn)."""
    from matplotlib.text import Text

    if draw:
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    undrawn = set()  # tick labels of ticks outside the view, which matplotlib keeps but never draws
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            drawn = {id(t) for t in axis._update_ticks()}
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if id(tick) not in drawn:
                    undrawn.update({id(tick.label1), id(tick.label2)})
    found = []
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
    fig_settings = figure_settings()
    scale = column_scale(float(fig.get_size_inches()[0]))
    floor = fig_settings["min_text_px"] / (CSS_PX_PER_IN / 72 * scale)
    raised = []
    for t in _drawn_texts(fig, draw):
        if t.get_fontsize() < floor - 1e-9:
            t.set_fontsize(floor)
            raised.append(t.get_text())
    return raised


def _touching(fig, ax, draw: bool = True) -> bool:
    if draw:
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = sorted((t.get_window_extent(renderer) for t in ax.get_xticklabels()
                    if t.get_visible() and t.get_text().strip()), key=lambda b: b.x0)
    boxes = [b for b in boxes if b.x1 >= fig.bbox.x0 and b.x0 <= fig.bbox.x1]
    return any(a.x1 + 2 > b.x0 for a, b in zip(boxes, boxes[1:]))


def declutter_ticks(fig, draw: bool = True) -> int:
    """Make x tick labels that touch readable (e.g. category labels a caller set after the chart was built):
    first break each label onto two lines at its first space or hyphen ("00-03" becomes "00-" over "03"), and
    if they still touch, turn them 45 degrees. Returns how many axes were changed."""
    import re

    changed = 0
    for k, ax in enumerate(fig.axes):
        if not _touching(fig, ax, draw=draw and k == 0):
            continue
        changed += 1
        ticks = ax.get_xticks()
        texts = [t.get_text() for t in ax.get_xticklabels()]
        split = [t if "\n" in t else re.sub(r"^(.+?[- ])(?=\S)", lambda m: m.group(1).rstrip() + "\n", t, count=1)
                 for t in texts]
        if split != texts:
            ax.set_xticks(ticks, split)
            if not _touching(fig, ax):
                continue
            ax.set_xticks(ticks, texts)
        for t in ax.get_xticklabels():
            t.set_rotation(45)
            t.set_horizontalalignment("right")
            t.set_rotation_mode("anchor")
    return changed


def fit_title(ax, draw: bool = True) -> None:
    """Wrap the left title of ``ax`` so that every line fits between the left of the axes and the right edge
    of the figure (measured on the layout of a new draw, or of the last one when ``draw`` is False)."""
    import textwrap

    fig = ax.figure
    title = " ".join(ax.get_title(loc="left").split())
    if not title:
        return
    if draw:
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    room = fig.bbox.x1 - ax.get_window_extent(renderer).x0 - 6
    chars = len(title)
    while True:
        text = ax.set_title("\n".join(textwrap.wrap(title, chars)), loc="left")
        if chars <= 12 or text.get_window_extent(renderer).width <= room:
            break
        chars -= 2


def fit_axis_labels(fig, draw: bool = True) -> int:
    """Wrap an axis label line that is longer than its axis (a long y label on a short chart is otherwise cut
    off at the figure's edge) onto as few lines as fit; lines the caller broke stay broken. Returns how many
    labels were wrapped."""
    import math
    import textwrap

    if draw:
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    changed = 0
    for ax in fig.axes:
        for axis, along in ((ax.yaxis, "height"), (ax.xaxis, "width")):
            # a y label may be as tall as its axes; an x label as wide as the figure (a label's size does not
            # depend on the layout, so no new draw is needed to measure a wrapped one)
            label = axis.get_label()
            original = label.get_text()
            if not original.strip():
                continue
            for lines in range(1, 4):
                if lines > 1:
                    label.set_text("\n".join(
                        "\n".join(textwrap.wrap(part, math.ceil(len(part) / lines) + 2)) or part
                        for part in original.split("\n")))
                size = getattr(label.get_window_extent(renderer), along)
                room = ax.get_window_extent(renderer).height + 2 if along == "height" else fig.bbox.width - 4
                if size <= room:
                    break
            changed += lines > 1
    if changed:
        fig.canvas.draw()  # the new layout, for what is measured next
    return changed


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

    Returns
    -------
    dict
        ``raised`` (texts enlarged), ``turned``, ``wrapped`` and ``moved`` (counts).
    """
    moved = legends_into_layout(fig)
    raised = enforce_min_text(fig)
    if raised:
        fig.canvas.draw()
    turned = declutter_ticks(fig, draw=False)
    wrapped = fit_axis_labels(fig, draw=bool(turned))
    for ax in fig.axes:
        fit_title(ax, draw=False)  # the layout may have moved the axes since the chart wrapped its title
    return {"raised": raised, "turned": turned, "wrapped": wrapped, "moved": moved}


def png_bytes(fig) -> bytes:
    """``fig`` as PNG bytes at ``figures.raster_dpi``, reduced to ``figures.png_colours`` colours (an adaptive
    palette, no dithering: a chart has few colours, and the page stays small). The same figure gives the same
    bytes (no timestamp or software version in the file)."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=figure_settings()["raster_dpi"], metadata={"Software": None})
    colours = figure_settings()["png_colours"]
    if not colours:
        return buf.getvalue()
    buf.seek(0)
    with Image.open(buf) as image:
        rgb = image.convert("RGB")
    small = rgb.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
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
