"""The svtools command: --help everywhere, a one-line reason and a non-zero exit on bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from svtools.cli import build_parser, main


@pytest.mark.parametrize("command", ["demo-data", "ingest", "build", "publish", "areas", "definitions"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: svtools" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


def test_bad_input_gives_one_line_and_non_zero(tmp_path, capsys):
    bad = tmp_path / "x_crime_extract.csv"
    bad.write_text("")
    code = main(["ingest", "--extract", str(bad), "--mapping", "demo_extract", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and "empty" in err and str(bad) in err


def test_extract_without_mapping(tmp_path, capsys):
    code = main(["ingest", "--extract", str(tmp_path)])
    assert code == 1 and "--mapping" in capsys.readouterr().err


def test_missing_processed_data_is_explained(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SVTOOLS_DATA", str(tmp_path))
    code = main(["areas"])
    err = capsys.readouterr().err
    assert code == 1 and "svtools ingest" in err


def test_definitions_lists_the_shipped_ones(capsys):
    assert main(["definitions"]) == 0
    assert "knife_serious_violence" in capsys.readouterr().out


def test_installed_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "svtools.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("svtools ")


def test_parser_build_options():
    args = build_parser().parse_args(["build", "--csp", "E22000027", "--force", "Cleveland", "--jobs", "2",
                                      "--out", "x", "--force-all"])
    assert args.csp == ["E22000027"] and args.jobs == 2 and args.force_all


def test_bare_police_uk_flag_means_the_shipped_files(monkeypatch):
    """`svtools ingest --police-uk` with no folder ingests the 9 shipped forces, not the current folder."""
    import svtools.ingest as ingest

    seen = {}

    class Report:
        seconds = {}

        def summary(self):
            return "ok"

    def fake(folder, out, on_invalid, **kw):
        seen["folder"] = folder
        return Report()

    monkeypatch.setattr(ingest, "ingest_police_uk", fake)
    assert main(["ingest", "--police-uk"]) == 0 and seen["folder"] is None
    assert main(["ingest", "--police-uk", "/x/y"]) == 0 and str(seen["folder"]) == "/x/y"


def _piped_to_head(command: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -o pipefail; {command} | head -1"], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_areas_piped_to_head_ends_quietly(demo_data):
    """`svtools areas | head -1`: the first line, exit status 0, no traceback."""
    svtools = Path(sys.executable).with_name("svtools")
    out = _piped_to_head(f"'{svtools}' areas")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1 and "Traceback" not in out.stderr and not out.stderr.strip()


def test_a_long_output_into_a_closed_pipe_ends_quietly():
    """Far more than a pipe holds (so the write does fail): still status 0 and nothing on stderr."""
    code = ("import sys\nfrom svtools import cli\n"
            "def many(args):\n    for i in range(200_000):\n        print('line', i)\n    return 0\n"
            "cli._cmd_areas = many\nsys.exit(cli.main(['areas']))")
    out = _piped_to_head(f"'{sys.executable}' -c \"{code}\"")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "line 0\n" and "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr
