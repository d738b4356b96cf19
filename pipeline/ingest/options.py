"""`[ingest]`: how big a batch (one transaction) may get, and DuckDB's memory for loading it."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field

MB = 1024 * 1024


def machine_memory_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // MB
    except (ValueError, OSError, AttributeError):
        return 4096


def default_memory_limit_mb() -> int:
    # half of the machine, at least 512 MB, at most 2 GB: a batch is sized to a fraction of it
    # and a batch that still does not fit is split, so more buys little and crowds out cron's
    # neighbours
    return max(512, min(2048, machine_memory_mb() // 2))


class IngestOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A batch closes at whichever comes first. ~4 DuckDB row groups of records (122,880 rows each)
    # lets DuckDB write them straight into the database file instead of through the WAL.
    batch_records: int = Field(default=480_000, ge=1, le=10_000_000)
    batch_mb: int = Field(default=384, ge=1, le=65_536)  # uncompressed JSON per batch
    batch_files: int = Field(default=2500, ge=1, le=1_000_000)
    # DuckDB's memory_limit while ingest runs (restored afterwards); default from the machine
    memory_limit_mb: int | None = Field(default=None, ge=64, le=4_194_304)
    # a log file whose JSON is larger than this is quarantined with its reason, never loaded
    max_document_mb: int = Field(default=512, ge=1, le=65_536)

    def memory_mb(self) -> int:
        return self.memory_limit_mb or default_memory_limit_mb()

    def batch_bytes(self) -> int:
        return self.batch_mb * MB

    def memory_budget(self) -> int:
        """What DuckDB may take for one batch (pipeline.ingest.batch.Batch.memory): three
        quarters of memory_limit; a batch that still does not fit is loaded in halves."""
        return self.memory_mb() * MB * 3 // 4
