"""`firefly servers check` tells a cold first start ("slow start") from a dead server ("down").

Real stdio servers (``slow_start_server.py``): one whose first start sleeps before it answers the
handshake, one that never answers. The allowances are generous against a loaded machine: a warm start
of the tiny server takes about 2 s, the cold one sleeps 12 s, the plain timeout is 8 s and the
first-start allowance 25 s.
"""

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from firefly_eval.cli.fleet import SLOW_START, start_status
from firefly_eval.cli.main import app

SERVER = Path(__file__).parent / "slow_start_server.py"
runner = CliRunner()
CHECK = ["--timeout", "8", "--start-timeout", "25"]


def _entry(stamp: Path, seconds: float) -> dict:
    return {"command": sys.executable, "args": [str(SERVER), str(stamp), str(seconds)],
            "firefly": {"isolate": False, "stateful": False}}


def _check(tmp_path: Path, servers: dict, name: str) -> tuple[str, dict]:
    fleet = tmp_path / f"{name}.json"
    fleet.write_text(json.dumps({"mcpServers": servers}))
    out = tmp_path / f"{name}-report.json"
    res = runner.invoke(app, ["servers", "check", "--fleet", str(fleet), *CHECK, "--json", str(out)],
                        catch_exceptions=False)
    return " ".join(res.output.split()), {r["server"]: r for r in json.loads(out.read_text())}


def test_start_status_rules():
    assert start_status(True, 3.0, 8.0) == "up"
    assert start_status(True, 8.5, 8.0) == SLOW_START == "slow start"
    assert start_status(False, 1.0, 8.0) == "down"
    assert start_status(False, 30.0, 8.0) == "down"


def test_cold_first_start_is_slow_start_and_a_dead_server_is_down(tmp_path):
    stamp = tmp_path / "cold.stamp"
    servers = {"cold": _entry(stamp, 12), "dead": _entry(tmp_path / "dead.stamp", -1)}
    text, report = _check(tmp_path, servers, "first")

    cold, dead = report["cold"], report["dead"]
    assert cold["ok"] and cold["status"] == "slow start" and cold["tools"] == 1
    assert cold["seconds"] > 8
    assert not dead["ok"] and dead["status"] == "down"
    assert dead["error"].startswith("server 'dead' did not answer the handshake in 25s;")
    assert "1/2 servers up, 1 tools" in text
    assert "(1 slow start: cold; they answered after 8s, within the 25s first-start allowance)" in text
    assert stamp.exists()

    # the same server warm: up, no slow-start note
    text, report = _check(tmp_path, {"cold": servers["cold"]}, "second")
    assert report["cold"]["ok"] and report["cold"]["status"] == "up"
    assert "1/1 servers up, 1 tools" in text and "slow start" not in text


def test_slow_server_past_the_allowance_is_down(tmp_path):
    # --start-timeout below --timeout: the larger of the two is the allowance
    fleet = tmp_path / "f.json"
    fleet.write_text(json.dumps({"mcpServers": {"cold": _entry(tmp_path / "s", 30)}}))
    res = runner.invoke(app, ["servers", "check", "--fleet", str(fleet), "--timeout", "3", "--start-timeout", "1",
                              "--json", str(tmp_path / "r.json")])
    report = json.loads((tmp_path / "r.json").read_text())[0]
    assert res.exit_code == 1  # no server up
    assert report["status"] == "down"
    assert report["error"].startswith("server 'cold' did not answer the handshake in 3s;")
