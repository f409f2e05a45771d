"""Phase 1 of the pipeline: from what analysts receive to validated, typed tables in ``data/processed/``.

Modules, in the order data flows through them:

* :mod:`~svtools.ingest.readers` - read any extract as text (CSV in any common encoding and delimiter,
  ``.csv.gz``, ``.xlsx``), refusing binary files and damaged headers; :mod:`~svtools.ingest.inspect` describes a
  file and drafts a mapping;
* :mod:`~svtools.ingest.mapping` - the mapping language v2 (``docs/onboarding.md``);
* :mod:`~svtools.ingest.parse` and :mod:`~svtools.ingest.standardise` - text to typed canonical fields;
* :mod:`~svtools.ingest.extract` - the record pipeline, in batches: read, parse, place, de-duplicate, validate and
  write ``data/processed/<dataset>/`` with a reconciliation (rows in = kept + excluded, by reason and file);
* :mod:`~svtools.ingest.aggregate` - tables of counts (area x period x category) through the same kind of mapping;
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
