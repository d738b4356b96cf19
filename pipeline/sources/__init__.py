"""Where CloudTrail log files come from, one module per URI scheme.

SOURCES maps a scheme to its class ("module:Class", imported when used); a plain path is
"file". Adding a source is a new module plus a line here; its `Options` model becomes the
config's `[source.<scheme>]` table.
"""

from __future__ import annotations

import re
from importlib import import_module

from pipeline.errors import RoletrailError
from pipeline.sources.base import ObjectRef, Source, day_of_key, in_range, skip_reason
from pipeline.sources.s3 import s3_client

SOURCES = {
    "s3": "pipeline.sources.s3:S3Source",
    "file": "pipeline.sources.local:LocalSource",
}
SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")

__all__ = [
    "SOURCES", "ObjectRef", "Source", "day_of_key", "in_range", "open_source", "option_models",
    "s3_client", "scheme_of", "skip_reason", "source_class",
]  # fmt: skip


def scheme_of(uri: str) -> str:
    m = SCHEME.match(uri)
    return m[1].lower() if m else "file"


def source_class(scheme: str) -> type:
    if scheme not in SOURCES:
        raise RoletrailError(f"unknown source scheme {scheme}:// (known: {', '.join(sorted(SOURCES))})")
    module, _, name = SOURCES[scheme].partition(":")
    return getattr(import_module(module), name)


def option_models() -> dict:
    """[source.<scheme>] -> the source's options model."""
    return {scheme: source_class(scheme).Options for scheme in SOURCES}


def open_source(uri: str, section=None) -> Source:
    """The source for `uri`, with its options from the config's [source] section (if given)."""
    scheme = scheme_of(uri)
    cls = source_class(scheme)
    options = getattr(section, scheme, None) if section is not None else None
    return cls(uri, options or cls.Options())
