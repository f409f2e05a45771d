"""Smallest chart text in CSS px on a phone, for every chart of a few demo pages (issue 10 item 3).

Runs the code cells of the CSP profile, trend, young-victims, force overview and data-quality notebooks in this process (as the batch build
does, minus papermill), catches every chart at :func:`svtools.publish.output.show` and prints, per chart, the
smallest drawn text in CSS px once the image is scaled to the page column of a 390 px phone (358 px) and at
1280 px (where it shows at its CSS width), which texts the show() safety net had to enlarge, the PNG's size, and
whether any two point labels of a funnel plot overlap each other or a marker. With ``--png DIR`` it also writes
each chart's PNG there, to look at.

    .venv/bin/python benchmarks/chart_text.py [--csp E22000027] [--force E23000013] [--png /tmp/charts]

Needs the demo data (``make demo`` or ``svtools ingest``). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


def _code_cells(notebook: str, params: dict) -> list[str]:
    nb = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        if "parameters" in (cell.get("metadata", {}).get("tags") or []):
            cells.append("\n".join(f"{k} = {v!r}" for k, v in params.items()))
            continue
        cells.append("".join(cell["source"]))
    return cells


def _label_clashes(fig) -> int:
    """Pairs of overlapping boxes among a chart's point labels (annotations) and its scatter markers (printed)."""
    from matplotlib.text import Text

    from svtools.publish.charts.common import _marker_boxes, _overlaps

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    clashes = 0
    for ax in fig.axes:
        # the text's own box (an Annotation's extent includes its leader line, which does reach its point)
        labels = [Text.get_window_extent(a, renderer) for a in ax.texts if type(a).__name__ == "Annotation"]
        boxes = [(b.x0, b.y0, b.x1, b.y1) for b in labels]
        markers = _marker_boxes(ax, pad=0)
        names = [a.get_text() for a in ax.texts if type(a).__name__ == "Annotation"]
        for k, a in enumerate(boxes):
            hits = sum(_overlaps(a, b) for b in boxes[k + 1:]) + sum(_overlaps(a, m) for m in markers)
            if hits:
                print(f"label {names[k]!r} overlaps {hits} label(s) or marker(s)", file=sys.stderr)
            clashes += hits
    return clashes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csp", default="E22000027", help="CSP code (default Hartlepool)")
    parser.add_argument("--force", default="E23000013", help="police force area code (default Cleveland)")
    parser.add_argument("--dataset", default="demo")
    parser.add_argument("--png", type=Path, help="write each chart's PNG to this folder")
    args = parser.parse_args(argv)

    os.environ.setdefault("SVTOOLS_PAGE_DIR", tempfile.mkdtemp(prefix="chart_text_"))
    from svtools.publish import figures, output

    settings = figures.figure_settings()
    rows = []
    page = {"name": ""}
    real_show = output.show

    def measuring_show(fig, alt):
        before = figures.text_sizes(fig)
        raised = figures.prepare(fig)["raised"]  # what show() does before saving
        phone = figures.text_sizes(fig)
        wide = figures.text_sizes(fig, column_px=704)
        title = fig.axes[0].get_title(loc="left").replace("\n", " ") if fig.axes else ""
        png = figures.png_bytes(fig)
        clashes = _label_clashes(fig)
        k = len(rows) + 1
        if args.png:
            args.png.mkdir(parents=True, exist_ok=True)
            (args.png / f"{k:02d}_{page['name']}.png").write_bytes(png)
        rows.append((k, page["name"], title[:58], before[0][1] if before else float("nan"),
                     phone[0][1] if phone else float("nan"), wide[0][1] if wide else float("nan"),
                     phone[0][0][:18] if phone else "", len(raised), len(png) // 1024, clashes))
        real_show(fig, alt)

    output.show = measuring_show
    base = {"dataset": args.dataset, "definition": "knife_serious_violence", "period_end": "2025-03-31"}
    pages = [("csp_profile", {"csp_code": args.csp, **base}), ("trend_seasonality", {"csp_code": args.csp, **base}),
             ("cohort_under25", {"csp_code": args.csp, **base}),
             ("force_overview", {"pfa_code": args.force, **base}), ("data_quality", {"pfa_code": args.force, **base})]
    import io
    from contextlib import redirect_stdout

    for name, params in pages:
        page["name"] = name
        scope: dict = {}
        for code in _code_cells(name, params):
            with redirect_stdout(io.StringIO()):
                exec(compile(code, f"<{name}>", "exec"), scope)
    print(f"figures: {settings['width_in']} in = {round(settings['width_in'] * 96)} CSS px wide, PNG at "
          f"{settings['raster_dpi']} dpi; rule: text >= {settings['min_text_px']} CSS px at a "
          f"{settings['column_px']:.0f} px column")
    print(f"{'#':>2} {'page':<17} {'title':<58} {'min px':>6} {'390px':>6} {'1280px':>6}  {'smallest text':<18} "
          f"{'raised':>6} {'KiB':>4} {'clash':>5}")
    for r in rows:
        print(f"{r[0]:>2} {r[1]:<17} {r[2]:<58} {r[3]:>6.1f} {r[4]:>6.1f} {r[5]:>6.1f}  {r[6]:<18} {r[7]:>6} "
              f"{r[8]:>4} {r[9]:>5}")
    worst = min(r[4] for r in rows)
    print(f"smallest text on any chart at 390 px: {worst:.1f} CSS px; label clashes: {sum(r[9] for r in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
