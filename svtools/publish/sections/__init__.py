"""Report sections: one call per notebook cell, each computing, showing and publishing one part of a profile.

A notebook is narrative plus calls::

    ctx = sections.ProfileContext.load(csp_code, dataset, definition, period_end)
    sections.success_measures(ctx)
    sections.monthly_spc(ctx)

Each section

* computes with the tested svtools functions (:mod:`svtools.analysis.measures`, :mod:`svtools.analysis.trends`,
  :mod:`svtools.analysis.cohorts`, :mod:`svtools.analysis.place_time`, :mod:`svtools.analysis.quality`,
  :mod:`svtools.analysis.stats`);
* shows an accessible HTML table with small counts suppressed (:func:`svtools.analysis.stats.suppress`: no
  count from 1 to the disclosure threshold, no record-level field) and publishes it as a CSV download
  (:func:`svtools.publish.output.publish_table`), and/or a chart (:mod:`svtools.publish.charts`) through
  :func:`svtools.publish.output.show` with alt text written from the data;
* returns a :class:`~svtools.publish.sections.context.SectionResult` holding the unsuppressed numbers, so
  tests can check them (they are never displayed).

When the dataset lacks what a section needs (data.police.uk has no ages, offence codes, knife flags or times
of day), the section shows one line saying why it is left out, never an empty chart.

The sections live in one module per notebook page; this package re-exports every one of them, so a notebook
calls ``sections.<name>(ctx)`` whichever module the section lives in:

* :mod:`~svtools.publish.sections.context` - :class:`~svtools.publish.sections.context.SectionResult`,
  :class:`~svtools.publish.sections.context.ProfileContext`, :data:`POLICE_UK_VIOLENCE` and the small helpers
  every page module shares (suppression, one-line notices, number formatting, publishing tables and charts,
  the area rates and SPC frame used by both the CSP profile and the force overview);
* :mod:`~svtools.publish.sections.profile_volume` - ``csp_profile.ipynb``, how much: ``headline``,
  ``financial_years``, ``success_measures``, ``hospital_admissions``, ``offence_mix``;
* :mod:`~svtools.publish.sections.comparison` - compared with what: ``rate_comparison`` (funnel plot);
* :mod:`~svtools.publish.sections.monthly` - month by month: ``monthly_spc``;
* :mod:`~svtools.publish.sections.profile_place_people` - ``csp_profile.ipynb``, where, when and who:
  ``hotspots``, ``deprivation``, ``when``, ``who``, ``under25``, ``repeat_victims``, ``harm_concentration``;
* :mod:`~svtools.publish.sections.place_context` - ``csp_profile.ipynb``, where it happens: ``place_context``
  (public space and homes, location types, the night-time economy);
* :mod:`~svtools.publish.sections.findings` - ``csp_profile.ipynb`` and ``london_csp.ipynb``: ``key_findings``
  ("What this page shows", from the statistics of the page's other sections);
* :mod:`~svtools.publish.sections.force` - ``force_overview.ipynb``: ``league_table``,
  ``special_cause_by_csp`` (the page also calls CSP-profile sections on a force context);
* :mod:`~svtools.publish.sections.trend` - ``trend_seasonality.ipynb``: ``stl_trend``, ``seasonality``,
  ``trend_model``, ``covid_interruption``;
* :mod:`~svtools.publish.sections.cohort` - ``cohort_under25.ipynb``: ``young_people``, ``young_ages``,
  ``young_sex``, ``young_ethnicity``, ``knife_involvement`` (the page also calls ``under25``, ``hotspots``,
  ``deprivation`` and ``when`` on the young-victim context);
* :mod:`~svtools.publish.sections.quality` - ``data_quality.ipynb``: ``completeness``, ``location_quality``,
  ``unknown_ages``, ``reconciliation``;
* :mod:`~svtools.publish.sections.counts` - ``london_csp.ipynb`` and ``london_overview.ipynb`` (count tables:
  :class:`~svtools.publish.sections.counts.CountsContext`): ``count_about``, ``count_years``, ``count_measure``,
  ``count_trend``, ``count_spc``, ``count_covid``, ``count_funnel``, ``count_league``, ``count_special_cause``.

Page modules import from :mod:`~svtools.publish.sections.context` and never from each other.
"""

from __future__ import annotations

from svtools.publish.sections.benchmarks import most_similar_csps, national_context
from svtools.publish.sections.cohort import (
    knife_involvement,
    young_ages,
    young_ethnicity,
    young_people,
    young_rates,
    young_sex,
)
from svtools.publish.sections.context import POLICE_UK_VIOLENCE, ProfileContext, SectionResult
from svtools.publish.sections.definitions import (
    DefinitionsContext,
    definitions_captured,
    definitions_difference,
    definitions_overlap,
)
from svtools.publish.sections import counts
from svtools.publish.sections.counts import (
    CountsContext,
    count_about,
    count_covid,
    count_funnel,
    count_league,
    count_measure,
    count_special_cause,
    count_spc,
    count_trend,
    count_years,
)
# suppress and funnel_significance_998 are public but not in __all__: still reachable as sections.<name>.
from svtools.publish.sections.context import suppress as suppress
from svtools.publish.sections.force import league_table
from svtools.publish.sections.findings import key_findings
from svtools.publish.sections.profile_place_people import (
    deprivation,
    harm_concentration,
    hotspots,
    repeat_victims,
    under25,
    when,
    who,
)
from svtools.publish.sections.comparison import funnel_significance_998 as funnel_significance_998
from svtools.publish.sections.comparison import rate_comparison
from svtools.publish.sections.monthly import monthly_spc, special_cause_by_csp
from svtools.publish.sections.place_context import place_context
from svtools.publish.sections.partners import (  # partner_view.ipynb (svtools/publish/sections/partners.py)
    partner_ae_police,
    partner_ae_who,
    partner_night,
    partner_unreported,
    partner_youth,
    partners_about,
)
from svtools.publish.sections.profile_volume import (
    financial_years,
    headline,
    hospital_admissions,
    offence_mix,
    success_measures,
)
from svtools.publish.sections.spine import alerts, red_red, spine_chart
from svtools.publish.sections.quality import completeness, location_quality, reconciliation, unknown_ages
from svtools.publish.sections.trend import covid_interruption, seasonality, stl_trend, trend_model

__all__ = [
    "POLICE_UK_VIOLENCE",
    "SectionResult",
    "ProfileContext",
    "key_findings",  # "What this page shows" (svtools/publish/sections/findings.py)
    "headline",
    "financial_years",
    "success_measures",
    "hospital_admissions",
    "rate_comparison",
    "league_table",
    "monthly_spc",
    "special_cause_by_csp",
    "offence_mix",
    "hotspots",
    "deprivation",
    "when",
    "who",
    "under25",
    "repeat_victims",
    "harm_concentration",
    "place_context",
    "stl_trend",
    "seasonality",
    "trend_model",
    "covid_interruption",
    "young_people",
    "young_rates",
    "young_ages",
    "young_sex",
    "young_ethnicity",
    "knife_involvement",
    "completeness",
    "location_quality",
    "unknown_ages",
    "reconciliation",
    *counts.__all__,  # the count-table pages' sections (svtools/publish/sections/counts.py)
    "DefinitionsContext",  # definition_comparison.ipynb (svtools/publish/sections/definitions.py)
    "definitions_captured",
    "definitions_overlap",
    "definitions_difference",
    "partners_about",  # partner_view.ipynb (svtools/publish/sections/partners.py)
    "partner_ae_police",
    "partner_unreported",
    "partner_night",
    "partner_ae_who",
    "partner_youth",
    "spine_chart",  # csp_profile / london_csp and alerts.ipynb (svtools/publish/sections/spine.py)
    "red_red",
    "alerts",
    "national_context",  # benchmarks: force_overview / london_overview (svtools/publish/sections/benchmarks.py)
    "most_similar_csps",  # benchmarks: csp_profile / london_csp
]
