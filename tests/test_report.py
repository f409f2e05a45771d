"""svtools.publish.render and svtools.publish.output: parameters, template checks, alt text, safe tables, no-code HTML, kernels."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from svtools.publish import output as plots
from svtools.publish import render as report
from svtools.analysis import stats
from svtools.paths import NOTEBOOKS

CSP_PROFILE = NOTEBOOKS / "csp_profile.ipynb"
PROFILE_PARAMS = {"csp_code": "E22000027", "dataset": "demo", "definition": "knife_serious_violence",
                  "period_end": "2025-03-31"}


def write_nb(path: Path, cells, svtools_meta: dict | None = None) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    if svtools_meta is not None:
        nb.metadata["svtools"] = svtools_meta
    nbformat.write(nb, str(path))
    return path


def params_cell(source: str):
    return new_code_cell(source, metadata={"tags": ["parameters"]})


# --------------------------------------------------------------------------- parameters
class TestPlainParams:
    def test_numpy_and_dates_become_plain_json(self):
        out = report.plain_params({
            "n": np.int64(3), "share": np.float32(0.5), "on": np.bool_(True), "end": dt.date(2025, 3, 31),
            "stamp": pd.Timestamp("2025-03-31"), "at": dt.datetime(2025, 3, 31, 14, 5), "path": Path("/x/y"),
            "codes": ("a", "b"), "nested": {"k": [np.int32(1), None]}, "years": {2020, 2019},
        })
        assert out == {"n": 3, "share": 0.5, "on": True, "end": "2025-03-31", "stamp": "2025-03-31",
                       "at": "2025-03-31T14:05:00", "path": "/x/y", "codes": ["a", "b"],
                       "nested": {"k": [1, None]}, "years": [2019, 2020]}
        assert type(out["n"]) is int and type(out["on"]) is bool
        json.dumps(out)

    def test_unknown_types_and_nan_raise(self):
        with pytest.raises(TypeError, match="parameter 'x'"):
            report.plain_params({"x": object()})
        with pytest.raises(TypeError, match="finite"):
            report.plain_params({"x": float("nan")})

    def test_papermill_injects_an_int_not_a_string(self):
        """Round trip through papermill's translator: np.int64 arrives as an int literal."""
        from papermill.parameterize import parameterize_notebook

        nb = new_notebook(cells=[params_cell("n = 0\nflag = False")])
        nb.metadata["kernelspec"] = {"name": "python3", "language": "python"}
        nb.metadata["papermill"] = {}
        raw = parameterize_notebook(copy.deepcopy(nb), {"n": np.int64(7), "flag": np.bool_(True)})
        fixed = parameterize_notebook(copy.deepcopy(nb), report.plain_params({"n": np.int64(7), "flag": np.bool_(True)}))
        injected = lambda n: next(c.source for c in n.cells if "injected-parameters" in c.metadata.tags)  # noqa: E731
        assert 'n = "7"' in injected(raw)  # the trap
        assert "n = 7\n" in injected(fixed) + "\n" and "flag = True" in injected(fixed)


# --------------------------------------------------------------------------- template checks
class TestCheckTemplate:
    def test_csp_profile_declares_the_build_parameters(self):
        declared = report.check_template(CSP_PROFILE, PROFILE_PARAMS)
        assert set(declared) == set(PROFILE_PARAMS)
        assert declared["csp_code"]["default"] == '"E22000027"'

    def test_unknown_and_missing_names_raise(self):
        with pytest.raises(report.TemplateError, match=r"unknown parameter\(s\) \['csp'\]"):
            report.check_template(CSP_PROFILE, {**PROFILE_PARAMS, "csp": "x"})
        with pytest.raises(report.TemplateError, match=r"missing parameter\(s\) \['period_end'\]"):
            report.check_template(CSP_PROFILE, {k: v for k, v in PROFILE_PARAMS.items() if k != "period_end"})

    def test_exactly_one_parameters_cell(self, tmp_path):
        none = write_nb(tmp_path / "none.ipynb", [new_code_cell("x = 1")])
        two = write_nb(tmp_path / "two.ipynb", [params_cell("x = 1"), params_cell("y = 2")])
        md = write_nb(tmp_path / "md.ipynb", [new_markdown_cell("x", metadata={"tags": ["parameters"]})])
        with pytest.raises(report.TemplateError, match="0 cells are tagged"):
            report.check_template(none)
        with pytest.raises(report.TemplateError, match="2 cells are tagged"):
            report.check_template(two)
        with pytest.raises(report.TemplateError, match="must be a code cell"):
            report.check_template(md)

    def test_markdown_h1_is_refused(self, tmp_path):
        path = write_nb(tmp_path / "h1.ipynb", [new_markdown_cell("# Title"), params_cell("x = 1")])
        with pytest.raises(report.TemplateError, match="level-1 heading"):
            report.check_template(path)
        ok = write_nb(tmp_path / "h2.ipynb", [new_markdown_cell("## Section\n#hashtag"), params_cell("x = 1")])
        assert list(report.check_template(ok)) == ["x"]

    def test_committed_notebook_is_clean_and_thin(self):
        nb = nbformat.read(str(CSP_PROFILE), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code)
        assert report.notebook_settings(nb)["level"] == "csp"
        assert nb.metadata.kernelspec.name == "svtools"
        for cell in code:  # narrative and calls only: no loops, defs or classes in cells
            assert not re.search(r"^\s*(def|class|for|while)\s", cell.source, re.MULTILINE), cell.source

    def test_notebook_settings_reject_unknown_keys(self, tmp_path):
        path = write_nb(tmp_path / "bad.ipynb", [params_cell("x = 1")], {"level": "csp", "colour": "red"})
        with pytest.raises(report.TemplateError, match="unknown key"):
            report.notebook_settings(path)
        assert report.notebook_settings(write_nb(tmp_path / "plain.ipynb", [params_cell("x = 1")])) == {}


# --------------------------------------------------------------------------- alt text
class TestDescribeSeries:
    months = pd.date_range("2018-04-01", periods=84, freq="MS")

    def test_the_house_example(self):
        values = np.full(84, 20)
        values[15], values[24] = 34, 9  # July 2019, April 2020
        s = pd.Series(values, index=self.months)
        assert plots.describe_series(s, "knife-enabled offences", "Hartlepool") == (
            "Monthly knife-enabled offences in Hartlepool, April 2018 to March 2025, peaking in July 2019 at 34; "
            "lowest in April 2020 (9).")

    def test_ties_small_counts_and_periods(self):
        s = pd.Series([3, 12, 12, 3, 5], index=pd.period_range("2020-01", periods=5, freq="M"))
        text = plots.describe_series(s, "robberies", "Middlesbrough")
        assert text == ("Monthly robberies in Middlesbrough, January 2020 to May 2020, peaking in February 2020 "
                        "and 1 other month at 12; lowest in January 2020 and 1 other month (fewer than 5).")
        assert "(3)" in plots.describe_series(s, "robberies", "Middlesbrough", threshold=0)

    def test_empty_and_all_zero(self):
        assert plots.describe_series(pd.Series(dtype=float), "x", "Y") == "Monthly x in Y: no data."
        zeros = pd.Series(0, index=self.months[:3])
        assert plots.describe_series(zeros, "homicides", "Hartlepool").endswith("none recorded in any month.")

    def test_format_count(self):
        assert plots.format_count(1234) == "1,234"
        assert plots.format_count(3, threshold=4) == "fewer than 5"
        assert plots.format_count(0, threshold=4) == "0"
        assert plots.format_count(None) == "unknown"


class TestShow:
    def test_png_with_alt_text_and_figure_closed(self, monkeypatch):
        shown = []
        monkeypatch.setattr("IPython.display.display", lambda *a, **kw: shown.append((a, kw)))
        fig = plots.monthly_chart(pd.Series([1, 5, 3], index=pd.date_range("2020-01-01", periods=3, freq="MS")))
        plots.show(fig, alt="Monthly offences in Hartlepool, January to March 2020.")
        (data,), kw = shown[0]
        assert kw["metadata"]["image/png"]["alt"].startswith("Monthly offences")
        # CSS px: the configured width in inches at 96 px an inch, whatever the PNG's resolution
        assert kw["metadata"]["image/png"]["width"] == round(plots.figure_settings()["width_in"] * 96)
        assert data["image/png"] and kw["raw"] is True
        assert plt.get_fignums() == []

    def test_alt_text_is_required(self):
        fig, _ = plots.new_figure()
        with pytest.raises(ValueError, match="alt text"):
            plots.show(fig, alt="")
        assert plt.get_fignums() == []


# --------------------------------------------------------------------------- disclosure-safe tables
class TestPublishable:
    def test_small_counts_are_refused_and_suppressed_tables_pass(self):
        t = pd.DataFrame({"Financial year": ["2019/20", "2020/21"], "Offences": [12, 3], "None": [0, 0]})
        with pytest.raises(plots.DisclosureError, match="1 visible count.*column 'Offences' = 3"):
            plots.check_publishable(t)
        safe = stats.suppress(t)
        assert safe["Offences"].tolist() == [12, "*"] and safe["None"].tolist() == [0, 0]
        plots.check_publishable(safe)
        with pytest.raises(plots.DisclosureError):  # a string "3" is still a count
            plots.check_publishable(t.astype({"Offences": str}))

    def test_threshold_comes_from_config_and_can_be_overridden(self):
        t = pd.DataFrame({"area": ["a"], "admissions": [6]})
        plots.check_publishable(t)  # police threshold 4
        with pytest.raises(plots.DisclosureError):
            plots.check_publishable(t, threshold=7)  # HES rule
        assert stats.suppress(t, threshold=7)["admissions"].tolist() == ["*"]

    def test_rates_are_not_counts(self):
        plots.check_publishable(pd.DataFrame({"area": ["a", "b"], "rate per 1,000": [2.5, 3.1]}))
        with pytest.raises(plots.DisclosureError):
            plots.check_publishable(pd.DataFrame({"area": ["a"], "offences": [2.0]}))

    @pytest.mark.parametrize("column", ["crime_ref", "victim_id", "suspect_id", "occurred_at", "recorded_date"])
    def test_record_level_columns_are_refused(self, column):
        with pytest.raises(plots.DisclosureError, match="record-level"):
            plots.check_publishable(pd.DataFrame({column: ["x"], "n": [10]}))
        with pytest.raises(plots.DisclosureError, match="record-level"):
            plots.check_publishable(pd.DataFrame({"n": [10]}, index=pd.Index(["x"], name=column)))

    def test_exact_dates_are_refused_months_allowed(self):
        days = pd.DataFrame({"when": pd.to_datetime(["2020-01-05"]), "n": [10]})
        with pytest.raises(plots.DisclosureError, match="exact dates"):
            plots.check_publishable(days)
        plots.check_publishable(pd.DataFrame({"month": pd.to_datetime(["2020-01-01"]), "n": [10]}))

    def test_table_html_is_accessible(self):
        t = pd.DataFrame({"Area": ["A & B"], "Offences": [1234], "Share": [0.25]})
        out = plots.table_html(t, "Offences <by area>")
        assert "<caption>Offences &lt;by area&gt;</caption>" in out
        assert '<th scope="col">Area</th>' in out and '<th scope="col" class="num">Offences</th>' in out
        assert '<th scope="row">A &amp; B</th>' in out and '<td class="num">1,234</td>' in out
        with pytest.raises(ValueError, match="caption"):
            plots.table_html(t, " ")

    def test_publish_table_writes_csv_beside_the_page(self, tmp_path, monkeypatch):
        shown = []
        monkeypatch.setattr("IPython.display.display", lambda *a, **kw: shown.append(a[0]))
        monkeypatch.setenv(plots.PAGE_DIR_ENV, str(tmp_path))
        t = stats.suppress(pd.DataFrame({"Year": ["2019/20", "2020/21"], "Offences": [10, 2]}))
        path = plots.publish_table(t, "Offences by year", caption="Offences by year")
        assert path == tmp_path / "offences_by_year.csv"
        assert pd.read_csv(path)["Offences"].astype(str).tolist() == ["10", "*"]
        assert 'href="offences_by_year.csv"' in shown[0].data and "<caption>" in shown[0].data
        record = json.loads((tmp_path / plots.TABLES_SIDECAR).read_text())
        assert record == [{"file": "offences_by_year.csv", "caption": "Offences by year", "rows": 2,
                           "count_columns": ["Offences"], "threshold": 4}]
        with pytest.raises(plots.DisclosureError):
            plots.publish_table(pd.DataFrame({"Year": ["x"], "Offences": [1]}), "raw", caption="raw")
        assert not (tmp_path / "raw.csv").exists()
        monkeypatch.delenv(plots.PAGE_DIR_ENV)
        assert plots.publish_table(t, "again", caption="Again") is None  # JupyterLab: shown, not written


# --------------------------------------------------------------------------- HTML
def executed_notebook():
    """An executed notebook as papermill leaves it: parameters, stderr noise, a chart, a table, a repr."""
    nb = new_notebook(cells=[
        new_markdown_cell("## Offences\n\nSome narrative."),
        new_code_cell("csp_code = 'E22000027'", metadata={"tags": ["parameters"]}),
        new_code_cell("csp_code = 'E22000029'", metadata={"tags": ["injected-parameters"]}),
        new_code_cell("import secret_module", execution_count=3, outputs=[
            new_output("stream", name="stderr", text="FutureWarning: something in /home/x.py"),
            new_output("execute_result", data={"text/plain": "<Figure size 672x345 with 1 Axes>"}, execution_count=3),
        ]),
        new_code_cell("plots.show(fig, alt=...)", execution_count=4, outputs=[
            new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "chart"},
                       metadata={"image/png": {"alt": "Monthly offences \"peaking\" in July", "width": 672}}),
            new_output("display_data", data={"text/html": "<table><caption>T</caption></table>",
                                             "text/plain": "table"}),
            new_output("display_data", data={"application/javascript": "alert(1)"}),
        ]),
        new_code_cell("x = 1", execution_count=5, outputs=[]),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


CONTEXT = {
    "synthetic": True, "area_name": "Hartlepool", "area_code": "E22000027",
    "area_kind": "Community Safety Partnership", "force_name": "Cleveland", "period": "April 2018 to March 2025",
    "definition": {"title": "Knife crime", "description": "Knife-enabled offences.", "source": "Home Office"},
    "sources": ["Synthetic police extract"], "parameters": {"csp_code": "E22000027"},
    "data": {"Dataset": "demo (synthetic)"}, "index_href": "../../../index.html",
}


class TestHtml:
    def test_no_code_no_noise_one_h1_alt_text(self):
        nb = executed_notebook()
        html = report.to_html(nb, "Serious violence profile: Hartlepool", CONTEXT)
        assert nb.cells[3].outputs  # the input notebook is not modified
        assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
        assert "<title>Serious violence profile: Hartlepool (synthetic demo data)</title>" in html
        assert len(re.findall(r"<h1[\s>]", html)) == 1
        assert "SYNTHETIC DEMO DATA — not real crime figures" in html
        for marker in ("secret_module", "csp_code = ", "jp-InputArea", "input_area", "jp-CodeMirrorEditor",
                       "In&nbsp;[", "In [", "FutureWarning", "<Figure size", "<script", "alert(1)"):
            assert marker not in html, marker
        soup = BeautifulSoup(html, "html.parser")
        assert [img.get("alt") for img in soup.find_all("img")] == ['Monthly offences "peaking" in July']
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
        assert "About this report" in html and "Cleveland" in html and 'href="../../../index.html"' in html
        assert "<caption>T</caption>" in html

    def test_image_without_alt_text_fails(self):
        nb = executed_notebook()
        nb.cells[4].outputs[0].metadata = {}
        with pytest.raises(report.TemplateError, match="without alt text"):
            report.to_html(nb, "t", CONTEXT)

    def test_no_banner_for_real_data(self):
        html = report.to_html(executed_notebook(), "t", {**CONTEXT, "synthetic": False})
        assert "SYNTHETIC" not in html and "synthetic demo data" not in html

    def test_error_page_shows_name_and_message_only(self):
        html = report.error_html(CONTEXT, "Profile: Hartlepool", "ValueError",
                                 "\x1b[31mbad value\x1b[0m\nTraceback (most recent call last): secret", cell=4,
                                 notebook="csp_profile.ipynb", job_id="csp_profile--E22000027")
        assert "ValueError" in html and "bad value" in html
        assert "Traceback" not in html and "secret" not in html and "\x1b" not in html
        assert len(re.findall(r"<h1[\s>]", html)) == 1 and '<html lang="en">' in html


# --------------------------------------------------------------------------- page context (small data)
def test_page_context_names_the_area(demo_data):
    ctx = report.page_context(PROFILE_PARAMS, "t")
    assert ctx["area_name"] == "Hartlepool" and ctx["force_name"] == "Cleveland"
    assert ctx["period"] == "April 2018 to March 2025" and ctx["synthetic"] is True
    assert ctx["definition"]["name"] == "knife_serious_violence"
    assert ctx["parameters"] == PROFILE_PARAMS and ctx["area_kind"] == "Community Safety Partnership"


def test_no_definition_is_claimed_for_police_uk_pages(monkeypatch):
    info = {"synthetic": False, "schema": "police_uk", "dataset": "police_uk", "sources": ["data.police.uk"],
            "period_start": "2022-01-01", "period_end": "2022-11-30"}
    monkeypatch.setattr("svtools.ingest.store.dataset_info", lambda dataset="demo": info)
    ctx = report.run_context("police_uk", "knife_serious_violence")
    assert ctx["definition"]["name"] is None and "no local definition" in ctx["definition"]["title"]
    assert ctx["synthetic"] is False


# --------------------------------------------------------------------------- kernels
def test_default_kernel_is_installed():
    from jupyter_client.kernelspec import KernelSpecManager

    name = report.default_kernel_name()
    assert name in KernelSpecManager().find_kernel_specs() or name == "python3"


@pytest.mark.slow
def test_warm_kernel_types_isolation_and_recovery(tmp_path):
    """One warm kernel: parameters arrive typed, nothing leaks between notebooks, a dead kernel is replaced."""
    from nbclient.exceptions import DeadKernelError
    from papermill import PapermillExecutionError

    typed = write_nb(tmp_path / "typed.ipynb", [
        params_cell("n = 0\nflag = False\nend = ''"),
        new_code_cell("assert type(n) is int and n == 7, type(n)\nassert flag is True\nassert end == '2025-03-31'\n"
                      "leak = 'from the previous notebook'\nimport os\nprint(os.environ.get('SVTOOLS_PAGE_DIR'))"),
    ])
    clean = write_nb(tmp_path / "clean.ipynb", [
        params_cell("n = 0"),
        new_code_cell("assert 'leak' not in globals(), 'namespace not reset'\n"
                      "import os\nassert 'SVTOOLS_PAGE_DIR' not in os.environ\nraise ValueError('on purpose')"),
    ])
    crash = write_nb(tmp_path / "crash.ipynb", [params_cell("n = 0"), new_code_cell("import os\nos._exit(1)")])
    with report.WarmKernel(warm_modules=["svtools.publish.output"]) as kernel:
        kernel.reset({"SVTOOLS_PAGE_DIR": str(tmp_path)})
        nb = report.execute(typed, {"n": np.int64(7), "flag": np.bool_(True), "end": dt.date(2025, 3, 31)},
                            kernel=kernel)
        assert nb.cells[-1].outputs[0]["text"].strip() == str(tmp_path)
        kernel.reset()
        with pytest.raises(PapermillExecutionError) as err:
            report.execute(clean, {"n": 1}, kernel=kernel)
        assert err.value.ename == "ValueError" and "on purpose" in err.value.evalue  # earlier asserts passed
        assert kernel.last_nb is not None
        pid = kernel.pid
        kernel.reset()
        with pytest.raises(DeadKernelError):
            report.execute(crash, {"n": 1}, kernel=kernel, timeout=30)
        kernel.reset()  # notices the dead kernel and starts a new one
        assert kernel.pid != pid and kernel.starts == 2
        nb = report.execute(typed, {"n": 7, "flag": True, "end": "2025-03-31"}, kernel=kernel)
        assert nb.cells[-1].outputs[0]["text"].strip() == "None"
