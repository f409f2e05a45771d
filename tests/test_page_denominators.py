"""The pages divide by the right residents (issue 9 item 5): each financial year's own ONS mid-year estimate
(else the nearest, flagged and named in the notes), residents of the numerator's ages (0-24 for victims under 25,
10-24 for the young people's focus), person-years over a period, and the bound that unrecorded victim ages allow,
from published counts only.

The page checks use the session's small demo dataset copied as ``demo_denoms`` with its area tables rewritten by
:func:`svtools.ingest.area_tables.write_area_tables` (every mid-year 2011, 2014-2024), and the original ``demo``
(a dataset ingested before issue 9: mid-2019 and mid-2020 only, the nearest used and flagged). Each check would
fail on the old denominators: the latest-earlier mid-year rule, the period-average population of calendar years
times the period's length, all-ages labels on the young people's page, and no bound for unrecorded ages.
"""

from __future__ import annotations

import shutil
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from svtools.errors import SvtoolsError

HARTLEPOOL = "E22000027"
DEFINITION = "knife_serious_violence"


@pytest.fixture(scope="module")
def denoms(demo_data):
    """The demo dataset with its area tables written by write_area_tables (every mid-year, Census ethnicity)."""
    from svtools.ingest.area_tables import write_area_tables

    out = demo_data.parent / "demo_denoms"
    if not (out / "dataset.json").is_file():
        shutil.copytree(demo_data, out, dirs_exist_ok=True)
        write_area_tables(pd.read_parquet(out / "areas.parquet")["csp_code"].tolist(), out)
    return "demo_denoms"


@pytest.fixture
def quiet():
    import IPython.display

    calls: list = []
    with mock.patch.object(IPython.display, "display", lambda *a, **k: calls.append(a)):
        yield calls


def _texts(calls) -> str:
    from IPython.display import HTML, Markdown

    return "\n".join(o.data for objs in calls for o in objs if isinstance(o, (Markdown, HTML)))


# --------------------------------------------------------------------------- store
def test_lsoa_population_and_ethnicity_are_shared_tables(denoms):
    """Both are tables of the store (they were read by path; load_table refused them as unknown)."""
    from svtools.ingest.store import TABLES, load_table
    from svtools.publish import sections

    assert {"lsoa_population", "ethnicity"} <= set(TABLES)
    lp = load_table("lsoa_population", denoms)
    assert {"lsoa_code", "year", "age", "population"} <= set(lp.columns) and set(lp["year"]) <= {2019, 2020}
    eth = load_table("ethnicity", denoms)
    assert {"csp_code", "ethnic_group", "ethnicity", "population"} <= set(eth.columns)
    with pytest.raises(SvtoolsError, match="not present"):  # an older dataset: present in TABLES, not on disk
        load_table("ethnicity", "demo")
    ctx = sections.ProfileContext.load(HARTLEPOOL, denoms, DEFINITION, "2025-03-31")
    from svtools.ingest import store

    with mock.patch.object(store, "load_table", wraps=store.load_table) as spy:
        assert len(ctx.ethnicity) and ctx.lsoa["population"].notna().any()
    assert {c.args[0] for c in spy.call_args_list} >= {"ethnicity", "lsoa_population"}
    old = sections.ProfileContext.load(HARTLEPOOL, "demo", DEFINITION, "2025-03-31")
    assert old._dataset_table("ethnicity") is None and len(old.ethnicity)  # the fallback for older datasets
