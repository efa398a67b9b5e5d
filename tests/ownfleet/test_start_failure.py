"""A server that dies with a long traceback: the start-failure message shows the first stderr lines and the
last one (the exception), which the first lines of a Python traceback hide."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from firefly_eval.cli.main import app

TRACEBACK = ("import sys\n"
             "lines = ['Traceback (most recent call last):', '  File \"/app/main.py\", line 101, in <module>',\n"
             "         '    DB_INFO = get_db_info()', '  File \"/app/db.py\", line 7, in get_db_info',\n"
             "         '    con = engine.connect()', '  File \"/app/engine.py\", line 3, in connect',\n"
             "         '    raise OperationalError()',\n"
             "         'sqlalchemy.exc.OperationalError: unable to open database file']\n"
             "print('\\n'.join(lines), file=sys.stderr)\n"
             "sys.exit(1)\n")


def test_start_failure_names_the_exception_after_a_long_traceback(tmp_path: Path) -> None:
    script = tmp_path / "dies.py"
    script.write_text(TRACEBACK)
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"mcpServers": {"shopdb": {"command": sys.executable, "args": [str(script)]}}}))
    res = CliRunner().invoke(app, ["generate", "-n", "2", "--fleet", str(fleet), "--out", str(tmp_path / "run")],
                             catch_exceptions=False)
    out = " ".join(res.output.split())
    assert res.exit_code == 1, res.output
    assert ("server 'shopdb' exited with code 1 before the MCP handshake; stderr: Traceback (most recent call last):"
            ' | File "/app/main.py", line 101, in <module> | DB_INFO = get_db_info() | File "/app/db.py", line 7,'
            " in get_db_info | con = engine.connect() | ... | sqlalchemy.exc.OperationalError: unable to open"
            " database file") in out


def test_a_short_stderr_is_shown_whole(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"mcpServers": {"exit3": {"command": sys.executable, "args": [
        "-c", "import sys; print('boom: cannot open /data/x.db', file=sys.stderr); sys.exit(3)"]}}}))
    res = CliRunner().invoke(app, ["generate", "-n", "2", "--fleet", str(fleet), "--out", str(tmp_path / "run")],
                             catch_exceptions=False)
    out = " ".join(res.output.split())
    assert "server 'exit3' exited with code 3 before the MCP handshake; stderr: boom: cannot open /data/x.db" in out
    assert "..." not in out.split("stderr:")[1].split(";")[0]
