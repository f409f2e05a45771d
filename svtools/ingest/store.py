"""Read the processed, validated tables in ``data/processed/<dataset>/`` (written by :mod:`svtools.ingest`).

A profile reads only its own CSP's slice (:func:`load_records`) and the small shared tables
(:func:`load_table`). Nothing here reads ``outputs/``.

The shared tables are read once per process (a warm kernel builds many pages): :func:`load_table` keeps the
frames it read in a bounded cache keyed on the file (path, size, modification time, inode) and on the content
digest of the dataset's ``dataset.json`` (:func:`dataset_digest`), so a re-ingested or rewritten table is read
again, and hands each caller its own copy (pandas copy-on-write: cheap, and nothing a caller does to it reaches
the cache). A table too large to keep whole in every kernel (a national ``lsoa_population``: 6.3M rows, about
190 MB) is read a force at a time instead (:func:`table_rows`: a parquet filter, so only the rows asked for are
ever held). A CSP's records (:func:`load_records`) are never cached.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from svtools.errors import MissingAreaError, SvtoolsError
from svtools.paths import processed_dir

__all__ = [
    "DATASETS",
    "DATASET_NAME",
    "list_datasets",
    "dataset_dir",
    "field_coverage",
    "dataset_info",
    "reconciliation",
    "load_records",
    "load_table",
    "dataset_digest",
    "table_key",
    "shared_table",
    "table_rows",
    "table_where",
    "csp_codes",
    "force_codes",
    "area_name",
]

#: The datasets the shipped commands make (``make data``, ``make real-reports``); any other name ingested with
#: ``svtools ingest --dataset NAME`` is a dataset too (:func:`list_datasets`).
DATASETS = ("demo", "police_uk")
#: A dataset name is a folder name under ``data/processed``: letters, digits, ``_`` and ``-``.
DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: The shared tables of a processed dataset (``docs/data_model.md``). ``lsoa_population`` (ONS LSOA single-year
#: estimates, mid-2019/2020) and ``ethnicity`` (Census 2021 residents by ethnic group) are written by
#: :func:`svtools.ingest.area_tables.write_area_tables`; datasets ingested before it lack them (the readers of
#: :class:`svtools.publish.sections.context.ProfileContext` then build them from the shipped tables).
TABLES = ("areas", "population", "lsoa", "lsoa_population", "ethnicity", "monthly_counts", "hospital_admissions",
          "excluded", "aggregate_counts")


def list_datasets() -> list[str]:
    """Names of the processed datasets present (folders of ``data/processed`` holding a ``dataset.json``)."""
    root = processed_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "dataset.json").is_file())


def dataset_dir(dataset: str = "demo") -> Path:
    """Folder of one processed dataset, with a clear error if it has not been ingested yet."""
    if not DATASET_NAME.match(str(dataset)):
        raise SvtoolsError(f"invalid dataset name {dataset!r}: use letters, digits, '_' and '-' (e.g. myforce)")
    path = processed_dir() / dataset
    if not (path / "dataset.json").is_file():
        present = list_datasets()
        known = f" (processed datasets: {', '.join(present)})" if present else ""
        hint = "(or `make data`)" if dataset == "demo" else "with your extract and mapping (see docs/onboarding.md)"
        raise SvtoolsError(
            f"{path}: no processed '{dataset}' data{known}; run `svtools ingest --dataset {dataset}` first {hint}"
        )
    return path


def field_coverage(dataset: str = "demo") -> dict[str, dict]:
    """Which canonical fields a dataset records, and how completely.

    Returns
    -------
    dict
        ``{field: {"recorded": bool, "known": int, "rows": int, "share_known": float or None}}`` for every
        canonical record field. ``recorded`` is False when the source had no such field (the mapping named no
        column, or an optional column was absent from the files); then ``known`` is 0 and ``share_known`` None.
        ``share_known`` is known / rows (rows = kept records). Written by the ingest into ``dataset.json``
        (``fields``); for datasets ingested before that, it is computed from the records.
    """
    info = dataset_info(dataset)
    if "fields" in info:
        return info["fields"]
    import pyarrow.dataset as pads

    path = dataset_dir(dataset) / "records"
    table = pads.dataset(path, format="parquet", partitioning="hive").to_table()
    out = {}
    for name in table.column_names:
        col = table[name]
        known = len(col) - col.null_count
        out[name] = {"recorded": known > 0, "known": int(known), "rows": len(col),
                     "share_known": (known / len(col)) if len(col) and known else None}
    return out


def dataset_info(dataset: str = "demo") -> dict:
    """Metadata of a processed dataset (``dataset.json``): synthetic or real, period, sources, input hashes."""
    return json.loads((dataset_dir(dataset) / "dataset.json").read_text(encoding="utf-8"))


def reconciliation(dataset: str = "demo") -> dict:
    """The ingest reconciliation report: rows in = rows kept + rows excluded, by reason and by file."""
    return json.loads((dataset_dir(dataset) / "reconciliation.json").read_text(encoding="utf-8"))


def load_records(csp_code: str, dataset: str = "demo", columns: list[str] | None = None) -> pd.DataFrame:
    """The validated records of one CSP, reading only that CSP's partition.

    Parameters
    ----------
    csp_code : str
        CSP code (2024), e.g. ``"E22000027"`` (Hartlepool).
    dataset : str
        Which processed dataset (a folder of ``data/processed``, e.g. ``demo``, ``police_uk``, ``myforce``).
    columns : list of str, optional
        Read only these columns.
    """
    part = dataset_dir(dataset) / "records" / f"csp_code={csp_code}"
    if not part.is_dir():
        raise MissingAreaError(csp_code, known=csp_codes(dataset))
    frame = pd.read_parquet(part, columns=columns)
    if columns is None or "csp_code" in columns:
        frame["csp_code"] = csp_code  # the partition key is not stored inside the file
    return frame


def dataset_digest(dataset: str = "demo") -> str:
    """Content key of a processed dataset: its folder and a hash of its ``dataset.json`` (rewritten by every
    ingest), the key of the caches of dataset-wide results."""
    p = dataset_dir(dataset) / "dataset.json"
    st = p.stat()
    return _digest_file(str(p), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=16)
def _digest_file(path: str, mtime_ns: int, size: int) -> str:
    return path + ":" + hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


#: Shared tables kept by :func:`load_table` (a dataset has 9 kinds; 16 hold every table of one dataset and
#: the small ones of another; the largest, a national ``lsoa_population``, is about 200 MB in memory).
TABLE_CACHE_SIZE = 16


def load_table(name: str, dataset: str = "demo") -> pd.DataFrame:
    """One shared table of a processed dataset (see ``docs/data_model.md``).

    Read once per process while the file and the dataset's ``dataset.json`` are unchanged (see the module
    docstring); each call returns a copy of its own (copy-on-write), which the caller may change freely."""
    return shared_table(name, dataset).copy(deep=False)


def table_key(name: str, dataset: str = "demo") -> tuple:
    """What identifies the version of one shared table on disk: the dataset's content digest
    (:func:`dataset_digest`) and the file's path, size, modification time and inode. Part of the key of every
    cache of results worked out from the table."""
    if name not in TABLES:
        raise SvtoolsError(f"unknown table '{name}' (known: {', '.join(TABLES)})")
    path = dataset_dir(dataset) / f"{name}.parquet"
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is None or not path.is_file():
        raise SvtoolsError(f"{path}: table not present in the '{dataset}' dataset")
    return dataset_digest(dataset), str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def shared_table(name: str, dataset: str = "demo") -> pd.DataFrame:
    """:func:`load_table` without the copy: the one frame this process keeps for the table's version on disk
    (the same object until the file or ``dataset.json`` changes). **Read it, never change it in place**; for a
    frame to change, use :func:`load_table`."""
    key = table_key(name, dataset)
    return _read_table(key[1], key)


@functools.lru_cache(maxsize=TABLE_CACHE_SIZE)
def _read_table(path: str, key: tuple) -> pd.DataFrame:
    return pd.read_parquet(path)


#: Row selections kept by :func:`table_rows`: a warm kernel builds the pages of the forces in any order (largest
#: inputs first), so a few forces' rows are kept; each is its force's share of the table (the largest, the Met's
#: LSOAs of a national ``lsoa_population``, 0.9M of 6.3M rows, about 30 MB).
ROWS_CACHE_SIZE = 4


def table_rows(name: str, dataset: str, column: str, values) -> pd.DataFrame:
    """The rows of one shared table whose ``column`` holds one of ``values``, read with a parquet filter: only
    those rows are ever in memory, never the whole table (a national ``lsoa_population`` is 6.3M rows; a
    force's LSOAs are a few hundred thousand).

    The same frame as ``shared_table(name, dataset)`` filtered with ``[column].isin(values)`` (same rows in the
    same order, same columns and dtypes), with a fresh ``RangeIndex``. Kept per process for the table's version
    on disk (:func:`table_key`) and the set of values, in a small bounded cache (:data:`ROWS_CACHE_SIZE`), like
    :func:`shared_table`: **read it, never change it in place**."""
    key = table_key(name, dataset)
    return _read_rows(key[1], key, column, frozenset(values))


@functools.lru_cache(maxsize=ROWS_CACHE_SIZE)
def _read_rows(path: str, key: tuple, column: str, values: frozenset) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    kind = pq.read_schema(path).field(column).type  # the value set typed as the column (an empty set too)
    wanted = pa.array(sorted(values), type=kind)
    meta = pq.ParquetFile(path).metadata
    if meta.schema.to_arrow_schema().metadata and b"PANDAS_ATTRS" in meta.schema.to_arrow_schema().metadata:
        return pd.read_parquet(path, filters=pc.field(column).isin(wanted))
    # A batch at a time: a filter over whole row groups (a national lsoa_population's are 1M rows each) decodes
    # each group whole before it filters, ~180 MB at once for the Met's rows of 6.3M; row groups whose
    # statistics hold none of the values are not read at all.
    col = meta.schema.names.index(column)
    ordered = sorted(values)
    groups = []
    for i in range(meta.num_row_groups):
        st = meta.row_group(i).column(col).statistics
        if st is not None and st.has_min_max and ordered and isinstance(st.min, type(ordered[0])):
            lo = bisect.bisect_left(ordered, st.min)
            if lo == len(ordered) or ordered[lo] > st.max:
                continue
        groups.append(i)
    pf = pq.ParquetFile(path)
    batches = [b.filter(pc.is_in(b.column(column), value_set=wanted))
               for b in pf.iter_batches(batch_size=ROWS_BATCH, row_groups=groups, use_pandas_metadata=True)]
    table = pa.Table.from_batches(batches, schema=pf.schema_arrow) if batches else pf.schema_arrow.empty_table()
    from pandas.io._util import arrow_table_to_pandas  # what pd.read_parquet converts with: the same dtypes

    return arrow_table_to_pandas(table)


#: Rows decoded at a time by :func:`table_rows` (a few MB of a national ``lsoa_population``).
ROWS_BATCH = 131_072


def table_where(name: str, dataset: str, where: Sequence[tuple] = (), columns: Sequence[str] | None = None
                ) -> pd.DataFrame:
    """The rows of one shared table that meet every condition of ``where``, read with a parquet filter (and
    only ``columns``, when given): only those rows and columns are ever in memory, and nothing is cached (a
    caller that reads the same rows again keeps its own, bounded, cache). A national ``monthly_counts`` is
    660k rows (about 72 MB in memory); one definition's codes in a period, or one force's rows of a few codes,
    are a fraction of it.

    A condition is ``(column, op, value)``: ``op`` one of ``"in"`` (``value`` a collection), ``"=="``,
    ``">="``, ``"<="``, ``">"``, ``"<"``. A row whose ``column`` is null meets no condition (as a pandas
    comparison or ``isin`` on the column, whose nulls are False in a mask).

    The same frame as ``shared_table(name, dataset)`` masked with the conditions (pandas comparisons,
    ``[column].isin(value)``) and then ``[columns]``: the same rows in the same order, the same dtypes, with a
    fresh ``RangeIndex``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    key = table_key(name, dataset)
    path = key[1]
    schema = pq.read_schema(path)
    expr = None
    for column, op, value in where:
        kind = schema.field(column).type
        field = pc.field(column)
        if op == "in":
            values = sorted(set(value), key=str)
            cond = field.isin(pa.array(values, type=kind))
        elif op in _OPS:
            cond = _OPS[op](field, _arrow_value(value, kind))
        else:
            raise SvtoolsError(f"table_where: unknown condition {op!r} (known: in, {', '.join(_OPS)})")
        expr = cond if expr is None else expr & cond
    cols = None if columns is None else list(columns)
    return pd.read_parquet(path, columns=cols, filters=expr)


_OPS = {"==": lambda f, v: f == v, ">=": lambda f, v: f >= v, "<=": lambda f, v: f <= v,
        ">": lambda f, v: f > v, "<": lambda f, v: f < v}


def _arrow_value(value, kind):
    """A filter's value as an Arrow scalar of the column's type ``kind`` (a timestamp at the column's unit)."""
    import pyarrow as pa

    if pa.types.is_timestamp(kind):
        return pa.scalar(pd.Timestamp(value)).cast(kind)
    return pa.scalar(value, type=kind)


def csp_codes(dataset: str = "demo", force: str | None = None) -> list[str]:
    """CSP codes in a dataset, optionally for one force (PFA code, or a name such as "Cleveland")."""
    areas = load_table("areas", dataset)
    if force is not None:
        sel = (areas["pfa_code"] == force) | (areas["pfa_name"].str.lower() == str(force).lower())
        if not sel.any():
            raise MissingAreaError(force, known=sorted(areas["pfa_code"].unique()))
        areas = areas[sel]
    return areas["csp_code"].tolist()


def force_codes(dataset: str = "demo") -> list[str]:
    """PFA codes of the forces in a dataset."""
    return sorted(load_table("areas", dataset)["pfa_code"].unique().tolist())


def area_name(code: str, dataset: str = "demo") -> str:
    """Name of a CSP or force code in a dataset."""
    areas = load_table("areas", dataset)
    for code_col, name_col in (("csp_code", "csp_name"), ("pfa_code", "pfa_name")):
        hit = areas.loc[areas[code_col] == code, name_col]
        if len(hit):
            return str(hit.iloc[0])
    raise MissingAreaError(code, known=areas["csp_code"].tolist())
