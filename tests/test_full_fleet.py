"""Slow stage: the whole default fleet (41 servers) installed, started and listed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from firefly_eval.mcp.config import firefly_home, load_fleet

pytestmark = [pytest.mark.slow, pytest.mark.full_fleet]


def test_default_fleet_check_40_servers_500_tools(tmp_path):
    specs = load_fleet()
    missing = [s.name for s in specs if not (firefly_home() / "fleet" / s.name / ".firefly-installed").exists()]
    if missing:
        pytest.skip(f"full fleet not installed (`firefly fleet install`): {missing[:5]}...")
    report = tmp_path / "check.json"
    proc = subprocess.run([str(Path(sys.executable).with_name("firefly")), "servers", "check", "--json", str(report)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    rows = json.loads(report.read_text())
    up = [r for r in rows if r["ok"]]
    assert len(up) >= 40, [r for r in rows if not r["ok"]]
    assert sum(r["tools"] for r in up) >= 500
