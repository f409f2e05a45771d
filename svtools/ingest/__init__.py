"""Phase 1 of the pipeline: from what analysts receive to validated, typed tables in ``data/processed/``.

Modules, in the order data flows through them:

* :mod:`~svtools.ingest.extract` - read an extract, apply its column mapping, parse, validate and write
  ``data/processed/<dataset>/`` with a reconciliation (rows in = kept + excluded, by reason and file);
* :mod:`~svtools.ingest.schema` - the canonical record schema (pandera);
* :mod:`~svtools.ingest.geography` - LSOA -> local authority -> CSP -> police force area;
* :mod:`~svtools.ingest.reference` - reference data read in place (population, IMD, lookups, ESP 2013, ...);
* :mod:`~svtools.ingest.definitions` - local definitions of serious violence (``config/definitions/``);
* :mod:`~svtools.ingest.demo` - the seeded synthetic extract with known truth;
* :mod:`~svtools.ingest.store` - reading the processed store back (one CSP's records, shared tables).

Nothing here imports :mod:`svtools.analysis` or :mod:`svtools.publish`.
"""

from svtools.ingest.extract import (
    IngestReport,
    Mapping,
    financial_year,
    ingest_demo,
    ingest_extract,
    ingest_police_uk,
    load_mapping,
    read_source,
    standardise_extract,
    standardise_police_uk,
)

__all__ = [
    "IngestReport",
    "Mapping",
    "financial_year",
    "ingest_demo",
    "ingest_extract",
    "ingest_police_uk",
    "load_mapping",
    "read_source",
    "standardise_extract",
    "standardise_police_uk",
]
