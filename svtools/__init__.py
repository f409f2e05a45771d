"""svtools: Serious Violence Duty locality profiles.

Validated police, hospital and population data (``svtools.ingest``), UK public-health statistics
(``svtools.stats``), serious-violence measures and batch HTML publishing (``svtools.build``).
"""

__version__ = "0.1.0"
