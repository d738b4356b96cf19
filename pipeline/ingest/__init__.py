"""Ingestion: list → fetch → decode → load, incremental and idempotent (see pipeline.ingest.run)."""

from pipeline.ingest.options import IngestOptions
from pipeline.ingest.progress import Progress
from pipeline.ingest.run import ingest
from pipeline.ingest.summary import IngestSummary

__all__ = ["IngestOptions", "IngestSummary", "Progress", "ingest"]
