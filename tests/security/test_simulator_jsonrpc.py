"""`firefly simulate` answers malformed JSON-RPC with errors and keeps serving (issue 20, item 5).

Raw lines over a real stdio subprocess (no SDK client: it would never send such messages)."""

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

from firefly_eval.tasks.heldout.dataset import shipped_path

MALFORMED = [
    ("garbage line", "this is not json", None, -32700),
    ("truncated JSON", '{"jsonrpc": "2.0", "id": 11, "method": "to', None, -32700),
    ("nested too deep", "[" * 2000 + "]" * 2000, None, -32700),
    ("empty object", "{}", None, -32600),
    ("missing jsonrpc", '{"id": 12, "method": "ping"}', 12, -32600),
    ("wrong jsonrpc version", '{"jsonrpc": "1.0", "id": "v1", "method": "ping"}', "v1", -32600),
    ("batch", '[{"jsonrpc": "2.0", "id": 13, "method": "ping"}]', None, -32600),
    ("array params", '{"jsonrpc": "2.0", "id": 14, "method": "tools/list", "params": [1, 2]}', 14, -32602),
    ("a bare number", "5", None, -32600),
    ("method not a string", '{"jsonrpc": "2.0", "id": 15, "method": 7}', 15, -32600),
]


class _Server:
    def __init__(self) -> None:
        firefly = Path(sys.executable).with_name("firefly")
        self.proc = subprocess.Popen([str(firefly), "simulate", "--calls", str(shipped_path())],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=dict(os.environ))
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 60) -> dict:
        return json.loads(self.lines.get(timeout=timeout))

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def test_ten_malformed_messages_get_ten_errors_then_ping_is_answered():
    srv = _Server()
    try:
        srv.send(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}))
        assert srv.receive(timeout=120)["id"] == 0
        srv.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        for _, line, _, _ in MALFORMED:
            srv.send(line)
        answers = [srv.receive() for _ in MALFORMED]
        for (what, _, rid, code), ans in zip(MALFORMED, answers, strict=True):
            assert ans.get("jsonrpc") == "2.0" and "error" in ans, (what, ans)
            assert ans["error"]["code"] == code, (what, ans)
            assert ans["id"] == rid, (what, ans)
        srv.send(json.dumps({"jsonrpc": "2.0", "id": 99, "method": "ping"}))
        assert srv.receive() == {"jsonrpc": "2.0", "id": 99, "result": {}}
        srv.send(json.dumps({"jsonrpc": "2.0", "id": 100, "method": "tools/list"}))
        assert len(srv.receive()["result"]["tools"]) > 10
    finally:
        srv.close()
