"""Finds the detectors: every `detectors/<id>.py` with a DETECTOR and a matching `<id>.sql`."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from importlib import resources

import detectors
from detectors.base import Detector

NOT_DETECTORS = {"base", "registry"}


@cache
def all_detectors() -> tuple[Detector, ...]:
    found = []
    for mod in pkgutil.iter_modules(detectors.__path__):
        if mod.name in NOT_DETECTORS or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"detectors.{mod.name}")
        det = getattr(module, "DETECTOR", None)
        if isinstance(det, Detector):
            if det.id != mod.name:
                raise RuntimeError(
                    f"detectors/{mod.name}.py declares id {det.id!r}: the id must be the file name"
                )
            if not resources.files("detectors").joinpath(f"{det.id}.sql").is_file():
                raise RuntimeError(
                    f"detectors/{det.id}.py has no detectors/{det.id}.sql: a detector is both files"
                )
            found.append(det)
    return tuple(sorted(found, key=lambda d: d.id))


def get(detector_id: str) -> Detector:
    for d in all_detectors():
        if d.id == detector_id:
            return d
    raise KeyError(detector_id)
