"""young_rates reads each financial year's under-25 status from the page's one pass over the records
(profile_volume._u25_status) instead of re-deriving the ages of every year's records (issue 12): the same status
as ProfileContext.field_status on that year's records, and the same "not recorded" years on the page."""

from __future__ import annotations

import numpy as np
import pytest

from svtools.publish import sections
from svtools.publish.sections.profile_volume import _u25_status

from section_helpers import CSP, DEFINITION  # noqa: E402


def _direct(ctx, year):
    recs = ctx.in_definition
    return ctx.field_status("victim_under_25", recs[recs["financial_year"].astype(str) == year])


@pytest.mark.parametrize("definition", [DEFINITION, "most_serious_violence"])
def test_each_year_has_the_field_status_of_its_records(demo_data, definition):
    ctx = sections.ProfileContext.load(CSP, "demo", definition, "2025-03-31")
    years = sorted(set(ctx.in_definition["financial_year"].astype(str))) + ["1999/00"]
    for y in years:
        assert _u25_status(ctx, y) == _direct(ctx, y), y


def test_a_year_with_no_known_victim_age_is_absent_both_ways(demo_data):
    ctx = sections.ProfileContext.load(CSP, "demo", DEFINITION, "2025-03-31")
    recs = ctx.in_definition
    year = recs["financial_year"].astype(str).iloc[0]
    mine = (recs["financial_year"].astype(str) == year).to_numpy()
    wiped = recs.copy()
    for c in ("victim_age", "victim_age_min", "victim_age_max", "victim_under_25"):
        if c in wiped.columns:
            wiped.loc[mine, c] = None
    ctx.__dict__["in_definition"] = wiped  # the cached property, replaced before any section reads it
    assert _direct(ctx, year) == "absent" == _u25_status(ctx, year)
    other = next(y for y in sorted(set(recs["financial_year"].astype(str))) if y != year)
    assert _u25_status(ctx, other) == _direct(ctx, other)


def test_young_rates_values_unchanged_in_shape(demo_data, shown):
    ctx = sections.ProfileContext.load(CSP, "demo", DEFINITION, "2025-03-31")
    res = sections.young_rates(ctx)
    if res.available:
        assert set(res.values["rates"]) == set(res.values["upper_bounds"])
        assert all(v is None or np.isfinite(v) for v in res.values["rates"].values())
