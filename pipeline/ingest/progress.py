"""Progress while ingest runs: a tqdm bar on a terminal, a log line every 10 s otherwise (cron)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, enabled: bool | None = None, stream=None):
        self.stream = stream or sys.stderr
        tty = self.stream.isatty() if enabled is None else enabled
        self.bar = None
        self.last = time.monotonic()
        if tty:
            from tqdm import tqdm

            self.bar = tqdm(unit=" objects", file=self.stream, dynamic_ncols=True, leave=False)

    def update(self, summary, n: int) -> None:
        """A batch of `n` objects committed; `summary` holds the run's counts so far."""
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix(records=summary.records_loaded, refresh=False)
        elif time.monotonic() - self.last >= 10:
            self.last = time.monotonic()
            print(
                f"roletrail ingest: {summary.objects_loaded + summary.objects_quarantined} objects, "
                f"{summary.records_loaded} records so far",
                file=self.stream,
                flush=True,
            )

    def close(self):
        if self.bar is not None:
            self.bar.close()
