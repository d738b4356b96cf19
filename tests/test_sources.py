"""Sources: the registry and its contract, S3 listing that scales with objects (not days), bad URIs."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import ct_key, log_bytes, record, roletrail, write
from pydantic import BaseModel

from pipeline import config, sources, store
from pipeline.ingest import Progress, ingest
from pipeline.sources import SOURCES, open_source, option_models, source_class
from pipeline.sources.local import LocalSource
from pipeline.sources.s3 import S3Options, S3Source


class RecordingSource(LocalSource):
    """A local source under its own scheme (`rec://PATH`) that records what it is told."""

    def __init__(self, uri, options=None):
        super().__init__(uri.removeprefix("rec://"), options)
        self.told: list[str] = []
        self.closed = False
        RecordingSource.last = self

    def committed(self, refs):
        self.told += [r.uri for r in refs]

    def close(self):
        self.closed = True


def test_every_registered_source_keeps_the_contract():
    assert set(option_models()) == set(SOURCES)
    for scheme in SOURCES:
        cls = source_class(scheme)
        options = cls.Options()
        assert isinstance(options, BaseModel) and cls.Options.model_config.get("extra") == "forbid"
        for name in ("list", "fetch", "committed", "close"):
            assert callable(getattr(cls, name)), (scheme, name)
        assert {"workers", "task_objects"} <= set(type(options).model_fields), scheme


def test_a_uri_picks_its_source_by_scheme(tmp_path):
    assert isinstance(open_source(str(tmp_path)), LocalSource)
    assert isinstance(open_source(f"file://{tmp_path}"), LocalSource)
    assert isinstance(open_source("s3://bucket/AWSLogs/"), S3Source)
    with pytest.raises(store.RoletrailError, match=r"unknown source scheme ftp:// \(known: file, s3\)"):
        open_source("ftp://example/x")
    with pytest.raises(store.RoletrailError, match="does not exist"):
        open_source(str(tmp_path / "nope"))


def test_source_options_come_from_the_config(tmp_path):
    path = tmp_path / "roletrail.toml"
    path.write_text('[source]\nuri = "s3://b/"\n[source.s3]\nworkers = 3\ntask_objects = 7\n')
    cfg = config.load(path)
    source = open_source(cfg.source.uri, cfg.source)
    assert (source.workers, source.task_objects) == (3, 7)
    path.write_text("[source.s3]\nworkerz = 3\n")
    with pytest.raises(store.RoletrailError, match=r"source\.s3\.workerz: unknown key"):
        config.load(path)


def test_the_source_hears_of_every_object_once_it_is_recorded(tmp_path, db, monkeypatch):
    monkeypatch.setitem(SOURCES, "rec", "test_sources:RecordingSource")
    src = tmp_path / "src"
    good = write(src, ct_key(suffix="a"), log_bytes([record("e1")]))
    bad = write(src, ct_key(suffix="b"), b"not json")
    digest = write(src, "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz", b"{}")
    con = store.connect(db)
    try:
        ingest(con, f"rec://{src}", progress=Progress(enabled=False))
        first = RecordingSource.last
        # loaded, quarantined and skipped objects alike: each is in the manifest now
        assert sorted(first.told) == sorted(str(p) for p in (good, bad, digest)) and first.closed
        ingest(con, f"rec://{src}", progress=Progress(enabled=False))
        assert sorted(RecordingSource.last.told) == sorted(first.told)  # already recorded: told at once
    finally:
        con.close()


def _org(s3, bucket, days):
    """Two accounts (one in an organization trail) x two regions, one object per day."""
    keys = []
    for acct, org in (("111111111111", None), ("222222222222", "o-abcdefghij")):
        for region in ("us-east-1", "eu-west-1"):
            for day in days:
                key = ct_key(acct, region, day, "20240501T0000Z", "x", org)
                s3.put_object(
                    Bucket=bucket, Key=key, Body=log_bytes([record(f"{acct}{region}{day}", account=acct)])
                )
                keys.append(key)
    s3.put_object(Bucket=bucket, Key="AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz",
                  Body=b"{}")  # fmt: skip
    return keys


def _listing(bucket, since, until, page_size=1000):
    """The keys listed, and each ListObjectsV2 call made: (prefix, whether a delimiter listing)."""
    source = S3Source(f"s3://{bucket}", S3Options(page_size=page_size))
    calls = []

    def count(params, **kw):
        query = params["query_string"]
        calls.append((query.get("prefix", ""), "delimiter" in query))

    source.client.meta.events.register("before-call.s3.ListObjectsV2", count)
    keys = [r.key for r in source.list(since, until)]
    return keys, calls


def test_since_lists_each_region_once_whatever_the_number_of_days(s3, bucket, db):
    # two days past --until: a listing that went on past the first key after it would cost a call
    days = ("2024/04/30", "2024/05/01", "2024/05/02", "2024/05/03", "2024/05/04")
    _org(s3, bucket, days)
    keys, calls = _listing(bucket, dt.date(2024, 5, 1), dt.date(2024, 5, 2))
    assert len(keys) == 8 and all("/2024/05/01/" in k or "/2024/05/02/" in k for k in keys)
    roots = sorted(
        f"AWSLogs/{base}/CloudTrail/{region}/"
        for base in ("111111111111", "o-abcdefghij/222222222222")
        for region in ("us-east-1", "eu-west-1")
    )
    # one LIST per account and region (from --since's day on), never per day nor the whole bucket
    assert sorted(p for p, delim in calls if not delim) == roots
    discovery = [p for p, delim in calls if delim]
    # a year of --since costs the same calls: they do not grow with days
    keys_year, calls_year = _listing(bucket, dt.date(2023, 5, 1), dt.date(2024, 5, 2))
    assert sorted(keys_year) == sorted(keys + [k for k in _all_keys(s3, bucket) if "/2024/04/30/" in k])
    assert sorted(calls_year) == sorted(calls) and len(calls) == len(discovery) + len(roots)
    # with --since only, each root is listed to its end; still one call per root
    _, calls_open = _listing(bucket, dt.date(2023, 5, 1), None)
    assert len(calls_open) == len(calls)
    # they grow with objects: one key per page means a call per key listed, plus the one that
    # finds the first key past --until
    keys_paged, calls_paged = _listing(bucket, dt.date(2024, 5, 1), dt.date(2024, 5, 2), page_size=1)
    paged_roots = [p for p, delim in calls_paged if not delim]
    assert sorted(keys_paged) == sorted(keys) and len(paged_roots) == len(keys) + len(roots)
    s = _load(db, f"s3://{bucket}", since=dt.date(2024, 5, 3))
    assert s.records_loaded == 8


def _all_keys(s3, bucket):
    return [
        o["Key"]
        for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in p.get("Contents", [])
    ]


def test_until_alone_lists_from_the_start_and_stops_past_it(s3, bucket):
    _org(s3, bucket, ("2024/04/30", "2024/05/01", "2024/05/02"))
    keys, _ = _listing(bucket, None, dt.date(2024, 4, 30))
    assert len(keys) == 4 and all("/2024/04/30/" in k for k in keys)


def _load(db, uri, **kw):
    con = store.connect(db)
    try:
        return ingest(con, uri, progress=Progress(enabled=False), **kw)
    finally:
        con.close()


def test_bad_bucket_name_and_reversed_range_are_one_line_errors(tmp_path, moto_server):
    db = str(tmp_path / "x.duckdb")
    env = {"AWS_ENDPOINT_URL": moto_server}
    bad = roletrail("ingest", "s3://Bad_Bucket!/x", "--db", db, env=env)
    assert (
        bad.returncode == 1
        and bad.stderr.count("\n") == 1
        and "bad S3 bucket name 'Bad_Bucket!'" in bad.stderr
    )
    (tmp_path / "src").mkdir()
    rev = roletrail("ingest", tmp_path / "src", "--db", db, "--since", "2026-11-02", "--until", "2026-11-01")
    assert rev.returncode == 1 and rev.stderr.count("\n") == 1
    assert "--since 2026-11-02 is after --until 2026-11-01" in rev.stderr
    missing = roletrail("ingest", "s3://no-such-bucket-here/", "--db", db, env=env)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "NoSuchBucket" in missing.stderr


def test_s3_client_is_reexported_for_the_demo():
    assert sources.s3_client.__module__ == "pipeline.sources.s3"
