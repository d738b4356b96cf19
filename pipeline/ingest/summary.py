"""What one ingest run did, as counters and the lines printed after it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(kw_only=True)
class ObjectCounts:
    """The counts `ingest` and `lake build` both keep: the same rules, the same numbers."""

    objects_listed: int = 0
    objects_new: int = 0
    objects_loaded: int = 0
    objects_skipped: int = 0
    objects_quarantined: int = 0
    records_loaded: int = 0
    records_quarantined: int = 0
    duplicates_dropped: int = 0
    seconds: float = 0.0
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (uri, reason)


@dataclass
class IngestSummary(ObjectCounts):
    source: str
    run_id: str
    objects_failed: int = 0
    records_skipped: int = 0  # Insights records inside Records documents
    id_collisions: int = 0
    batches_split: int = 0  # batches that did not fit in memory_limit and were loaded in halves
    record_reasons: dict[str, int] = field(default_factory=dict)
    fetch_errors: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the source's own lines (Source.report)

    @property
    def records_per_second(self) -> float:
        return self.records_loaded / self.seconds if self.seconds else 0.0

    def merge(self, other: IngestSummary) -> None:
        """Add a committed batch's counts (kept apart until its transaction commits)."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, int) and not isinstance(mine, bool):
                setattr(self, f.name, mine + theirs)
            elif isinstance(mine, list):
                mine.extend(theirs)
            elif isinstance(mine, dict):
                for k, v in theirs.items():
                    mine[k] = mine.get(k, 0) + v

    def lines(self) -> list[str]:
        out = [
            f"objects: {self.objects_listed} listed, {self.objects_new} new, {self.objects_loaded} loaded, "
            f"{self.objects_skipped} skipped, {self.objects_quarantined} quarantined"
            + (f", {self.objects_failed} failed to fetch (retried next run)" if self.objects_failed else ""),
            f"records: {self.records_loaded} loaded, {self.duplicates_dropped} duplicates dropped, "
            f"{self.records_quarantined} quarantined, {self.id_collisions} event id collisions kept"
            + (f", {self.records_skipped} Insights records skipped" if self.records_skipped else ""),
            f"time: {self.seconds:.2f} s, {self.records_per_second:,.0f} records/s"
            + (f" ({self.batches_split} batches split to fit memory_limit)" if self.batches_split else ""),
        ]
        for uri, reason in self.quarantined[:20]:
            out.append(f"quarantined {uri}: {reason}")
        if len(self.quarantined) > 20:
            out.append(
                f"... and {len(self.quarantined) - 20} more quarantined objects (table ingest_manifest)"
            )
        for reason, n in sorted(self.record_reasons.items()):
            out.append(f"quarantined records: {n} x {reason} (table quarantined_records)")
        for uri, err in self.fetch_errors[:5]:
            out.append(f"fetch failed {uri}: {err}")
        return out + self.notes
