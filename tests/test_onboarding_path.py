"""The README's path for a new force, command by command: inspect -> edit the draft -> check -> ingest -> areas
-> build (planned), on an export the shipped mappings have never seen, plus a count table through the CLI."""

from __future__ import annotations

import json

import pytest
import yaml

from second_force import make_second_force
from svtools.cli import main
from svtools.ingest.mapping import load_mapping


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return make_second_force(tmp_path_factory.mktemp("export"), seed=7, n_crimes=1500)


def _fill_draft(path, csv_path):
    """What the analyst does by hand: the force code and each TODO value of the weapon field."""
    draft = yaml.safe_load(path.read_text())
    draft["constants"]["reporting_force"] = "E23000013"
    knife = draft["fields"]["knife_flag"]["values"]
    for k in knife:
        knife[k] = any(w in k.lower() for w in ("knife", "blade", "machete", "sharp"))
    # a draft reads one file; the export comes as csv, csv.gz and xlsx
    draft["files"] = {"pattern": "niche_export_*", "encoding": "cp1252", "delimiter": ";", "sheet": "Occurrences"}
    path.write_text(yaml.safe_dump(draft, sort_keys=False, allow_unicode=True))
    return path


def test_inspect_draft_check_ingest_areas_build(export, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SVTOOLS_DATA", str(tmp_path / "data"))
    csv_path = next(p for p in export.files if p.suffix == ".csv")
    draft = tmp_path / "myforce.yaml"
    assert main(["inspect", str(csv_path), "--draft", str(draft)]) == 0
    shown = capsys.readouterr().out
    assert "cp1252" in shown and "Home Office offence code" in shown and draft.is_file()
    assert main(["inspect", str(csv_path), "--draft", str(draft)]) == 1  # never overwrites silently
    capsys.readouterr()
    _fill_draft(draft, csv_path)
    load_mapping(draft)  # the edited draft is a valid v2 mapping

    args = ["ingest", "--dataset", "myforce", "--extract", str(export.folder), "--mapping", str(draft)]
    # the dry run names the local offence spellings no draft can know ...
    assert main(args + ["--check"]) == 1
    err = capsys.readouterr().err
    assert "HO Classification" in err and "unknown Home Office offence code" in err and "line " in err
    # ... the analyst maps them, and checks again
    edited = yaml.safe_load(draft.read_text())
    edited["fields"]["ho_offence_code"]["values"] = {"Common assault": "105A", "ABH (s.47)": "8N"}
    draft.write_text(yaml.safe_dump(edited, sort_keys=False, allow_unicode=True))
    assert main(args + ["--check"]) == 0
    out = capsys.readouterr().out
    assert "check only, nothing written" in out and f"{export.rows_in:,} rows in" in out
    assert not (tmp_path / "data" / "processed" / "myforce").exists()

    assert main(args) == 0
    capsys.readouterr()
    recon = json.loads((tmp_path / "data" / "processed" / "myforce" / "reconciliation.json").read_text())
    assert recon["rows_in"] == export.rows_in and recon["rows_kept"] == export.rows_kept and recon["balanced"]

    assert main(["areas", "--dataset", "myforce"]) == 0
    listed = capsys.readouterr().out
    assert all(code in listed for code in ("E22000027", "E22000028", "E22000029", "E22000030"))

    from svtools.publish.batch import plan_jobs

    jobs = plan_jobs(notebooks=["csp_profile"], dataset="myforce")
    assert {j.area_code for j in jobs} == {"E22000027", "E22000028", "E22000029", "E22000030"}


def test_count_table_through_the_cli(tmp_path, monkeypatch, capsys):
    from svtools.paths import real_data_dir

    monkeypatch.setenv("SVTOOLS_DATA", str(tmp_path / "data"))
    folder = real_data_dir() / "london_mps"
    assert main(["ingest", "--dataset", "london_mps", "--extract", str(folder), "--mapping", "london_mps"]) == 0
    out = capsys.readouterr().out
    assert "32 CSPs" in out
    assert main(["areas", "--dataset", "london_mps"]) == 0
    assert capsys.readouterr().out.count("Metropolitan Police") == 32
    from svtools.publish.batch import plan_jobs

    jobs = plan_jobs(dataset="london_mps")  # the count-table notebooks (london_csp, london_overview)
    assert sum(j.name == "london_csp" for j in jobs) == 32 and any(j.name == "london_overview" for j in jobs)
    assert not any(j.name == "csp_profile" for j in jobs)  # record notebooks do not take a count table


def test_unknown_dataset_names_the_ones_present(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SVTOOLS_DATA", str(tmp_path / "data"))
    assert main(["areas", "--dataset", "nope"]) == 1
    assert "run `svtools ingest --dataset nope` first" in capsys.readouterr().err
    assert main(["areas", "--dataset", "../etc"]) == 1
    assert "invalid dataset name" in capsys.readouterr().err
