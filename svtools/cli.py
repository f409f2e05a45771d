"""The ``svtools`` command: ``demo-data``, ``inspect``, ``ingest``, ``build``, ``publish`` (and ``areas``,
``definitions``).

Every subcommand has ``--help``; on bad input it prints a one-line reason to stderr and exits with status 2
(usage) or 1 (data or build failure), never a bare traceback (``--debug`` shows one). Output into a closed pipe
(``svtools areas | head``) ends quietly.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from svtools import __version__
from svtools.errors import SvtoolsError

__all__ = ["main", "build_parser"]


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from svtools.ingest.demo import generate_demo_data

    t0 = time.perf_counter()
    if args.partners_only:  # SYNTHETIC partner data only, from the police extract already in the folder
        from svtools.ingest.demo_partners import generate_partner_data

        res = generate_partner_data(args.out, seed=args.seed)
        print(f"partner data (SYNTHETIC): {', '.join(f'{n} {r:,} rows' for n, r in res['rows'].items())} written "
              f"to {res['out_dir']} in {time.perf_counter() - t0:.1f}s")
        return 0
    summary = generate_demo_data(args.out, seed=args.seed, forces=args.forces, scale=args.scale,
                                 progress=not args.quiet)
    rows = summary.get("rows_total") or sum((summary.get("rows_per_force") or {}).values())
    print(f"demo data (SYNTHETIC): {rows:,} rows for {len(summary.get('rows_per_force', {})) or '?'} forces "
          f"written to {summary.get('out_dir', args.out)} in {time.perf_counter() - t0:.1f}s")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from svtools.ingest.inspect import draft_mapping, inspect_file
    from svtools.ingest.readers import ReadOptions

    options = ReadOptions(encoding=args.encoding or "auto", delimiter=args.delimiter or "auto", sheet=args.sheet)
    report = inspect_file(args.file, options, sample_rows=args.rows)
    print(report.text())
    if args.draft:
        if args.draft.exists() and not args.overwrite:
            raise SvtoolsError(f"{args.draft} exists; choose another name or add --overwrite")
        args.draft.parent.mkdir(parents=True, exist_ok=True)
        args.draft.write_text(draft_mapping(report, args.name or args.draft.stem), encoding="utf-8")
        print(f"draft mapping written to {args.draft}: check every '# guessed' line and each TODO, then run "
              f"`svtools ingest --dataset NAME --extract {args.file} --mapping {args.draft} --check`")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from svtools.ingest import ingest_demo, ingest_extract, ingest_police_uk
    from svtools.ingest.mapping import load_mapping, read_mapping_yaml

    on_invalid = "exclude" if args.lenient else "raise"
    extra = {"check": args.check, "max_excluded": args.max_excluded}
    if args.police_uk is not None or (args.dataset == "police_uk" and args.extract is None):
        folder = Path(args.police_uk) if args.police_uk else None  # bare --police-uk: the shipped files
        report = ingest_police_uk(folder, args.out, on_invalid=on_invalid, **extra)
    elif args.extract is not None:
        if not args.mapping:
            raise SvtoolsError("--extract needs --mapping (a file in config/mappings/ or a path; "
                               "`svtools inspect FILE --draft NEW.yaml` drafts one)")
        path = Path(args.mapping)
        raw = read_mapping_yaml(path if path.suffix else load_mapping_path(args.mapping))
        if str(raw.get("kind")) == "counts":
            from svtools.ingest.aggregate import ingest_counts

            report = ingest_counts(args.extract, args.mapping, args.dataset, args.out, on_invalid=on_invalid,
                                   check=args.check)
        else:
            report = ingest_extract(args.extract, load_mapping(args.mapping), args.dataset, args.out,
                                    on_invalid=on_invalid, append=args.append, **extra)
    elif args.partners:  # the SYNTHETIC partner files of the demo folder only (config/mappings/partner_*.yaml)
        from svtools.ingest.demo_partners import ingest_partners

        reps = ingest_partners(args.raw, args.out, on_invalid=on_invalid, check=args.check)
        for source, rec in reps.items():
            print(f"{source}: {rec['skipped']}" if "skipped" in rec else
                  f"{source}: {rec['cells_in']:,} cells in = {rec['cells_kept']:,} kept + {rec['cells_excluded']:,} "
                  f"excluded {rec['excluded_cells_by_reason'] or ''}; counts {rec['counts_kept']:,} kept")
        return 0
    else:
        report = ingest_demo(args.raw, args.out, on_invalid=on_invalid)
    print(report.summary())
    print(f"timings (s): {report.seconds}")
    return 0


def load_mapping_path(name: str) -> Path:
    """The file of a shipped mapping named without a path or suffix."""
    from svtools.ingest.mapping import MAPPINGS_DIR

    return MAPPINGS_DIR / f"{name}.yaml"


def _cmd_build(args: argparse.Namespace) -> int:
    from svtools.publish.batch import run_build

    result = run_build(
        notebooks=args.notebook or None,
        csps=args.csp or None,
        forces=args.force or None,
        dataset=_dataset(args),
        jobs=args.jobs,
        out=args.out,
        force_all=args.force_all,
        definition=args.definition[0] if len(args.definition) == 1 else args.definition,
        period_end=args.period_end,
        progress=not args.quiet,
        executor=args.executor,
        scheduler=args.scheduler,
    )
    return 0 if result.ok else 1


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def _cmd_publish(args: argparse.Namespace) -> int:
    from collections import Counter

    from svtools.publish.bundle import publish

    bundle, written, checked = publish(args.run, to=args.to, zip_path=args.zip, allow_partial=args.allow_partial,
                                       out=args.out)
    kinds = Counter("page" if n.endswith("index.html") and n != "index.html" else Path(n).suffix.lstrip(".")
                    for n in bundle.files)
    scope = "partial run" if bundle.manifest.get("scope") == "partial" else "full run"
    print(f"publish: run {bundle.run_id} ({bundle.manifest.get('dataset')}, {scope}) passed the disclosure gate: "
          f"{checked['csv']} CSV tables re-checked, {checked['pages']} pages and {checked['links']} links, "
          "no machine paths")
    print(f"  wrote {len(bundle.names())} files, {_size(bundle.total_bytes())} ({bundle.total_bytes():,} bytes) "
          f"to {written}: the run index, {kinds.get('page', 0)} page(s), {kinds.get('csv', 0)} CSV download(s), "
          "manifest.json")
    if bundle.left_out:
        shown = ", ".join(bundle.left_out[:3]) + (", ..." if len(bundle.left_out) > 3 else "")
        print(f"  left out {len(bundle.left_out)} file(s) of the run folder that are not for partners: {shown}")
    if args.list:
        for entry in bundle.manifest["files"]:
            print(f"  {entry['bytes']:>10,}  {entry['path']}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from svtools.publish.bundle import resolve_run
    from svtools.publish.validate import CHECKS, record, validate_run

    run = resolve_run(args.run, args.out)
    problems = validate_run(run)
    if args.record:
        record(run, problems)
    if not problems:
        print(f"validate: run {run.name} passed every pre-publish check ({', '.join(CHECKS)})")
        return 0
    print(f"validate: run {run.name}: {len(problems)} problem(s)", file=sys.stderr)
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    return 1


def _dataset(args: argparse.Namespace) -> str:
    """--dataset NAME, or the older --source demo|police-uk."""
    if args.dataset:
        return args.dataset
    return "police_uk" if args.source == "police-uk" else "demo"


def _cmd_areas(args: argparse.Namespace) -> int:
    from svtools.ingest.store import load_table

    areas = load_table("areas", _dataset(args))
    for row in areas.itertuples(index=False):
        print(f"{row.pfa_code}  {row.pfa_name:<18} {row.csp_code}  {row.csp_name}")
    return 0


def _cmd_definitions(args: argparse.Namespace) -> int:
    import textwrap

    from svtools.ingest.definitions import definition_catalogue

    cat = definition_catalogue(None)
    for kind, title in (("records", "for record extracts (Home Office offence codes)"),
                        ("counts", "for count tables (their own categories)")):
        print(f"Definitions {title}:")
        for row in cat[cat["applies_to"] == kind].itertuples(index=False):
            size = f"{row.offence_codes} codes" if kind == "records" else f"{row.categories} categories"
            print(f"  {row.name:<34} {size:>14}  {row.title}")
            print(textwrap.fill(f"source: {row.source}", width=110, initial_indent=" " * 6,
                                subsequent_indent=" " * 6))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    p = argparse.ArgumentParser(prog="svtools", description="Serious Violence Duty locality profiles.")
    p.add_argument("--version", action="version", version=f"svtools {__version__}")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo-data", help="generate the synthetic demo extract into data/raw/demo",
                       description="Generate the deterministic SYNTHETIC police extract, hospital admissions and "
                                   "truth.json for the 41 CSPs of the 9 demo forces (default), or with --forces all "
                                   "every territorial force of England and Wales (43 forces, 314 CSPs; "
                                   "docs/national_demo.md).")
    d.add_argument("--out", type=Path, default=None, help="output folder (default data/raw/demo)")
    d.add_argument("--seed", type=int, default=20250331, help="random seed (default 20250331)")
    d.add_argument("--forces", nargs="+", default=None, metavar="SLUG",
                   help="force slugs (e.g. cleveland durham gwent), 'all' for all 43 territorial forces or "
                        "'demo' for the 9; default the 9 demo forces")
    d.add_argument("--scale", type=float, default=1.0,
                   help="multiply volumes (default 1.0; e.g. 0.1 for 10%% of the volumes)")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.add_argument("--partners-only", action="store_true",
                   help="only the SYNTHETIC partner data (A&E, ambulance, youth justice, exclusions), from the police "
                        "extract already in --out (config/partners.yaml)")
    d.set_defaults(func=_cmd_demo_data)

    n = sub.add_parser("inspect", help="describe an extract's columns and draft a mapping for it",
                       description="Read an extract (CSV in any common encoding and delimiter, .csv.gz, .xlsx) as "
                                   "text and print each column's inferred kind, sample values and blanks; with "
                                   "--draft, write a draft mapping (v2) to edit (docs/onboarding.md).")
    n.add_argument("file", type=Path, help="the extract file")
    n.add_argument("--draft", type=Path, default=None, metavar="OUT.yaml", help="write a draft mapping here")
    n.add_argument("--name", default=None, help="the draft mapping's name (default: OUT's stem)")
    n.add_argument("--overwrite", action="store_true", help="replace an existing draft")
    n.add_argument("--rows", type=int, default=50_000, help="rows sampled (default 50,000)")
    n.add_argument("--encoding", default=None, help="encoding (default: detected)")
    n.add_argument("--delimiter", default=None, help="delimiter (default: detected)")
    n.add_argument("--sheet", default=None, help="xlsx sheet (default: the first)")
    n.set_defaults(func=_cmd_inspect)

    i = sub.add_parser("ingest", help="validate raw data into data/processed (with a reconciliation report)",
                       description="raw -> validated parquet, one partition per CSP. Default: the demo extract "
                                   "in data/raw/demo.")
    i.add_argument("--dataset", default="demo", help="processed dataset name (default demo)")
    i.add_argument("--raw", type=Path, default=None, help="demo raw folder (default data/raw/demo)")
    i.add_argument("--extract", type=Path, nargs="+", default=None, help="police extract file(s) or folder")
    i.add_argument("--mapping", default=None, help="column mapping name or path (config/mappings/*.yaml)")
    i.add_argument("--police-uk", type=str, nargs="?", const="", default=None,
                   help="ingest data.police.uk street files from this folder (default: the 9 shipped forces)")
    i.add_argument("--out", type=Path, default=None, help="output folder (default data/processed/<dataset>)")
    i.add_argument("--lenient", action="store_true",
                   help="exclude rows with bad values (counted by reason; a bad victim or suspect value is set to "
                        "unknown and counted, the crime kept) instead of stopping at the first")
    i.add_argument("--max-excluded", type=float, default=None, metavar="SHARE",
                   help="fail when more than this share of rows is excluded for a fault (default 0.05; "
                        "config/settings.yaml ingest.max_excluded_share)")
    i.add_argument("--check", action="store_true",
                   help="dry run: read, parse and reconcile, print what would be kept and excluded, write nothing")
    i.add_argument("--append", action="store_true",
                   help="add a new delivery to the dataset (rows it already holds are excluded, counted)")
    i.add_argument("--partners", action="store_true",
                   help="only the SYNTHETIC partner files of --raw (default data/raw/demo) into the dataset's folder")
    i.set_defaults(func=_cmd_ingest)

    b = sub.add_parser("build", help="run the notebooks for the chosen CSPs and publish HTML to outputs/",
                       description="Execute the parameterised notebooks with papermill for every selected CSP "
                                   "(and force) in parallel and render them to HTML without code.")
    b.add_argument("--csp", nargs="+", default=None, metavar="CODE", help="CSP codes (default: all)")
    b.add_argument("--force", nargs="+", default=None, metavar="PFA",
                   help="only the CSPs of these forces (PFA code or name)")
    b.add_argument("--notebook", nargs="+", default=None, metavar="NAME",
                   help="only these notebooks (e.g. csp_profile)")
    b.add_argument("--dataset", default=None, metavar="NAME",
                   help="processed dataset to build from (data/processed/NAME; default demo)")
    b.add_argument("--source", choices=["demo", "police-uk"], default="demo",
                   help="older spelling of --dataset demo / --dataset police_uk")
    b.add_argument("--jobs", type=int, default=None, help="parallel workers (default: the machine's cores)")
    b.add_argument("--out", type=Path, default=None, help="outputs folder (default outputs/)")
    b.add_argument("--definition", nargs="+", default=["knife_serious_violence"], metavar="NAME",
                   help="definition name(s) (svtools definitions lists them); with several, each definition's pages "
                        "are built under def/NAME/ and each force gets a definition comparison page")
    b.add_argument("--period-end", default=None, help="last day of the period, YYYY-MM-DD (default: end of data)")
    b.add_argument("--force-all", action="store_true", help="re-run every job even if nothing changed")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument("--executor", choices=["local", "dask"], default="local",
                   help="where the jobs run: local worker processes (default) or a dask.distributed cluster "
                        "(the 'dask' extra; docs/dask.md)")
    b.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="with --executor dask: the scheduler (tcp://host:8786); default a LocalCluster of --jobs "
                        "workers on this machine")
    b.set_defaults(func=_cmd_build)

    pb = sub.add_parser("publish", help="write what a partner may get from a run (pages, CSVs, index, manifest)",
                        description="Check a run with the disclosure gate (every CSV again, no machine paths, no "
                                    "notebooks, every link inside the bundle) and write only what a partner may "
                                    "get: the run index, the pages, their CSV downloads and a plain manifest.json "
                                    "(files with sha256 and size). Refuses a partial run unless --allow-partial.")
    pb.add_argument("run", nargs="?", default="latest",
                    help="a run id, latest-<dataset>, or a run folder's path (default: latest, the newest full run)")
    where = pb.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", type=Path, default=None, metavar="DIR", help="write into this new (or empty) folder")
    where.add_argument("--zip", type=Path, default=None, metavar="FILE",
                       help="write one zip file (deterministic: the same run gives the same bytes)")
    pb.add_argument("--allow-partial", action="store_true",
                    help="publish a partial run (built with --csp, --force or --notebook) too")
    pb.add_argument("--out", type=Path, default=None, help="outputs folder run ids are looked up in (default outputs/)")
    pb.add_argument("--list", action="store_true", help="list every file written")
    pb.set_defaults(func=_cmd_publish)

    va = sub.add_parser("validate", help="run the pre-publish checks on a run (disclosure gate, area codes, "
                                         "indicator metadata, period, chart data)",
                        description="The checks every build runs at its end (svtools.publish.validate): the "
                                    "disclosure gate on every CSV, no orphan area codes, metadata for every "
                                    "indicator, one period on every page, the data behind every chart. Prints "
                                    "each problem as FILE: CHECK: MESSAGE and exits 1 if there is one.")
    va.add_argument("run", nargs="?", default="latest",
                    help="a run id, latest-<dataset>, or a run folder's path (default: latest)")
    va.add_argument("--out", type=Path, default=None, help="outputs folder run ids are looked up in (default outputs/)")
    va.add_argument("--record", action="store_true",
                    help="also write the outcome into the run's manifest.json (validation:) and index.html")
    va.set_defaults(func=_cmd_validate)

    a = sub.add_parser("areas", help="list the CSPs and forces in the processed data")
    a.add_argument("--dataset", default=None, metavar="NAME", help="processed dataset (default demo)")
    a.add_argument("--source", choices=["demo", "police-uk"], default="demo", help="older spelling of --dataset")
    a.set_defaults(func=_cmd_areas)

    df = sub.add_parser("definitions", help="list the definitions of serious violence in config/definitions")
    df.set_defaults(func=_cmd_definitions)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``svtools`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.debug else logging.WARNING, format="%(message)s")
    previous = _stop_on_sigterm()
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        # the reader went away (`svtools areas | head`): stop quietly, and keep Python from complaining at exit
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except SvtoolsError as exc:
        if args.debug:
            raise
        print(f"svtools {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, PermissionError, IsADirectoryError, ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"svtools {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"svtools {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, never a bare traceback
        if args.debug:
            raise
        print(f"svtools {args.command}: unexpected error ({type(exc).__name__}: {exc}). This is a fault in "
              "svtools, not in your data: run again with --debug for the traceback and report it.", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminated(signum, frame):
    raise KeyboardInterrupt


def _stop_on_sigterm():
    """SIGTERM (a batch scheduler's time limit, ``kill``) stops a command as Ctrl-C does: a build stops its
    workers and kernels and leaves its partial run folder, instead of leaving them running. Returns the
    previous handler (None off the main thread, where Python cannot set one)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _terminated)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
