"""A minimal local stand-in for the Hugging Face Hub HTTP API (127.0.0.1 only), for upload tests.

Implements what ``HfApi.create_repo`` and ``HfApi.upload_folder`` use: repo creation, YAML
validation, the preupload endpoint (every file "regular", with the git-sha1 oid of the stored
copy so unchanged files are skipped) and the NDJSON commit endpoint. Stores files in memory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.commits: dict[str, int] = {}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                """Keep the test output quiet (no request log lines)."""

            def _json(self, obj, code=200):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self):  # noqa: N802
                path = self.path.split("?")[0]
                body = self._body()
                if path == "/api/repos/create":
                    data = json.loads(body)
                    repo = f"{data.get('organization') or 'user'}/{data['name']}"
                    hub.repos.setdefault(repo, {})
                    return self._json({"url": f"{hub.url}/datasets/{repo}", "name": repo})
                if path == "/api/validate-yaml":
                    return self._json({"errors": [], "warnings": []})
                parts = path.split("/")  # /api/datasets/ns/name/(preupload|commit)/rev
                if len(parts) >= 7 and parts[1] == "api":
                    repo = f"{parts[3]}/{parts[4]}"
                    files = hub.repos.setdefault(repo, {})
                    if parts[5] == "preupload":
                        req = json.loads(body)
                        return self._json({"files": [
                            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                             "oid": git_sha1(files[f["path"]]) if f["path"] in files else None}
                            for f in req["files"]]})
                    if parts[5] == "commit":
                        for line in body.decode().splitlines():
                            item = json.loads(line)
                            if item.get("key") == "file":
                                v = item["value"]
                                files[v["path"]] = base64.b64decode(v["content"])
                            elif item.get("key") == "deletedFile":
                                files.pop(item["value"]["path"], None)
                        hub.commits[repo] = hub.commits.get(repo, 0) + 1
                        oid = hashlib.sha1(str(hub.commits[repo]).encode()).hexdigest()
                        return self._json({"commitUrl": f"{hub.url}/datasets/{repo}/commit/{oid}", "commitOid": oid,
                                           "success": True})
                return self._json({"error": f"fake hub: no route {path}"}, 404)

            def do_GET(self):  # noqa: N802
                parts = self.path.split("?")[0].split("/")  # /api/datasets/ns/name[/revision/rev]
                if len(parts) >= 5 and parts[1] == "api" and f"{parts[3]}/{parts[4]}" in hub.repos:
                    repo = f"{parts[3]}/{parts[4]}"
                    sha = hashlib.sha1(str(hub.commits.get(repo, 0)).encode()).hexdigest()
                    return self._json({"id": repo, "sha": sha, "private": False,
                                       "siblings": [{"rfilename": p} for p in sorted(hub.repos[repo])]})
                return self._json({"error": f"fake hub: no route {self.path}"}, 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
