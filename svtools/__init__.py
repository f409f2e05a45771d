"""svtools: Serious Violence Duty locality profiles.

Validated police, hospital and population data (``svtools.ingest``), UK public-health statistics
(``svtools.analysis.stats``), serious-violence measures and batch HTML publishing (``svtools.publish.batch``).
"""

__version__ = "0.1.0"
