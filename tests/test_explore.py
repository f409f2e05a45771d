"""The registrar's path: notebooks/explore.ipynb runs top to bottom on the demo data and is not a batch notebook,
and the worked example of docs/adding_a_section.md (its ``python`` blocks, the section and its test) runs, so
the guide cannot drift from the code."""

from __future__ import annotations

import re

import nbformat
import pytest

from svtools.paths import NOTEBOOKS, ROOT
from svtools.publish import render

EXPLORE = NOTEBOOKS / "explore.ipynb"
GUIDE = ROOT / "docs" / "adding_a_section.md"


def test_explore_is_committed_clean_and_is_not_a_batch_notebook():
    from svtools.publish.batch import discover_notebooks

    nb = nbformat.read(str(EXPLORE), as_version=4)
    assert "svtools" not in nb.metadata  # no batch settings ...
    assert render.notebook_settings(EXPLORE) == {}
    assert "explore" not in [n.name for n in discover_notebooks()]  # ... so `svtools build` skips it
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "explore.ipynb has outputs"
    assert set(render.check_template(EXPLORE)) == {"csp_code", "dataset", "definition", "period_end"}


def _outputs(nb) -> tuple[str, list[str], list[str], list]:
    text, alts, html, errors = [], [], [], []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.output_type == "stream":
                text.append(o.text)
            elif o.output_type == "error":
                errors.append((o.ename, o.evalue))
            else:
                data = o.get("data", {})
                if "image/png" in data:
                    alts.append(data.get("text/plain", ""))
                if "text/html" in data:
                    html.append(data["text/html"])
    return "".join(text), alts, html, errors


def test_explore_runs_top_to_bottom_on_the_demo_data(demo_data, tmp_path):
    nb = render.execute(EXPLORE, {}, timeout=600, output_path=tmp_path / "explore.ipynb")
    text, alts, html, errors = _outputs(nb)
    assert not errors
    assert "meet 'kent_medway_2023'" in text and "Their wording:" in text and "Judgement:" in text
    assert "records of knife-enabled personal robbery of under-25s" in text
    # the gate refused the table with a count of 3, and published it once suppressed
    assert "Refused: table 'explore_robbery'" in text and "1 to 4" in text
    assert any("Robbery (suppressed)" in h for h in html)
    # the gated table and its chart, with alt text naming the area
    assert any("Offences by part of the definition" in h for h in html)
    assert len(alts) == 1 and "Hartlepool" in alts[0] and "by part of the definition" in alts[0]
    # rates with intervals: a row per complete financial year
    assert any("lower" in h and "upper" in h and "2019/20" in h for h in html)


def _guide_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_guide_has_the_section_and_its_test():
    blocks = _guide_blocks()
    assert len(blocks) == 2
    assert "def location_types(ctx" in blocks[0] and "def test_location_types(ctx, shown)" in blocks[1]


def test_the_section_guide_runs(ctx, shown):
    namespace: dict = {"__name__": "adding_a_section"}
    for block in _guide_blocks():
        exec(compile(block, str(GUIDE), "exec"), namespace)
    namespace["test_location_types"](ctx, shown)  # the guide's own test, on the suite's demo data
    res = namespace["location_types"](ctx)
    assert res.available and res.csv is not None and res.csv.name == "location_types.csv"


def test_the_guides_example_refuses_data_police_uk(police_ctx, shown):
    namespace: dict = {"__name__": "adding_a_section"}
    exec(compile(_guide_blocks()[0], str(GUIDE), "exec"), namespace)
    res = namespace["location_types"](police_ctx)
    assert not res.available and "data.police.uk" in res.message


@pytest.mark.parametrize("name", ["csp_profile.ipynb", "explore.ipynb"])
def test_the_guide_points_at_files_that_exist(name):
    assert (NOTEBOOKS / name).is_file()
    for path in re.findall(r"`((?:svtools|tests|notebooks|config|docs)/[\w/.]+\.(?:py|ipynb|yaml|md))`",
                           GUIDE.read_text(encoding="utf-8")):
        assert (ROOT / path).is_file(), path
