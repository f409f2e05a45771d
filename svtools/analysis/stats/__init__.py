"""Public-health statistics for the Serious Violence Duty profiles.

Rates, proportions and standardised rates/ratios with confidence intervals, funnel plots (all as
PHEindicatormethods 2.1.0, the UKHSA implementation of the OHID Fingertips methods), SPC charts with the
NHS England Making Data Count rules (as NHSRplotthedots 0.2.2), and disclosure control for published tables.
See ``docs/methods.md`` in the shared documentation for the formulas and sources.

Every rate/proportion/funnel function accepts scalars, numpy arrays or pandas Series and returns a
:class:`pandas.DataFrame`.
"""

from svtools.analysis.stats.compare import change_words, format_ratio, interval_words, rate_ratio
from svtools.analysis.stats.funnels import (
    Overdispersion,
    adjusted_funnel_limits,
    adjusted_funnel_significance,
    funnel_limits,
    funnel_significance,
    overdispersion,
)
from svtools.analysis.stats.rates import dsr, isr, proportion, rate
from svtools.analysis.stats.spc import spc, spc_summary
from svtools.analysis.stats.suppression import assert_no_small_counts, suppress, suppressed_mask

__all__ = [
    "rate",
    "proportion",
    "dsr",
    "isr",
    "funnel_limits",
    "funnel_significance",
    "overdispersion",
    "Overdispersion",
    "adjusted_funnel_limits",
    "adjusted_funnel_significance",
    "spc",
    "spc_summary",
    "suppress",
    "suppressed_mask",
    "assert_no_small_counts",
    "rate_ratio",
    "interval_words",
    "change_words",
    "format_ratio",
]
