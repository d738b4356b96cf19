"""The command line and the README: every command documented, the README's config valid."""

from __future__ import annotations

import re

from click.testing import CliRunner
from conftest import ROOT, roletrail

from detectors.registry import all_detectors
from pipeline import config as config_mod
from pipeline.cli import main

DESIGN_COMMANDS = {"ingest", "detect", "notify", "run", "sql", "chain", "detectors", "demo"}


def test_every_command_exists_and_has_an_example():
    assert DESIGN_COMMANDS <= set(main.commands)
    for name, cmd in main.commands.items():
        assert cmd.help and "Example:" in cmd.help, name
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_readme_names_both_commands_and_every_cli_command():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    for name in main.commands:
        assert f"roletrail {name}" in readme, name


def test_readme_config_is_valid(tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Configuration.*?```toml\n(.*?)```", readme, re.S).group(1)
    path = tmp_path / "roletrail.toml"
    path.write_text(block)
    cfg = config_mod.load(path)
    assert cfg.notify.email.from_ == "roletrail@example.com"
    assert cfg.suppressions[0].detector == "unknown_source_ip"


def test_detectors_command_lists_all(tmp_path):
    out = roletrail("detectors", "--format", "csv", check=True).stdout
    ids = [line.split(",")[0] for line in out.splitlines()[1:]]
    assert ids == sorted(ids) == sorted(d.id for d in all_detectors())
    table = roletrail("detectors", check=True).stdout
    # every parameter is listed with its default and bounds
    assert "access_denied_cluster.min_events = 5, 2 to 1000:" in table


def test_bad_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[source]\nurl = 's3://x'\n")
    proc = roletrail("detect", "--config", bad, "--db", tmp_path / "x.duckdb")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "source.url" in proc.stderr


def test_detect_jsonl_and_report_from_the_command_line(tmp_path):
    import json

    from conftest import FIXTURES, ct_key, log_bytes, write

    case = json.loads((FIXTURES / "unknown_source_ip" / "ipv4_outside_known.json").read_text())
    write(tmp_path / "src", ct_key(suffix="cli"), log_bytes(case["Records"]))
    cfg = tmp_path / "roletrail.toml"
    cfg.write_text('[network]\nknown_cidrs = ["198.51.100.0/24"]\n')
    db = tmp_path / "cli.duckdb"
    roletrail("ingest", tmp_path / "src", "--db", db, check=True)
    out = roletrail("detect", "--db", db, "--config", cfg, "--format", "jsonl", check=True).stdout
    [alert] = [json.loads(line) for line in out.splitlines()]
    assert alert["detector"] == "unknown_source_ip" and alert["source_ip"] == "203.0.113.9"
    assert roletrail("detect", "--db", db, "--config", cfg, "--format", "jsonl", check=True).stdout == ""
    roletrail("report", "--db", db, "--out", tmp_path / "r.html", check=True)
    assert alert["alert_id"] in (tmp_path / "r.html").read_text()
