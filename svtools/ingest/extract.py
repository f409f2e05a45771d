"""Ingest: ``data/raw`` (never edited) -> validated, typed parquet in ``data/processed/<dataset>/``.

For every source file, in batches of ``ingest.batch_rows`` rows (bounded memory): read every cell as text
(:mod:`svtools.ingest.readers`: CSV in any common encoding and delimiter, ``.csv.gz``, ``.xlsx``) -> parse each
field as the mapping says (:mod:`svtools.ingest.mapping`, :mod:`svtools.ingest.standardise`) -> derive month,
financial year, offence group and severity weight -> place in geography (LSOA -> LAD -> CSP -> PFA) -> detect
duplicates (across batches, files and, with ``append``, what the dataset already holds) -> validate against the
canonical pandera schema -> append the kept rows to one parquet partition per CSP. At the end: the shared tables,
``dataset.json`` (with the coverage of every field) and a reconciliation report (rows in = kept + excluded, by
reason and by file).

Bad input raises :class:`~svtools.errors.DataValidationError` naming the file, the column and example rows. With
``on_invalid="exclude"`` a row whose crime is unsound is excluded with its reason, and a bad victim or suspect
attribute is set to unknown and counted (the crime is kept); if more than ``max_excluded_share`` of the rows are
excluded for a fault, the ingest fails with the counts by reason. Structural faults (binary files, a missing
mapped column, a duplicated header) always raise. Nothing is dropped silently.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from svtools import __version__
from svtools.config import read_yaml, settings
from svtools.errors import DataValidationError
from svtools.ingest.geography import areas, assign_geography
from svtools.ingest.mapping import Mapping, load_mapping
from svtools.ingest.parse import HEADER_ROW, parse_datetimes
from svtools.ingest.readers import ReadOptions, iter_text_batches, read_header
from svtools.ingest.report import IngestReport
from svtools.ingest.schema import check_records
from svtools.ingest.standardise import (
    FIELD_USES,
    financial_year,
    scope,
    scope_reason,
    standardise_extract,
    standardise_police_uk,
)
from svtools.paths import CONFIG, processed_dir, raw_dir, real_data_dir

__all__ = [
    "Mapping",
    "load_mapping",
    "read_source",
    "standardise_extract",
    "standardise_police_uk",
    "financial_year",
    "parse_datetimes",
    "ingest_extract",
    "ingest_demo",
    "ingest_police_uk",
    "IngestReport",
]

log = logging.getLogger(__name__)
_LOCATION_REASONS = (("unlocated", "unlocated"), ("unknown", "unknown_lsoa"), ("malformed", "malformed_lsoa"))


# --------------------------------------------------------------------------- reading
def _options(mapping: Mapping) -> ReadOptions:
    return ReadOptions.from_mapping(mapping.files)


def _columns_for(path: Path, mapping: Mapping, report: IngestReport) -> tuple[list[str], set[str]]:
    """The source columns to read from one file, checking every mapped column is there.

    A missing column is an error, unless its field is declared ``optional``: then a warning names what the
    pages will leave out. Returns the columns to read and the fields absent from this file.
    """
    header = read_header(path, _options(mapping))
    present = set(header)
    absent_fields: set[str] = set()
    missing = []
    for name, spec in mapping.fields.items():
        gone = [c for c in spec.source_columns if c not in present]
        if not gone:
            continue
        if spec.optional:
            absent_fields.add(name)
            report.warnings.append(f"{path.name}: optional column(s) {', '.join(map(repr, gone))} ({name}) not in "
                                   f"the file: {FIELD_USES.get(name, 'its tables')} will say it is not recorded")
        else:
            missing.append((name, gone))
    if missing:
        import difflib

        missing.sort(key=lambda m: m[0] not in mapping.required)
        first_name, first_cols = missing[0]
        close = difflib.get_close_matches(first_cols[0], header, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        what = "missing required column(s)" if first_name in mapping.required else "mapped column(s) not in the file"
        raise DataValidationError(
            f"{what}: " + "; ".join(f"{', '.join(map(repr, c))} (-> {n})" for n, c in missing)
            + f"{hint}. Fix the mapping"
            + ("" if first_name in mapping.required else ", or mark the field 'optional: true' if this extract "
               "does not have it"),
            file=str(path), column=first_cols[0], examples=[f"columns present: {', '.join(header[:15])}"])
    wanted = [c for c in mapping.source_columns() if c in present]
    dropped = [c for c in header if c not in wanted]
    if dropped:
        report.dropped_columns[path.name] = dropped
    unknown = [c for c in dropped if c not in mapping.drop_columns]
    if unknown:
        log.info("%s: dropping unmapped columns %s", path, unknown)
    return wanted, absent_fields


def _batch_frame(table: pa.Table) -> dict[str, pd.Series]:
    return {name: table[name].to_pandas(types_mapper=pd.ArrowDtype).astype("string")
            for name in table.column_names}


def read_source(path: str | Path, mapping: Mapping | str) -> tuple[pd.DataFrame, list[str]]:
    """Read one whole source file as text (for exploring; the ingest reads in batches).

    Returns the frame (all text, blanks missing) with canonical names for the fields read from one column each
    (source names for the rest, e.g. a date and a time column), and the source columns not read (unmapped).
    """
    mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    path = Path(path)
    report = IngestReport(dataset="")
    wanted, _ = _columns_for(path, mapping, report)
    parts = [pd.DataFrame(_batch_frame(t)) for t in iter_text_batches(path, _options(mapping), columns=wanted)]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=wanted)
    rename = {spec.column: name for name, spec in mapping.fields.items() if spec.column and len(spec.source_columns) == 1}
    return frame.rename(columns=rename), report.dropped_columns.get(path.name, [])


# --------------------------------------------------------------------------- duplicates
def _arrow_text(series: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A text column as arrow large_string (its own chunks, no copy, when it is arrow-backed already)."""
    arr = series.array
    if isinstance(arr, pd.arrays.ArrowStringArray) and arr._pa_array.type == pa.large_string():
        return arr._pa_array
    return pa.array(series, type=pa.large_string(), from_pandas=True)


class _Keys:
    """Row keys seen so far (64-bit hashes), to find duplicates across batches and files in bounded memory.

    A row's key is its crime reference with its victim id; a row without a victim id is keyed on its whole
    source text, so two victims of one crime whose ids are blank are not duplicates unless every recorded
    field is the same. The chance that two different keys share a hash is below 1e-5 for 10 million rows.
    """

    def __init__(self, existing: np.ndarray | None = None, remember_files: bool = False):
        self.existing = np.sort(existing) if existing is not None else np.empty(0, dtype="uint64")
        self.seen = np.empty(0, dtype="uint64")
        self.files: list[tuple[str, np.ndarray]] | None = [] if remember_files else None

    @staticmethod
    def of(raw: dict[str, pd.Series], typed: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Keys of a batch and a mask of rows keyed by crime + victim id (else by the whole row)."""
        ref = _arrow_text(typed["crime_ref"])
        by_id = np.asarray(ref.is_valid()).copy()
        if "victim_id" in typed:
            vic = _arrow_text(typed["victim_id"])
            by_id &= np.asarray(vic.is_valid())
            joined = pc.binary_join_element_wise(ref, vic, pa.scalar("\x1f", pa.large_string()))
        else:
            by_id[:] = False
            joined = ref
        # hash_array(categorize=False) gives every string the hash the default gives it (it only skips the
        # factorising, which for keys that are nearly all distinct is most of the cost)
        keys = np.zeros(len(by_id), dtype="uint64")
        if by_id.any():
            ids = joined.filter(pa.array(by_id)) if not by_id.all() else joined
            keys[by_id] = pd.util.hash_array(ids.to_numpy(zero_copy_only=False), categorize=False)
        if not by_id.all():  # rows without a victim id: the whole source row is the key
            rest = ~by_id
            sel = pa.array(rest)
            cols = [pc.fill_null(_arrow_text(v).filter(sel), "\x00") for v in raw.values()]
            whole = pc.binary_join_element_wise(*cols, pa.scalar("\x1f", pa.large_string())).to_numpy(zero_copy_only=False)
            keys[rest] = pd.util.hash_array(whole, categorize=False) ^ np.uint64(0x9E3779B97F4A7C15)
        return keys, by_id

    @staticmethod
    def _isin(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
        if not len(sorted_keys):
            return np.zeros(len(keys), dtype=bool)
        if len(keys) > 1000:  # look the keys up in sorted order: ~8x faster on a large set (memory locality)
            order = np.argsort(keys)
            ordered = keys[order]
            pos = np.minimum(np.searchsorted(sorted_keys, ordered), len(sorted_keys) - 1)
            out = np.empty(len(keys), dtype=bool)
            out[order] = sorted_keys[pos] == ordered
            return out
        pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        return sorted_keys[pos] == keys

    def mark(self, keys: np.ndarray, file: str) -> tuple[np.ndarray, np.ndarray]:
        """Masks of keys already seen in this ingest, and already held by the dataset (when appending)."""
        held = self._isin(self.existing, keys)
        seen = (pd.Series(keys).duplicated(keep="first").to_numpy() | self._isin(self.seen, keys)) & ~held
        fresh = np.sort(keys)
        if len(fresh):
            fresh = fresh[np.concatenate([[True], fresh[1:] != fresh[:-1]])]
        if self.files is not None:
            self.files.append((file, fresh))
        # the sorted union of the keys seen and these: the new ones inserted where they sort (linear)
        if len(fresh):
            new = fresh[~self._isin(self.seen, fresh)]
            self.seen = np.insert(self.seen, np.searchsorted(self.seen, new), new) if len(self.seen) else new
        return seen, held

    def first_file(self, key: np.uint64, but: str) -> str | None:
        """The earlier file holding a key (only when files are remembered: strict mode)."""
        for name, keys in (self.files or [])[:-1]:
            if name != but and self._isin(keys, np.array([key], dtype="uint64"))[0]:
                return name
        return None


def _existing_keys(out: Path) -> np.ndarray | None:
    path = out / "row_keys.parquet"
    return pd.read_parquet(path)["key"].to_numpy(dtype="uint64") if path.is_file() else None


# --------------------------------------------------------------------------- pipeline
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


class _Background:
    """One worker thread that runs jobs in the order given (parquet writes: arrow releases the GIL, so a batch is
    written while the next one is parsed). At most ``depth`` jobs wait; the first failure is raised by the next
    :meth:`submit` or by :meth:`wait`."""

    def __init__(self, depth: int = 2, threads: int = 1):
        import threading

        self.depth, self.threads = depth, threads
        self.pool: ThreadPoolExecutor | None = None
        self.pending: list[Future] = []
        self.lock = threading.Lock()

    def submit(self, fn, *args) -> None:
        with self.lock:
            if self.pool is None:
                self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="svtools-write")
            self.pending.append(self.pool.submit(fn, *args))
        while True:
            with self.lock:
                if not (len(self.pending) > self.depth or (self.pending and self.pending[0].done())):
                    return
                first = self.pending.pop(0)
            first.result()

    def wait(self) -> None:
        """Finish every job; raise the first failure."""
        try:
            while self.pending:
                self.pending.pop(0).result()
        finally:
            self.close()

    def close(self) -> None:
        """Stop (after the running job): for the error path, before the staging folder is removed."""
        for f in self.pending:
            f.cancel()
        self.pending = []
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None


def _workers() -> int:
    """Workers for several files: ``SVTOOLS_INGEST_WORKERS``, else 2 when this process may use 2 or more
    processors, else 1."""
    import os

    if os.environ.get("SVTOOLS_INGEST_WORKERS"):
        return max(1, int(os.environ["SVTOOLS_INGEST_WORKERS"]))
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return 2 if cpus >= 2 else 1


def _warm_caches() -> None:
    """Build the shared lookups once before workers use them side by side (an error is left for the batch
    that needs the lookup to raise, in its place)."""
    from svtools.ingest.geography import _lookup_arrays
    from svtools.ingest.reference import css_weights, offence_codes

    for build in (_lookup_arrays, offence_codes, css_weights, areas, settings):
        try:
            build()
        except Exception:  # noqa: BLE001
            pass


class _Compact:
    """A batch's monthly counts held with its text columns as categories (a few bytes a row instead of a
    string each: a large ingest keeps one of these per batch until the end); :meth:`restore` gives the frame
    back with its own dtypes and values."""

    def __init__(self, frame: pd.DataFrame):
        self.dtypes = frame.dtypes.to_dict()
        text = [c for c, t in self.dtypes.items() if isinstance(t, pd.StringDtype)]
        self.frame = frame.astype({c: "category" for c in text}) if text else frame

    def restore(self) -> pd.DataFrame:
        out = {}
        for c, dtype in self.dtypes.items():
            col = self.frame[c]
            if isinstance(dtype, pd.StringDtype) and isinstance(col.dtype, pd.CategoricalDtype) and \
                    dtype == pd.StringDtype("pyarrow"):  # one arrow take from the categories
                codes = col.cat.codes.to_numpy()
                cats = pa.array(col.cat.categories.to_numpy(dtype=object), type=pa.large_string())
                taken = cats.take(pa.array(np.where(codes < 0, 0, codes), mask=codes < 0))
                out[c] = pd.Series(pd.arrays.ArrowStringArray(taken), index=col.index, name=c)
            else:
                out[c] = col.astype(dtype)
        return pd.DataFrame(out, index=self.frame.index)


@dataclass
class _Batch:
    """One batch on its way through the pipeline (see :meth:`_Pipeline._prepare`)."""

    path: Path
    offset: int
    t: float
    n: int = 0
    seconds: float = 0.0
    located: pd.DataFrame | None = None
    reasons: pd.Series | None = None
    attributes: dict | None = None
    keys: np.ndarray | None = None
    by_id: np.ndarray | None = None
    is_out: np.ndarray | None = None
    number: int | None = None
    new_keys: np.ndarray | None = None
    excluded: pd.DataFrame | None = None
    file_counts: tuple | None = None
    kept: dict | None = None
    _keys: np.ndarray | None = None

    def keys_kept(self, is_out: np.ndarray) -> np.ndarray:
        return self._keys[~is_out]


class _ReadAhead:
    """Reads the files on a background thread, one batch ahead: for each file its columns (checked by
    :func:`_columns_for` into a report of its own), then its batches as text; an error is handed over in its
    place and raised when the reader reaches it. pyarrow's CSV parsing releases the GIL, so reading overlaps
    the parsing of the batch before."""

    _END = object()

    def __init__(self, files: list[Path], mapping: Mapping, batch_rows: int, depth: int = 1):
        import queue
        import threading

        self.files_, self.mapping, self.batch_rows = files, mapping, batch_rows
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, name="svtools-read", daemon=True)

    def __enter__(self) -> _ReadAhead:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        while self.thread.is_alive():  # unblock a waiting put
            try:
                self.queue.get(timeout=0.05)
            except Exception:  # noqa: BLE001 - queue.Empty
                pass
        self.thread.join()

    def _put(self, item) -> bool:
        import queue

        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for path in self.files_:
                found = IngestReport(dataset="")
                wanted, absent = _columns_for(path, self.mapping, found)
                if not self._put(("file", path, (wanted, absent, found))):
                    return
                for table in iter_text_batches(path, _options(self.mapping), columns=wanted,
                                               batch_rows=self.batch_rows):
                    if not self._put(("batch", table, _batch_frame(table))):
                        return
                if not self._put(("end", None, None)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reader
            self._put(("error", exc, None))
            return
        self._put(("done", None, None))

    def _get(self):
        kind, a, b = self.queue.get()
        if kind == "error":
            raise a
        return kind, a, b

    def files(self):
        """(path, (columns, absent fields, report)) of each file in turn; :meth:`next_batch` after each."""
        while True:
            kind, path, info = self._get()
            if kind == "done":
                return
            yield path, info

    def next_batch(self) -> tuple[int, dict] | None:
        """The next batch of the current file: (rows, text columns as Series); None at its end."""
        kind, table, raw = self._get()
        return None if kind == "end" else (table.num_rows, raw)


class _Pipeline:
    """State carried across the batches and files of one ingest."""

    def __init__(self, mapping: Mapping, dataset: str, out: Path, strict: bool, check: bool, append: bool,
                 max_excluded: float, batch_rows: int):
        self.mapping, self.out, self.strict, self.check = mapping, out, strict, check
        self.report = IngestReport(dataset=dataset, checked_only=check,
                                   scope_reasons={scope_reason(v) for vs in mapping.exclude.values() for v in vs})
        self.kind = mapping.schema
        self.standardise = standardise_extract if self.kind == "police_extract" else standardise_police_uk
        self.max_excluded, self.batch_rows = max_excluded, batch_rows
        self.existing_keys = _existing_keys(out) if append else None
        self.keys = _Keys(self.existing_keys, remember_files=strict)
        self.staging = None if check else Path(tempfile.mkdtemp(prefix=".ingest-", dir=_ensure(out.parent)))
        self.writer = _Background(depth=1)
        self.workers = _workers()
        self.excluded: list[pd.DataFrame] = []
        self.monthly: list[pd.DataFrame] = []
        self.known: dict[str, int] = {}
        self.absent: dict[str, int] = {}
        self.forces: set[str] = set()
        self.months: list = []
        self.n_batches = 0
        self.new_keys: list[np.ndarray] = []

    def count_keys(self) -> list[str]:
        if self.kind == "police_extract":
            return ["ho_offence_code", "offence_group", "knife_flag", "domestic_flag", "victim_under_25"]
        return ["crime_type"]

    def run_files(self, files: list[Path]) -> dict[str, int]:
        """Ingest the files in order, batch by batch; returns in how many files each optional field is absent.

        With several files and processors, two workers take a file each (:meth:`_run_parallel`); else one.
        """
        if self.workers > 1 and len(files) > 1:
            return self._run_parallel(files, min(self.workers, len(files)))
        return self._run_sequential(files)

    def _run_sequential(self, files: list[Path]) -> dict[str, int]:
        """Ingest the files in order, batch by batch.

        A background thread reads ahead (the next batch is parsed as text while this one is processed); what it
        finds - a file's columns, its batches, or the error that stops it - is handled here in file order, so
        the report and the first error are the same as reading in turn.
        """
        absent_in: dict[str, int] = {}
        with _ReadAhead(files, self.mapping, self.batch_rows) as ahead:
            for path, (wanted, absent, found) in ahead.files():
                self.report.warnings.extend(found.warnings)
                self.report.dropped_columns.update(found.dropped_columns)
                offset = 0
                while (item := ahead.next_batch()) is not None:
                    rows, raw = item
                    item = None
                    if not raw:
                        continue
                    b = self._prepare(raw, path, offset)
                    offset += rows
                    raw = None  # the text of the batch is no longer needed
                    self._mark(b)
                    self._finish(b)
                    self._commit(b)
                if not offset:
                    raise DataValidationError("the file has a header but no rows", file=str(path))
                for name in absent:
                    absent_in[name] = absent_in.get(name, 0) + 1
        return absent_in

    def _run_parallel(self, files: list[Path], workers: int) -> dict[str, int]:
        """Workers (threads: the heavy work is in arrow and numpy, which release the GIL) each read and process
        a whole file at a time, taking the files in order. A worker marks duplicates only when every earlier
        file has been marked (its turn), so duplicates are found exactly as in turn; the results of each file
        (or the error that stopped it) are committed here in file and batch order, and the first error in that
        order is the one raised."""
        import queue
        import threading

        _warm_caches()
        # a worker holds its batch while the writer holds the one before: rows held stay about batch_rows
        per_worker = max(1, self.batch_rows // (2 * workers))
        queues = [queue.Queue() for _ in files]
        lock, turn, stop = threading.Condition(), [0], threading.Event()
        taken = iter(range(len(files)))

        def pass_turn(i: int) -> None:
            with lock:
                if turn[0] == i:
                    turn[0] = i + 1
                    lock.notify_all()

        def wait_turn(i: int) -> bool:
            with lock:
                while turn[0] != i and not stop.is_set():
                    lock.wait(0.1)
            return not stop.is_set()

        def one_file(i: int) -> None:
            path, out = files[i], queues[i].put
            found = IngestReport(dataset="")
            wanted, absent = _columns_for(path, self.mapping, found)
            out(("file", (wanted, absent, found)))
            tables = iter_text_batches(path, _options(self.mapping), columns=wanted, batch_rows=per_worker)
            offset, table = 0, next(tables, None)
            while table is not None:
                rows, raw = table.num_rows, _batch_frame(table)
                table = None
                b = None
                if raw:
                    b = self._prepare(raw, path, offset)
                    raw = None
                    if not wait_turn(i):
                        return
                    self._mark(b)
                try:
                    table_next = next(tables, None)  # read ahead: the last batch gives the turn on at once
                except BaseException as exc:
                    pass_turn(i)
                    if b is not None:
                        self._finish(b)
                        out(("batch", b))
                    raise exc
                if table_next is None:
                    pass_turn(i)
                if b is not None:
                    self._finish(b)
                    out(("batch", b))
                    offset += rows
                table, table_next = table_next, None
            if not offset:
                raise DataValidationError("the file has a header but no rows", file=str(path))
            out(("end", absent))

        def work() -> None:
            while not stop.is_set():
                with lock:
                    i = next(taken, None)
                if i is None:
                    return
                try:
                    one_file(i)
                except BaseException as exc:  # noqa: BLE001 - raised by the committer, in file order
                    queues[i].put(("error", exc))
                finally:
                    pass_turn(i)

        threads = [threading.Thread(target=work, name=f"svtools-ingest-{k}", daemon=True) for k in range(workers)]
        for th in threads:
            th.start()
        absent_in: dict[str, int] = {}
        try:
            for q in queues:
                kind, item = q.get()
                if kind == "error":
                    raise item
                _, absent, found = item
                self.report.warnings.extend(found.warnings)
                self.report.dropped_columns.update(found.dropped_columns)
                while True:
                    kind, item = q.get()
                    if kind == "error":
                        raise item
                    if kind == "end":
                        break
                    self._commit(item)
                for name in absent:
                    absent_in[name] = absent_in.get(name, 0) + 1
        finally:
            stop.set()
            with lock:
                lock.notify_all()
            for th in threads:
                th.join()
        return absent_in

    # A batch goes through four steps. prepare and finish depend on nothing but the batch; mark (duplicates
    # against everything before) and commit (into the report and the running totals) are taken in file and
    # batch order, so with several workers the outcome - kept rows, reasons, report, file names, the first
    # error - is the one of doing every batch in turn.
    def _prepare(self, raw: dict[str, pd.Series], path: Path, offset: int) -> _Batch:
        b = _Batch(path=path, offset=offset, t=time.perf_counter())
        b.n = len(next(iter(raw.values())))
        typed, pr = self.standardise(raw, self.mapping, file=str(path), strict=self.strict, line_offset=offset)
        scope(typed, self.mapping, pr)
        b.reasons, b.attributes = pr.reasons, pr.attributes
        located, _ = assign_geography(typed, "lsoa_code", force_column="reporting_force", inplace=True)
        status = located["lsoa_status"]
        for state, reason in _LOCATION_REASONS:
            hit = b.reasons.isna() & (status == state)
            if hit.any():
                b.reasons[hit] = reason
        b.located = located.drop(columns=["lsoa_status"])
        b.keys, b.by_id = _Keys.of(raw, typed)
        b._keys = b.keys
        b.seconds = time.perf_counter() - b.t
        return b

    def _mark(self, b: _Batch) -> None:
        """Duplicates (only among rows that are otherwise sound); numbers the batch's output file."""
        reasons, keys, by_id, located = b.reasons, b.keys, b.by_id, b.located
        sound = reasons.isna().to_numpy()
        seen = np.zeros(b.n, dtype=bool)
        held = np.zeros(b.n, dtype=bool)
        seen[sound], held[sound] = self.keys.mark(keys[sound], b.path.name)
        if seen.any():
            dup_reason = np.where(by_id, "duplicate_crime_victim", "duplicate_row")
            if self.strict:
                first = int(np.flatnonzero(seen)[0])
                other = self.keys.first_file(keys[first], b.path.name)
                where = f" (also in {other})" if other else " (earlier in the same file)"
                ref = located["crime_ref"].iloc[first]
                if by_id[first]:
                    ref = f"{ref} / {located['victim_id'].iloc[first]}"
                raise DataValidationError(
                    f"duplicate crime x victim row(s){where}: the same {self.mapping.source('crime_ref')} and "
                    f"{self.mapping.source('victim_id')} (or, without a victim id, the same whole row) occur twice; "
                    "use --lenient to exclude the repeats (counted)", file=str(b.path),
                    column=self.mapping.source("crime_ref"),
                    examples=[f"line {first + b.offset + HEADER_ROW}: {ref!r}"], n_bad=int(seen.sum()))
            reasons[seen] = dup_reason[seen]
        if held.any():
            reasons[held] = "already_in_dataset"
        b.is_out = reasons.notna().to_numpy()
        if not b.is_out.all():
            b.number = self.n_batches
            self.n_batches += 1

    def _finish(self, b: _Batch) -> None:
        t = time.perf_counter()
        is_out, reasons, located, path = b.is_out, b.reasons, b.located, b.path
        b.located = b.reasons = b.keys = None  # the batch's frame is held only here from now on
        any_out = bool(is_out.any())
        rows = np.flatnonzero(~is_out) if any_out else None  # the kept rows (None: every row); not copied
        n_kept = b.n - int(is_out.sum())
        b.new_keys = b.keys_kept(is_out)
        if any_out:
            ex = located.take(np.flatnonzero(is_out))
            ex["exclusion_reason"] = reasons[is_out].astype("string")
            ex["source_file"] = path.name
            ex["source_line"] = np.flatnonzero(is_out) + b.offset + HEADER_ROW
            b.excluded = ex.reset_index(drop=True)
            del ex
        counts = reasons[is_out].value_counts().to_dict()
        b.file_counts = (path.name, b.n, n_kept, {str(k): int(v) for k, v in counts.items()})
        if n_kept:
            check_records(located, self.kind, source=str(path), rows=rows)
            b.kept = self._summarise(located, rows)
            if self.staging is not None:
                table = pa.Table.from_pandas(located, preserve_index=False)
                del located
                self.writer.submit(_write_partitions, table, self.staging / "records", f"part-{b.number}-0.parquet",
                                   rows)
        b._keys = None
        b.seconds += time.perf_counter() - t

    def _summarise(self, located: pd.DataFrame, rows: np.ndarray | None) -> dict:
        """What the running totals need from a batch's kept rows (``rows`` of ``located``; None: all)."""
        def kept(col: str) -> pd.Series:
            return located[col] if rows is None else located[col].take(rows)

        force = kept("reporting_force")
        forces = set(force.dropna().unique().tolist())
        out_of_force = kept("out_of_force")
        if force.isna().all():
            forces.update(kept("pfa_code")[~out_of_force.to_numpy()].dropna().unique().tolist())
        keys = ["csp_code", "pfa_code", "month", "financial_year"] + self.count_keys()
        frame = located[keys] if rows is None else located[keys].take(rows)
        month = kept("month")

        def known(col: str) -> int:
            if rows is None:
                return int(located[col].count())
            return int(located[col].notna().to_numpy()[rows].sum())

        # in first-seen order (the total at the end is summed and sorted by these keys again)
        monthly = frame.groupby(keys, observed=True, dropna=False, sort=False).size().rename("offences").reset_index()
        return {"known": {col: known(col) for col in located.columns}, "forces": forces,
                "out_of_force": int(out_of_force.sum()), "months": [month.min(), month.max()],
                "monthly": _Compact(monthly)}

    def _commit(self, b: _Batch) -> None:
        self.report.add_attributes(b.attributes)
        self.new_keys.append(b.new_keys)
        if b.excluded is not None:
            self.excluded.append(b.excluded)
        self.report.add_file(*b.file_counts)
        if b.kept is not None:
            for col, k in b.kept["known"].items():
                self.known[col] = self.known.get(col, 0) + k
            self.forces.update(b.kept["forces"])
            self.report.out_of_force += b.kept["out_of_force"]
            self.months += b.kept["months"]
            self.monthly.append(b.kept["monthly"])
        self.report.seconds["batches"] = round(self.report.seconds.get("batches", 0) + b.seconds, 2)

    def coverage(self, absent_everywhere: set[str]) -> dict[str, dict]:
        rows = self.report.rows_kept
        out = {}
        from svtools.ingest.mapping import RECORD_FIELDS

        for name in RECORD_FIELDS[self.kind]:
            cols = _outputs_of(name)
            known = max((self.known.get(c, 0) for c in cols), default=0)
            recorded = (name in self.mapping.fields or name in self.mapping.constants) and name not in absent_everywhere
            out[name] = {"recorded": bool(recorded and known > 0), "known": int(known) if recorded else 0,
                         "rows": rows, "share_known": round(known / rows, 6) if recorded and rows and known else None}
        for derived in ("victim_under_25", "occurred_hour"):
            if derived in self.known:
                k = self.known[derived]
                out[derived] = {"recorded": k > 0, "known": k, "rows": rows,
                                "share_known": round(k / rows, 6) if rows and k else None}
        return out


#: Columns written without parquet's dictionary encoding: nearly every value differs, so the dictionary it
#: tries first is thrown away (the values read back are the same either way).
_PLAIN_COLUMNS = frozenset({"crime_ref", "victim_id", "suspect_id", "occurred_at"})


def _write_partitions(table: pa.Table, root: Path, basename: str, rows: np.ndarray | None = None) -> None:
    """Write ``table`` (its ``rows``; None: all) as one hive partition per CSP (``root/csp_code=<code>/
    <basename>``), without the partition column, rows in their order within each CSP: one file (one row group)
    per CSP, taken one CSP at a time."""
    i = table.schema.get_field_index("csp_code")
    column = table.column(i).combine_chunks()
    csp = pc.dictionary_encode(column if rows is None else column.take(pa.array(rows)))
    body = table.remove_column(i)
    codes = csp.indices.to_numpy(zero_copy_only=False)
    counts = np.bincount(codes, minlength=len(csp.dictionary))
    order = np.argsort(codes, kind="stable")
    if rows is not None:
        order = rows[order]
    starts = np.concatenate([[0], np.cumsum(counts)])
    single = len(counts) == 1 and rows is None
    for k, name in enumerate(csp.dictionary.to_pylist()):
        if counts[k]:
            folder = _ensure(root / f"csp_code={name}")
            part = body if single else body.take(pa.array(order[starts[k]:starts[k + 1]]))  # one CSP at a time
            pq.write_table(part, folder / basename, compression="snappy", row_group_size=max(int(counts[k]), 1),
                           use_dictionary=[c for c in part.column_names if c not in _PLAIN_COLUMNS])
            del part


def _outputs_of(name: str) -> list[str]:
    """The canonical columns a mapped field produces."""
    if name.endswith("_age"):
        return [name, f"{name}_min", f"{name}_max"] + (["victim_under_25"] if name == "victim_age" else [])
    if name == "occurred_at":
        return ["occurred_at", "occurred_hour"]
    return [name]


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _expand(files, mapping: Mapping) -> list[Path]:
    if isinstance(files, (str, Path)):
        files = [Path(files)]
    out: list[Path] = []
    for f in map(Path, files):
        if f.is_dir():
            out.extend(sorted(p for p in f.rglob("*") if p.is_file() and fnmatch.fnmatch(p.name, mapping.file_pattern)))
        elif not f.exists():
            raise DataValidationError("file not found", file=str(f))
        else:
            out.append(f)
    if not out:
        raise DataValidationError(f"no input files matching '{mapping.file_pattern}' (set 'files: pattern:' in the "
                                  "mapping)", file=", ".join(str(f) for f in files))
    return out


def _same_content(files: list[Path]) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for p in files:
        h = _sha256(p)
        for other, oh in hashes.items():
            if oh == h:
                raise DataValidationError(f"has the same content as {other} (sha256 {h[:12]}…): the same extract was "
                                          "given twice; give it once", file=str(p))
        hashes[p.name if p.name not in hashes else str(p)] = h
    return hashes


def _monthly_total(parts: list[_Compact]) -> pd.DataFrame:
    """The monthly counts of every batch, summed (what :func:`_shared_tables` writes)."""
    monthly = pd.concat([m.restore() for m in parts], ignore_index=True)
    keys = [c for c in monthly.columns if c != "offences"]
    return monthly.groupby(keys, observed=True, dropna=False)["offences"].sum().reset_index()


def _shared_tables(forces: set[str], monthly: pd.DataFrame, out: Path, summed: bool = False) -> list[str]:
    """areas, population (every mid-year), lsoa, lsoa_population and ethnicity for every CSP of the reporting
    forces (:func:`svtools.ingest.area_tables.write_area_tables`, the one writer of the shared area tables for
    record and count datasets), and monthly_counts.

    Records placed in other forces' CSPs are kept (flagged ``out_of_force`` and counted in the data-quality
    report) but those CSPs get no profile of their own.
    """
    from svtools.ingest.area_tables import write_area_tables

    area = areas()
    csp_list = write_area_tables(area.loc[area["pfa_code"].isin(forces), "csp_code"], out)
    if not summed:  # (summed: already the sum by these keys, from _monthly_total)
        keys = [c for c in monthly.columns if c != "offences"]
        monthly = monthly.groupby(keys, observed=True, dropna=False)["offences"].sum().reset_index()
    monthly["offences"] = monthly["offences"].astype("int64")
    monthly.to_parquet(out / "monthly_counts.parquet", index=False)
    return csp_list


def _run(files: list[Path], mapping: Mapping, dataset: str, out: Path, on_invalid: str, meta: dict,
         check: bool = False, append: bool = False, max_excluded: float | None = None,
         batch_rows: int | None = None) -> IngestReport:
    if on_invalid not in ("raise", "exclude"):
        raise ValueError("on_invalid must be 'raise' or 'exclude'")
    t0 = time.perf_counter()
    cfg = settings().get("ingest", {})
    limit = float(cfg.get("max_excluded_share", 0.05) if max_excluded is None else max_excluded)
    if not 0 <= limit <= 1:
        raise ValueError("max_excluded must be a share between 0 and 1 (e.g. 0.05)")
    # the inputs are hashed on a thread while they are read; the checks on the hashes come first all the same:
    # whatever else fails, a repeated or already-ingested file is what is reported
    hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="svtools-sha256")
    hashed = hashing.submit(_same_content, files)
    hashing.shutdown(wait=False)

    def input_files() -> dict[str, str]:
        hashes = hashed.result()
        if append:
            held = (json.loads((out / "dataset.json").read_text()).get("input_files", {})
                    if (out / "dataset.json").is_file() else {})
            for name, h in hashes.items():
                for old, oh in held.items():
                    if oh == h:
                        raise DataValidationError(f"was already ingested into '{dataset}' as {old} (same "
                                                  "content): a re-delivered extract; nothing to add", file=name)
        return hashes

    try:
        pipe = _Pipeline(mapping, dataset, out, on_invalid == "raise", check, append, limit,
                         int(batch_rows or cfg.get("batch_rows", 1_000_000)))
    except BaseException:
        input_files()
        raise
    report = pipe.report
    try:
        try:
            absent_in = pipe.run_files(files)
        except BaseException:
            input_files()
            raise
        hashes = input_files()
        report.seconds["read_parse_place"] = round(time.perf_counter() - t0, 2)
        if not report.balanced():  # pragma: no cover - would be a bug in svtools
            raise DataValidationError(f"reconciliation does not balance: {report.to_dict()}")
        share = report.limited_share()
        if share > limit:
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(report.excluded.items(), key=lambda kv: -kv[1]))
            raise DataValidationError(
                f"{share:.1%} of {report.rows_in:,} rows would be excluded, above the limit of {limit:.0%} "
                f"({reasons}); fix the mapping or the extract, or raise --max-excluded if this is expected",
                file=str(files[0].parent))
        if not report.rows_kept:
            raise DataValidationError("no rows could be kept (see the exclusions by reason)", file=str(files[0].parent))
        report.csps = len({c for m in pipe.monthly for c in m.frame["csp_code"].unique()})
        if check:
            report.seconds["total"] = round(time.perf_counter() - t0, 2)
            return report
        absent_all = {n for n, k in absent_in.items() if k == len(files)}
        # the monthly totals are summed while the writer finishes (when appending, with the dataset's own later)
        adding = append and (out / "records").exists()
        monthly = pd.concat([m.restore() for m in pipe.monthly], ignore_index=True) if adding else \
            _monthly_total(pipe.monthly)
        pipe.monthly = []
        pipe.writer.wait()
        _write(pipe, out, files, hashes, meta, append, absent_all, monthly, summed=not adding)
    finally:
        pipe.writer.close()
        if pipe.staging is not None and pipe.staging.exists():
            shutil.rmtree(pipe.staging, ignore_errors=True)
    report.seconds["total"] = round(time.perf_counter() - t0, 2)
    (out / "reconciliation.json").write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    return report


def _write(pipe: _Pipeline, out: Path, files, hashes: dict, meta: dict, append: bool, absent_all: set,
           monthly: pd.DataFrame, summed: bool = False) -> None:
    t = time.perf_counter()
    report = pipe.report
    out.mkdir(parents=True, exist_ok=True)
    old_meta = json.loads((out / "dataset.json").read_text()) if append and (out / "dataset.json").is_file() else {}
    staged = pipe.staging / "records"
    root = out / "records"
    excluded = pd.concat(pipe.excluded, ignore_index=True) if pipe.excluded else pd.DataFrame(
        columns=["exclusion_reason", "source_file", "source_line"])
    keys = np.concatenate(pipe.new_keys) if pipe.new_keys else np.empty(0, dtype="uint64")
    if append and root.exists():
        for part in staged.iterdir():  # add this delivery's files to each CSP's partition
            dest = _ensure(root / part.name)
            for f in part.iterdir():
                f.rename(dest / f"{f.stem}-{len(list(dest.iterdir()))}{f.suffix}")
        if (out / "monthly_counts.parquet").is_file():
            monthly = pd.concat([pd.read_parquet(out / "monthly_counts.parquet"), monthly], ignore_index=True)
            summed = False
        if (out / "excluded.parquet").is_file():
            excluded = pd.concat([pd.read_parquet(out / "excluded.parquet"), excluded], ignore_index=True)
        if pipe.existing_keys is not None:
            keys = np.concatenate([pipe.existing_keys, keys])
        pipe.forces.update(old_meta.get("forces", []))
    else:
        if root.exists():
            shutil.rmtree(root)
        staged.rename(root)
    excluded.to_parquet(out / "excluded.parquet", index=False)
    pd.DataFrame({"key": keys}).to_parquet(out / "row_keys.parquet", index=False)
    _shared_tables(pipe.forces, monthly, out, summed=summed)
    months = pd.Series(pipe.months + [pd.Timestamp(old_meta[k]) for k in ("period_start", "period_end")
                                      if k in old_meta]).dropna()
    report.seconds["write"] = round(time.perf_counter() - t, 2)
    mapping = pipe.mapping
    meta = {
        **meta,
        "dataset": report.dataset,
        "schema": pipe.kind,
        "kind": mapping.kind,
        "mapping": mapping.name,
        "source": meta.get("source") or mapping.source_label or mapping.description or mapping.name,
        "input_files": {**old_meta.get("input_files", {}), **hashes},
        "period_start": str(months.min().date()),
        "period_end": str((months.max() + pd.offsets.MonthEnd(0)).date()),
        "rows": report.rows_kept + int(old_meta.get("rows", 0)),
        "csps": int(len(list(root.iterdir()))),
        "forces": sorted(pipe.forces),
        "fields": pipe.coverage(absent_all),
        "geography": read_yaml(CONFIG / "geography.yaml")["lookup_vintage"],
        "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "svtools_version": __version__,
    }
    if append:
        meta["deliveries"] = old_meta.get("deliveries", 1) + 1
    (out / "dataset.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def ingest_extract(files: list[Path] | Path, mapping: str | Path | Mapping, dataset: str = "demo",
                   out_dir: Path | None = None, on_invalid: str = "raise", synthetic: bool = False,
                   extra_meta: dict | None = None, check: bool = False, append: bool = False,
                   max_excluded: float | None = None, batch_rows: int | None = None) -> IngestReport:
    """Ingest one or more extract files (one source system) into ``data/processed/<dataset>/``.

    Parameters
    ----------
    files : path or list of paths
        Files in the source system's layout (a folder: every file matching the mapping's ``files: pattern``).
    mapping : str, path or Mapping
        The source system's mapping (``config/mappings/<name>.yaml`` or a path; ``docs/onboarding.md``).
    dataset : str
        Name of the processed dataset (folder under ``data/processed``).
    out_dir : path, optional
        Where to write (default ``data/processed/<dataset>``).
    on_invalid : {"raise", "exclude"}
        Raise on the first bad value (default), or exclude unsound rows with their reason and set bad
        attributes to unknown (counted).
    synthetic : bool
        Mark the dataset as synthetic (every page built from it says so).
    check : bool
        Dry run: read, parse and reconcile everything, write nothing.
    append : bool
        Add a new delivery to an existing dataset: rows it already holds are excluded as ``already_in_dataset``
        and a file it already holds is refused.
    max_excluded : float, optional
        Fail when more than this share of rows is excluded for a fault (default ``ingest.max_excluded_share``
        in ``config/settings.yaml``, 5%).
    batch_rows : int, optional
        Rows read and parsed at a time (default ``ingest.batch_rows``).
    """
    mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    files = _expand(files, mapping)
    meta = {"synthetic": synthetic, "input_folder": str(files[0].parent), **(extra_meta or {})}
    return _run(files, mapping, dataset, Path(out_dir or processed_dir() / dataset), on_invalid, meta, check=check,
                append=append, max_excluded=max_excluded, batch_rows=batch_rows)


def ingest_demo(raw: Path | None = None, out_dir: Path | None = None, on_invalid: str = "raise") -> IngestReport:
    """Ingest the synthetic demo extract (``data/raw/demo``) and its hospital admissions into ``processed/demo``."""
    raw = Path(raw or raw_dir() / "demo")
    out = Path(out_dir or processed_dir() / "demo")
    hospital = raw / "hospital_admissions.csv"
    sources = ["Synthetic police extract generated by `svtools demo-data` (not real crime data)",
               "Synthetic hospital admissions for assault by a sharp object (not real HES data)",
               "ONS mid-year population estimates 2019 and 2020 by LSOA (OGL v3.0)",
               "English IMD 2019 and Welsh IMD 2019 (OGL v3.0)",
               "ONS LSOA, LAD, CSP and PFA lookups (OGL v3.0)"]
    report = ingest_extract(raw, "demo_extract", "demo", out, on_invalid, synthetic=True,
                            extra_meta={"sources": sources, "source": "Synthetic demo police extract"})
    if hospital.is_file():
        ingest_hospital(hospital, out)
    if (raw / "partner_ae_attendances.csv").is_file():  # SYNTHETIC partner data (svtools/ingest/demo_partners.py)
        from svtools.ingest.demo_partners import ingest_partners
        ingest_partners(raw, out, on_invalid=on_invalid)
    return report


def ingest_hospital(path: Path, out_dir: Path) -> pd.DataFrame:
    """Aggregated hospital admissions (``data_formats.md`` §3) through the counts engine
    (:func:`svtools.ingest.aggregate.ingest_hospital_counts`, ``config/mappings/hospital_hes.yaml``): ``*`` or
    blank stays suppressed, never 0."""
    from svtools.ingest.aggregate import ingest_hospital_counts

    return ingest_hospital_counts(path, out_dir)


def ingest_police_uk(folder: Path | None = None, out_dir: Path | None = None, on_invalid: str = "raise",
                     check: bool = False, max_excluded: float | None = None) -> IngestReport:
    """Ingest data.police.uk street-level files (default: the 9 forces shipped in ``../shared/data/real``)."""
    folder = Path(folder or real_data_dir() / "police_uk" / "forces_2022-01_to_2022-11")
    mapping = load_mapping("police_uk")
    files = _expand(folder, mapping)
    meta = {"synthetic": False, "input_folder": str(folder), "source": "data.police.uk street-level crime",
            "sources": ["data.police.uk street-level crime (Home Office, OGL v3.0)",
                        "ONS mid-year population estimates 2019 and 2020 by LSOA (OGL v3.0)",
                        "English IMD 2019 and Welsh IMD 2019 (OGL v3.0)",
                        "ONS LSOA, LAD, CSP and PFA lookups (OGL v3.0)"]}
    return _run(files, mapping, "police_uk", Path(out_dir or processed_dir() / "police_uk"), on_invalid, meta,
                check=check, max_excluded=max_excluded)
