"""A batch: the objects of one transaction, their documents in newline-delimited streams on disk."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from pipeline.ingest.decode import Prepared
from pipeline.ingest.options import IngestOptions
from pipeline.sources import ObjectRef

STREAMS = max(2, min(8, os.cpu_count() or 2))


class Batch:
    """The objects of one transaction. Their documents go straight into newline-delimited
    streams on disk (`{"f": <number>, "d": <document>}` per line), one per DuckDB thread
    since read_json parallelises across files, not within one; Python keeps no document.

    The streams are filled one after the other, not in turn: objects come in listing order
    (account, region, day), so rows keep that order into the table and each row group
    spans a short stretch of time, which lets the detectors' time filters skip the rest."""

    def __init__(self, tmpdir: str, name: str, options: IngestOptions):
        self.options = options
        self.max_bytes = options.batch_bytes()
        self.budget = options.memory_budget()
        self.items: list[Prepared] = []
        self.docs: list[Prepared] = []  # the items written to the streams, by number
        self.skipped: list[ObjectRef] = []
        self.bytes = 0
        self.records = 0
        self.longest = 0
        self.tmpdir = tmpdir
        self.name = name
        self._paths = [Path(tmpdir) / f"{name}-{n}.ndjson" for n in range(STREAMS)]
        self._outs: list = [None] * STREAMS

    def add(self, p: Prepared) -> None:
        self.items.append(p)
        if p.doc is None:
            return
        n = min(STREAMS - 1, int(self.fill() * STREAMS))
        if self._outs[n] is None:
            self._outs[n] = open(self._paths[n], "wb")  # noqa: SIM115 (closed by close())
        p.number = len(self.docs)
        out = self._outs[n]
        out.write(b'{"f":%d,"d":' % p.number)
        out.write(p.doc)
        out.write(b"}\n")
        self.bytes += p.size
        self.records += p.records
        self.longest = max(self.longest, p.size)
        self.docs.append(p)
        p.doc = None

    def __bool__(self) -> bool:
        return bool(self.items or self.skipped)

    def memory(self, extra: int = 0) -> int:
        """About what DuckDB takes to load the batch (and a document of `extra` bytes): ~4x its
        JSON for the record texts and the typed parse, plus ~16x the longest document, which one
        thread reads and parses whole (measured: a 6.8 MB document alone needs 128-160 MB of
        memory_limit, a batch of 1.5 MB documents about 4x its bytes)."""
        return 4 * (self.bytes + extra) + 16 * max(self.longest, extra)

    def fill(self) -> float:
        """How full the batch is: 1.0 closes it."""
        o = self.options
        return max(self.records / o.batch_records, self.bytes / self.max_bytes, len(self.items) / o.batch_files,
                   self.memory() / self.budget)  # fmt: skip

    def fits(self, p: Prepared) -> bool:
        """Whether `p` can join without the batch going over its bytes or memory (an empty batch
        takes any document: one too big even alone is quarantined if it does not load)."""
        if not self.docs or p.doc is None:
            return True
        return self.bytes + p.size <= self.max_bytes and self.memory(p.size) <= self.budget

    @property
    def paths(self) -> list[Path]:
        return [path for path, out in zip(self._paths, self._outs, strict=True) if out is not None]

    def close(self) -> None:
        for out in self._outs:
            if out is not None:
                out.close()

    def remove(self) -> None:
        self.close()
        for path in self._paths:
            path.unlink(missing_ok=True)

    def halves(self, redecode: Callable[[Prepared], Prepared]) -> list[Batch]:
        """The batch as two, its documents decoded again from the fetched bytes (the streams
        are not read back): for a batch that did not fit in DuckDB's memory."""
        half = len(self.docs) // 2
        first, second = (
            Batch(self.tmpdir, f"{self.name}a", self.options),
            Batch(self.tmpdir, f"{self.name}b", self.options),
        )
        first.skipped = list(self.skipped)
        for p in self.items:
            target = second if p.number is not None and p.number >= half else first
            target.add(redecode(p) if p.number is not None else p)
        for b in (first, second):
            b.close()
        return [b for b in (first, second) if b]


def sized_chunks(refs: list[ObjectRef], n: int, max_bytes: int) -> Iterator[list[ObjectRef]]:
    """Groups of at most n objects and about max_bytes (compressed) each."""
    buf: list[ObjectRef] = []
    size = 0
    for r in refs:
        if buf and (len(buf) >= n or size + r.size > max_bytes):
            yield buf
            buf, size = [], 0
        buf.append(r)
        size += r.size
    if buf:
        yield buf


def chunks(it: Iterable, n: int) -> Iterator[list]:
    buf = []
    for x in it:
        buf.append(x)
        if len(buf) >= n:
            yield buf
            buf = []
    if buf:
        yield buf
