"""A user's own fleet (issue 18): real PyPI/npm servers that are not in the default fleet, configured as a
user would (``cwd`` and absolute paths to the user's own files), installed with ``firefly fleet install``.

    .venv/bin/python benchmarks/own_fleet.py --n 60 --n 120 [--out /tmp/own-fleet] [--no-install]

Prints, per server: up, stateful (and why), discovery calls ok, exploration calls ok/failed, tasks, the top
error; then the share of successful exploration calls, servers contributing tasks and tasks per -n.
It also checks that the user's files are byte-identical after the runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

FIREFLY = str(Path(sys.executable).with_name("firefly"))


def user_folder(root: Path) -> dict[str, Path]:
    """The user's own things: a notes vault, a git repository with 2 commits, a shop database, a library dir."""
    vault, repo, db, papers = root / "vault", root / "repo", root / "shop.db", root / "papers"
    if not vault.exists():
        (vault / "projects").mkdir(parents=True)
        (vault / "projects" / "garden.md").write_text("# Garden\nPlant tomatoes in May. Budget 120 EUR.\n")
        (vault / "inbox.md").write_text("- renew passport\n- call the plumber on Tuesday\n")
        repo.mkdir()
        env = {"GIT_AUTHOR_NAME": "U", "GIT_AUTHOR_EMAIL": "u@example.org", "GIT_COMMITTER_NAME": "U",
               "GIT_COMMITTER_EMAIL": "u@example.org", "HOME": str(root)}
        for i, text in enumerate(["first draft\n", "second draft\n"]):
            (repo / "plan.txt").write_text(text)
            subprocess.run(["git", "init", "-q"] if i == 0 else ["true"], cwd=repo, check=True)
            subprocess.run(["git", "add", "."], cwd=repo, check=True, env=env)
            subprocess.run(["git", "commit", "-qm", f"draft {i + 1}"], cwd=repo, check=True, env=env)
        con = sqlite3.connect(db)
        con.executescript("CREATE TABLE plants (name TEXT, sown TEXT, beds INTEGER);"
                          "INSERT INTO plants VALUES ('tomato','2025-05-02',3),('basil','2025-05-10',1);")
        con.commit()
        con.close()
        papers.mkdir()
    return {"vault": vault, "repo": repo, "db": db, "papers": papers}


def fleet_file(root: Path, paths: dict[str, Path]) -> Path:
    """Servers from the offline survey (../shared/FLEET-CANDIDATES.md) that the default fleet does not hold."""
    servers = {
        "obsidian": {"command": "npx", "args": ["-y", "mcp-obsidian@1.0.0", str(paths["vault"])],
                     "firefly": {"registry": "npm", "package": "mcp-obsidian", "version": "1.0.0"}},
        "treesitter": {"command": "uvx", "args": ["--from", "mcp-server-tree-sitter==0.7.0", "mcp-server-tree-sitter"],
                       "cwd": str(paths["repo"]),
                       "firefly": {"registry": "pypi", "package": "mcp-server-tree-sitter", "version": "0.7.0",
                                   "constraints": ["mcp<2"]}},
        "arxiv": {"command": "uvx", "args": ["--from", "arxiv-mcp-server==0.8.2", "arxiv-mcp-server",
                                             "--storage-path", str(paths["papers"])],
                  "firefly": {"registry": "pypi", "package": "arxiv-mcp-server", "version": "0.8.2"}},
        "sqlitenode": {"command": "npx", "args": ["-y", "mcp-sqlite@1.0.9", str(paths["db"])],
                       "firefly": {"registry": "npm", "package": "mcp-sqlite", "version": "1.0.9"}},
        "gitcyan": {"command": "npx", "args": ["-y", "@cyanheads/git-mcp-server@2.15.3"],
                    "env": {"GIT_BASE_DIR": str(paths["repo"]), "MCP_LOG_LEVEL": "error"},
                    "firefly": {"registry": "npm", "package": "@cyanheads/git-mcp-server", "version": "2.15.3"}},
    }
    path = root / "fleet.json"
    path.write_text(json.dumps({"mcpServers": servers}, indent=2))
    return path


def checksums(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and "fleet.json" not in p.name and "/runs/" not in str(p)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, action="append", default=None)
    ap.add_argument("--out", type=Path, default=Path("/tmp/own-fleet"))
    ap.add_argument("--no-install", action="store_true")
    args = ap.parse_args()
    ns = args.n or [60, 120]
    args.out.mkdir(parents=True, exist_ok=True)
    paths = user_folder(args.out / "user")
    fleet = fleet_file(args.out, paths)
    before = checksums(args.out / "user")
    if not args.no_install:
        subprocess.run([FIREFLY, "fleet", "install", "--fleet", str(fleet)], check=False)
    kept = {}
    for n in ns:
        run = args.out / "runs" / f"n{n}"
        res = subprocess.run([FIREFLY, "generate", "-n", str(n), "--fleet", str(fleet), "--out", str(run)],
                             capture_output=True, text=True)
        print(f"-n {n}: exit {res.returncode}; " + " ".join(res.stdout.split()[-60:])[-600:])
        summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
        per = summary.get("per_server", {})
        kept[n] = summary.get("counts", {}).get("train", 0) + summary.get("counts", {}).get("test", 0) \
            if res.returncode == 0 else 0
        ok = sum(v["ok"] for v in per.values())
        total = sum(v["calls"] for v in per.values())
        print(f"{'server':12} {'up':3} {'stateful':8} {'disc ok':8} {'ok':>5} {'failed':>6} {'tasks':>5}  top error")
        for name, v in per.items():
            top = v["top_errors"][0][0][:60] if v["top_errors"] else ""
            print(f"{name:12} {'y' if v['up'] else 'n':3} {'y' if v['stateful'] else 'n':8} "
                  f"{v['discovery_ok']}/{v['discovery_calls']:<6} {v['ok']:>5} {v['failed']:>6} {v['tasks']:>5}  {top}")
        print(f"-n {n}: {sum(v['tasks'] > 0 for v in per.values())}/{len(per)} servers contribute tasks; "
              f"{ok}/{total} exploration calls ok ({ok / max(total, 1):.0%}); tasks kept {kept[n]}")
    print("user files unchanged:", checksums(args.out / "user") == before)
    print("tasks by -n:", kept)


if __name__ == "__main__":
    main()
