"""svtools.publish.output.table_html: markup that reads on a phone (stacked cards), keyboard-reachable scrolling
boxes, and the stylesheet that lays it out (checked in headless Chromium when it is installed)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from svtools.publish import output
from svtools.publish.render import css

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def fresh_page(monkeypatch):
    """Each test is one page: the count of captions seen starts again."""
    monkeypatch.setattr(output, "_ids_on_page", {})


def wide_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "Neighbourhood <LSOA>": ["Hartlepool 001A", "Stockton & Thornaby 014C"],
        "Decile": [1, 3],
        "Residents": [1523, 2210],
        "Offences": [45, 12],
        "Rate per 1,000": [29.5, 5.4],
        "Share of CSP": ["12%", "3%"],
    })


def soup_of(markup: str) -> BeautifulSoup:
    return BeautifulSoup(markup, "html.parser")


def test_every_cell_of_a_stacked_table_carries_its_column_header():
    frame = wide_frame()
    table = soup_of(output.table_html(frame, "Busiest neighbourhoods")).table
    assert "stacked" in table["class"]
    heads = [th.get_text() for th in table.thead.find_all("th")]
    assert heads == list(frame.columns)  # escaped in the markup, the text itself once parsed
    for tr in table.tbody.find_all("tr"):
        cells = tr.find_all(["th", "td"])
        assert [c["data-label"] for c in cells] == heads
    assert len(table.tbody.find_all("tr")) == len(frame)


def test_stacked_table_keeps_its_semantics_with_explicit_roles():
    table = soup_of(output.table_html(wide_frame(), "Busiest neighbourhoods")).table
    assert table["role"] == "table"
    assert table.thead["role"] == "rowgroup" and table.tbody["role"] == "rowgroup"
    assert all(tr["role"] == "row" for tr in table.find_all("tr"))
    assert all(th["role"] == "columnheader" and th["scope"] == "col" for th in table.thead.find_all("th"))
    rowheads = table.tbody.find_all("th")
    assert len(rowheads) == 2 and all(th["role"] == "rowheader" and th["scope"] == "row" for th in rowheads)
    assert all(td["role"] == "cell" for td in table.tbody.find_all("td"))


def test_scrolling_box_is_a_focusable_region_named_by_the_caption():
    wrap = soup_of(output.table_html(wide_frame(), "Busiest neighbourhoods")).find("div", class_="table-wrap")
    assert wrap["role"] == "region" and wrap["tabindex"] == "0" and wrap["class"] == ["table-wrap", "wide"]
    caption = wrap.table.caption
    assert caption["id"] == wrap["aria-labelledby"]
    assert caption.get_text() == "Busiest neighbourhoods"


def test_ids_are_unique_on_a_page_and_deterministic():
    def page() -> list[str]:
        output._ids_on_page.clear()
        parts = [output.table_html(wide_frame(), c) for c in ("Offences", "Rates", "Offences")]
        return [soup_of(p).caption["id"] for p in parts]

    first = page()
    assert len(set(first)) == 3
    assert page() == first  # a page built again (a new kernel) gets the same ids
    assert all(re.fullmatch(r"[A-Za-z][\w-]*", i) for i in first)
    assert first[0] != first[1] and first[2].startswith(first[0].removesuffix("-caption"))


def test_headers_labels_and_captions_are_escaped():
    frame = pd.DataFrame({'Area "x" <b>': ["<script>", "A & B"], "a": [1, 2], "b": [3, 4], 'c"d': [5, 6]})
    markup = output.table_html(frame, 'Rates <by> "area"')
    assert "<script>" not in markup and "<b>" not in markup
    assert 'data-label="c&quot;d"' in markup and 'data-label="Area &quot;x&quot; &lt;b&gt;"' in markup
    table = soup_of(markup).table
    assert table.caption.get_text() == 'Rates <by> "area"'
    assert table.tbody.th.get_text() == "<script>"
    assert [td["data-label"] for td in table.tbody.tr.find_all("td")] == ["a", "b", 'c"d']


def test_numbers_are_right_aligned():
    table = soup_of(output.table_html(wide_frame(), "Busiest neighbourhoods")).table
    heads = {th.get_text(): th.get("class", []) for th in table.thead.find_all("th")}
    assert "num" in heads["Offences"] and "num" in heads["Rate per 1,000"] and "num" in heads["Share of CSP"]
    assert "num" not in heads["Neighbourhood <LSOA>"]
    first = {c["data-label"]: c for c in table.tbody.tr.find_all(["th", "td"])}
    assert first["Residents"].get_text() == "1,523" and "num" in first["Residents"]["class"]
    assert first["Rate per 1,000"].get_text() == "29.5" and "num" in first["Rate per 1,000"]["class"]


def test_narrow_tables_stay_plain_tables():
    frame = pd.DataFrame({"Year": ["2023/24", "2024/25"], "Offences": [120, 98]})
    markup = output.table_html(frame, "Offences by year")
    wrap = soup_of(markup).find("div", class_="table-wrap")
    assert not wrap.table.get("class") and not wrap.get("tabindex") and "data-label" not in markup
    assert "role=" not in markup  # display is never changed, the native semantics stand


@pytest.mark.parametrize("columns, rows, numeric, expected", [
    (["Area", "Offences"], [["Hartlepool", "1,234"]], [False, True], ""),
    (["Area", "Offences", "Rate"], [["Hartlepool", "1,234", "5.2"]], [False, True, True], ""),
    # a long text value wraps between its words: three short columns stay a table
    (["Offence type", "Offences", "Share of all"], [["Robbery of personal property", "906", "19%"]],
     [False, True, True], ""),
    (["Area", "2023/24", "2024/25", "Change"], [["Hartlepool", "1", "2", "+1"]], None, "stacked"),
    # ... but a long code does not wrap, nor does a number
    (["Field", "Value", "Note"], [["victim_ethnicity_code", "1,234", "recorded as text"]], None, "stacked"),
    (["Area", "Offences"], [["Hartlepool", "1" * 30]], [False, True], "stacked"),
    (["Quarter", "a", "b", "c", "d", "e", "f", "g"], [["2024/25 Q1"] + ["92%"] * 7], None, "stacked wide"),
    (["Field", "Records with a value", "Share"], [["x" * 40, "x" * 40, "x" * 40]], None, "stacked wide"),
])
def test_the_width_rule(columns, rows, numeric, expected):
    assert output.table_layout(columns, rows, numeric) == expected


def test_table_html_applies_the_width_rule():
    for n, stacked in ((2, False), (3, False), (output.STACK_MIN_COLUMNS, True)):
        frame = pd.DataFrame({f"c{i}": ["1"] for i in range(n)})
        classes = soup_of(output.table_html(frame, "t")).table.get("class") or []
        assert ("stacked" in classes) is stacked, n
    frame = pd.DataFrame({f"c{i}": ["1"] for i in range(output.WIDE_MIN_COLUMNS)})
    assert soup_of(output.table_html(frame, "t")).table["class"] == ["stacked", "wide"]


def test_stylesheet_has_the_stacked_layout_and_image_rule():
    sheet = css()
    assert "td[data-label]::before { content: attr(data-label)" in sheet
    assert re.search(r"@media \(max-width: 40rem\) \{\s*table\.stacked", sheet)
    assert ".table-wrap:focus {" in sheet
    assert re.search(r"\bimg \{[^}]*max-width: 100%", sheet) and "img:not([width]) { width: 100%; }" in sheet
    assert not re.search(r"\bimg \{[^}]*[^-]width: 100%", sheet)  # an image's own width is a maximum


# --------------------------------------------------------------------------- in a real browser
def browser_page():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: the layout is checked in a browser only where one is installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    return sync_api.sync_playwright()


def page_html(*tables: str) -> str:
    body = "".join(tables)
    return (f'<!DOCTYPE html><html lang="en"><head><meta name="viewport" content="width=device-width, '
            f'initial-scale=1"><style>{css()}</style></head><body><div class="page"><main>{body}</main></div>'
            "</body></html>")


MEASURE = """() => ({page: document.scrollingElement.scrollWidth, inner: innerWidth,
  boxes: [...document.querySelectorAll('.table-wrap')].map(w => ({scroll: w.scrollWidth, box: w.clientWidth,
     thead: w.querySelector('thead').getBoundingClientRect().width,
     stacked: w.querySelector('table').classList.contains('stacked'),
     label: getComputedStyle(w.querySelector('tbody td'), '::before').content}))})"""


@pytest.mark.parametrize("width", [320, 390, 1280])
def test_no_table_scrolls_sideways_in_a_browser(width):
    decile = pd.DataFrame({"IMD decile": [f"{i} (most deprived)" if i == 1 else str(i) for i in range(1, 11)],
                           "Residents": [10234] * 10, "Offences": [123] * 10, "Rate per 1,000": [12.3] * 10,
                           "Lower 95% limit": [10.1] * 10, "Upper 95% limit": [14.6] * 10,
                           "Share of offences": ["12.3%"] * 10})
    quarters = pd.DataFrame({"Quarter": ["2024/25 Q1"], **{f"Victim {w} known": ["92%"] for w in
                                                             ("age", "sex", "ethnicity", "postcode")},
                             "Domestic-abuse flag recorded": ["98%"], "Suspect age known": ["55%"],
                             "Time of day known": ["92%"]})
    home_office = pd.DataFrame({"Measure": ["Hospital admissions for assault with a knife or sharp object"],
                                "2019/20 (baseline)": [104], "2024/25": [123], "Change": ["+18% (no clear change)"]})
    types = pd.DataFrame({"Offence type": ["Robbery of personal property", "Violence with injury"],
                          "Offences": [906, 3080], "Share of all": ["19%", "65%"]})
    markup = page_html(output.table_html(decile, "Rates by IMD decile, Hartlepool, January 2022 to November 2022"),
                       output.table_html(quarters, "Completeness by financial quarter (% of records), Cleveland"),
                       output.table_html(types, "Offence types, Cleveland, April 2018 to March 2025"),
                       output.table_html(home_office, "Home Office success measures, Hartlepool"))
    with browser_page() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.set_content(markup)
            got = page.evaluate(MEASURE)
        finally:
            browser.close()
    assert got["page"] <= got["inner"], got
    assert [b["stacked"] for b in got["boxes"]] == [True, True, False, True]
    for box in got["boxes"]:
        assert box["scroll"] <= box["box"], (width, box)
        if not box["stacked"]:
            assert box["thead"] > 100, box  # a short table stays a table, and fits
        elif width <= 390:
            assert box["thead"] <= 1 and box["label"] not in ("none", "normal", ""), box  # cards, labelled
        else:
            assert box["thead"] > 100, box  # a table again


def png_data_uri(width: int, height: int) -> str:
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@pytest.mark.parametrize("width, expected", [(320, 288), (1280, 460)])
def test_an_image_shows_at_most_its_own_width_and_shrinks_to_the_column(width, expected):
    chart = png_data_uri(920, 600)  # drawn at twice its CSS size, as a chart for a sharp screen is
    markup = page_html(f'<img src="{chart}" alt="a chart" width="460" height="300">',
                       f'<img src="{chart}" alt="no size given">')
    with browser_page() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.set_content(markup)
            sized, unsized = page.evaluate("() => [...document.images].map(i => [i.width, i.height])")
            column = page.evaluate("() => document.querySelector('main').clientWidth")
        finally:
            browser.close()
    assert sized == [expected, round(expected * 300 / 460)]  # its own shape kept
    assert unsized[0] == column  # an image with no width of its own fills the column


def test_ids_start_again_with_each_page_of_a_warm_kernel(monkeypatch, tmp_path):
    def ids() -> list[str]:
        return [soup_of(output.table_html(wide_frame(), c)).caption["id"] for c in ("Offences", "Offences")]

    monkeypatch.setenv(output.PAGE_DIR_ENV, str(tmp_path / "a"))
    first = ids()
    monkeypatch.setenv(output.PAGE_DIR_ENV, str(tmp_path / "b"))
    assert ids() == first  # another page in the same kernel: counted afresh
    monkeypatch.setenv(output.PAGE_DIR_ENV, str(tmp_path / "a"))
    assert ids() == first and first[1] == first[0].removesuffix("-caption") + "-2-caption"


def test_a_named_row_header_heads_each_card():
    frame = pd.DataFrame({"LSOA": ["E01011999"], "Offences": [65], "Name": ["Hartlepool 007D"], "Rate": [4.75]})
    table = soup_of(output.table_html(frame, "Busiest neighbourhoods", row_header="Name")).table
    assert [th.get_text() for th in table.thead.find_all("th")] == ["Name", "LSOA", "Offences", "Rate"]
    row = table.tbody.tr
    assert row.th.get_text() == "Hartlepool 007D" and row.th["data-label"] == "Name"
    assert [td["data-label"] for td in row.find_all("td")] == ["LSOA", "Offences", "Rate"]
    with pytest.raises(ValueError, match="'Neighbourhood' is not one of its columns"):
        output.table_html(frame, "Busiest neighbourhoods", row_header="Neighbourhood")
    plain = soup_of(output.table_html(frame, "Busiest neighbourhoods", row_header=False)).table
    assert not plain.tbody.find("th") and plain.tbody.td["data-label"] == "LSOA"
