"""Benchmark: one CSP profile built in a warm process, section by section, and what its charts cost.

The batch build runs every page in a warm kernel, so this times what a page costs once start-up is paid: a first
page (warm-up: imports, fonts, caches) and then ``--pages`` more, each section's seconds (median over the pages),
and per page the charts shown, constrained-layout passes, full paints (a renderer that draws pixels), calls
to ``population.residents`` and the CPU seconds of its charts (built and shown). With ``--profile`` it also
prints the top of a cProfile of the last page.

    .venv/bin/python benchmarks/bench_page.py [--csp E22000029[,E22000030,...]] [--warmup E22000027] [--pages 3]
                                              [--profile]

The same page built again reuses every text, shaping and glyph cache of the first
(``figures._shared_text_layouts``, ``_shared_text_paint``), which a batch of different CSPs does not: to time
what a national run's pages cost, give several CSPs (``--csp E22000029,E22000030,E22000034,E22000072``); the
pages go through them in turn.

Needs the demo data (``make demo`` or ``svtools ingest``). Prints figures only; asserts nothing. On a shared
machine compare counts and shares, not absolute seconds, and repeat.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]

def notebook_sections(name: str = "csp_profile") -> tuple[str, ...]:
    """The ``sections.<name>(ctx)`` calls of a notebook, in page order (read from the notebook, so this
    benchmark times what the page shows)."""
    import json

    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    calls = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            calls += re.findall(r"^sections\.(\w+)\(ctx\)", "".join(cell["source"]), flags=re.M)
    return tuple(calls)


SECTIONS = notebook_sections()


class Counts:
    """Counts charts shown, layout passes, paints and residents() calls while installed, and the CPU seconds
    spent building charts (the functions of :mod:`svtools.publish.charts`) and showing them (``figures.show``:
    the checks, the paint and the PNG)."""

    def __init__(self):
        from matplotlib.figure import Figure
        from matplotlib.layout_engine import ConstrainedLayoutEngine

        from svtools.analysis import population
        from svtools.publish import charts, figures

        self.n = dict.fromkeys(("charts", "layouts", "paints", "residents", "chart_cpu"), 0)
        depth = [0]

        def timed(fn):
            def run(*a, **kw):
                depth[0] += 1
                c0 = time.process_time()
                try:
                    return fn(*a, **kw)
                finally:
                    depth[0] -= 1
                    if not depth[0]:  # a chart built inside another's timing is counted once
                        self.n["chart_cpu"] += time.process_time() - c0
            return run

        modules = [charts] + [getattr(charts, m) for m in ("common", "time_series", "comparison", "distribution",
                                                            "spine")]
        wrapped = {}
        for module in modules:
            for name in getattr(module, "__all__", ()):
                fn = getattr(module, name)
                if callable(fn) and not isinstance(fn, type):
                    setattr(module, name, wrapped.setdefault(id(fn), timed(fn)))
        figures.show = timed(figures.show)
        real_execute, real_draw, real_png = ConstrainedLayoutEngine.execute, Figure.draw, figures.png_bytes
        real_residents = population.residents

        def execute(engine, fig):
            self.n["layouts"] += 1
            return real_execute(engine, fig)

        def draw(fig, renderer):
            self.n["paints"] += "draw_path" not in vars(renderer)  # a layout-only pass patches draw_* out
            return real_draw(fig, renderer)

        def png_bytes(*a, **kw):  # once per chart shown
            self.n["charts"] += 1
            return real_png(*a, **kw)

        def residents(*a, **kw):
            self.n["residents"] += 1
            return real_residents(*a, **kw)

        ConstrainedLayoutEngine.execute, Figure.draw, figures.png_bytes = execute, draw, png_bytes
        population.residents = residents

    def take(self) -> dict:
        out, self.n = self.n, dict.fromkeys(self.n, 0)
        return out


def page(code: str, dataset: str, definition: str, period_end: str) -> dict[str, float]:
    """Seconds of each section of ``code``'s profile (the context load counted as ``load``), and the page's
    CPU seconds (``cpu``: this process's, which a loaded machine inflates less than wall time)."""
    from svtools.publish import sections

    times = {}
    c0 = time.process_time()
    t0 = time.perf_counter()
    ctx = sections.ProfileContext.load(code, dataset, definition, period_end)
    times["load"] = time.perf_counter() - t0
    for name in SECTIONS:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            getattr(sections, name)(ctx)
        times[name] = time.perf_counter() - t0
    times["cpu"] = time.process_time() - c0
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--csp", default="E22000029",
                   help="CSP timed (default Middlesbrough), or several, comma-separated, taken in turn")
    p.add_argument("--warmup", default="E22000027", help="CSP built first, not counted (default Hartlepool)")
    p.add_argument("--pages", type=int, default=3, help="timed pages of --csp (default 3)")
    p.add_argument("--dataset", default="demo")
    p.add_argument("--definition", default="knife_serious_violence")
    p.add_argument("--period-end", default="2025-03-31")
    p.add_argument("--profile", action="store_true", help="print the top of a cProfile of the last page")
    args = p.parse_args(argv)

    run = (args.dataset, args.definition, args.period_end)
    t0 = time.perf_counter()
    page(args.warmup, *run)
    print(f"warm-up page {args.warmup}: {time.perf_counter() - t0:.2f}s (imports, fonts, caches)")
    counts = Counts()
    counts.take()
    csps = [c.strip() for c in args.csp.split(",") if c.strip()]
    pages, seen, chart_cpu, layouts = [], None, [], []
    for k in range(max(1, args.pages)):
        code = csps[k % len(csps)]
        if args.profile and k == args.pages - 1:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            pages.append(page(code, *run))
            prof.disable()
        else:
            pages.append(page(code, *run))
        seen = counts.take()
        chart_cpu.append(seen["chart_cpu"])
        layouts.append(seen["layouts"])
    totals = [sum(v for k, v in t.items() if k != "cpu") for t in pages]
    cpu = [t["cpu"] for t in pages]
    print(f"page{'s' if len(csps) > 1 else ''} {args.csp}: median {statistics.median(totals):.2f}s wall over "
          f"{len(pages)} "
          f"(min {min(totals):.2f}, max {max(totals):.2f}); median {statistics.median(cpu):.2f}s CPU")
    print(f"per page: {seen['charts']} charts, {'/'.join(map(str, layouts))} constrained-layout passes, "
          f"{seen['paints']} paints, "
          f"{seen['residents']} residents() calls; charts (built and shown): median "
          f"{statistics.median(chart_cpu):.2f}s CPU ({', '.join(f'{c:.2f}' for c in chart_cpu)})")
    for name in ("load", *SECTIONS):
        print(f"  {name:<20} {statistics.median(t[name] for t in pages):6.3f}s")
    if args.profile:
        pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
