"""The ingest's reconciliation report: rows in = rows kept + rows excluded, by reason and by file."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["IngestReport"]



@dataclass
class IngestReport:
    """Reconciliation of one ingest: rows in = rows kept + rows excluded (by reason).

    ``attributes_excluded`` counts values set to unknown because they were unusable while the crime itself was
    sound (``{"victim_age": {"invalid_victim_age": 12}}``): those rows are kept. ``warnings`` lists what an
    analyst should know (an optional column absent from a file, and what the pages leave out).
    """

    dataset: str
    rows_in: int = 0
    rows_kept: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    by_file: dict[str, dict] = field(default_factory=dict)
    dropped_columns: dict[str, list[str]] = field(default_factory=dict)
    attributes_excluded: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    out_of_force: int = 0
    csps: int = 0
    checked_only: bool = False
    #: reasons from the mapping's ``exclude:`` rules (rows out of scope by design, e.g. anti-social behaviour in
    #: data.police.uk files): they do not count against the limit on exclusions
    scope_reasons: set = field(default_factory=set)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows_excluded(self) -> int:
        return int(sum(self.excluded.values()))

    def balanced(self) -> bool:
        """True when rows in = rows kept + rows excluded, overall and for every file."""
        files_ok = all(f["rows_in"] == f["rows_kept"] + sum(f["excluded_by_reason"].values())
                       for f in self.by_file.values())
        return self.rows_in == self.rows_kept + self.rows_excluded and files_ok

    def add_file(self, name: str, rows_in: int, kept: int, reasons: dict[str, int]) -> None:
        f = self.by_file.setdefault(name, {"rows_in": 0, "rows_kept": 0, "excluded_by_reason": {}})
        f["rows_in"] += rows_in
        f["rows_kept"] += kept
        for k, v in reasons.items():
            f["excluded_by_reason"][k] = f["excluded_by_reason"].get(k, 0) + int(v)
            self.excluded[k] = self.excluded.get(k, 0) + int(v)
        self.rows_in += rows_in
        self.rows_kept += kept

    def add_attributes(self, counts: dict) -> None:
        for (name, reason), n in counts.items():
            per = self.attributes_excluded.setdefault(name, {})
            per[reason] = per.get(reason, 0) + int(n)

    def limited_share(self) -> float:
        """Share of rows excluded for a fault (scope exclusions such as anti-social behaviour left out)."""
        faults = sum(v for k, v in self.excluded.items() if k not in self.scope_reasons)
        return faults / self.rows_in if self.rows_in else 0.0

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "rows_in": self.rows_in,
            "rows_kept": self.rows_kept,
            "rows_excluded": self.rows_excluded,
            "excluded_by_reason": dict(sorted(self.excluded.items())),
            "out_of_scope_reasons": sorted(self.scope_reasons),
            "attributes_set_unknown": {k: dict(sorted(v.items())) for k, v in sorted(self.attributes_excluded.items())},
            "balanced": self.balanced(),
            "out_of_force_kept": self.out_of_force,
            "csps": self.csps,
            "by_file": self.by_file,
            "dropped_columns": self.dropped_columns,
            "warnings": self.warnings,
            "seconds": self.seconds,
        }

    def summary(self) -> str:
        """A few lines for the terminal."""
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(self.excluded.items())) or "none"
        head = "check only, nothing written: " if self.checked_only else ""
        lines = [f"{head}{self.dataset}: {self.rows_in:,} rows in = {self.rows_kept:,} kept + "
                 f"{self.rows_excluded:,} excluded ({reasons}); {self.csps} CSPs; {self.out_of_force:,} kept rows "
                 "lie outside their force"]
        for name, per in sorted(self.attributes_excluded.items()):
            lines.append(f"  {name}: set to unknown on kept rows: " + ", ".join(f"{k} {v:,}" for k, v in per.items()))
        if len(self.by_file) > 1 or self.checked_only:
            for name, f in self.by_file.items():
                ex = ", ".join(f"{k} {v:,}" for k, v in sorted(f["excluded_by_reason"].items())) or "none excluded"
                lines.append(f"  {name}: {f['rows_in']:,} in, {f['rows_kept']:,} kept ({ex})")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)
