"""A user's own fleet (issue 18): real PyPI/npm servers that are not in the default fleet, configured as a
user would (``cwd`` and absolute paths to the user's own files), installed with ``firefly fleet install``.

    .venv/bin/python benchmarks/own_fleet.py --n 200 --n 400 [--out /tmp/own-fleet] [--no-install]

The fleet is installed under $FIREFLY_HOME (default /tmp/ownhome), apart from the default fleet.

Prints, per server: up, stateful (and why), discovery calls ok, exploration calls ok/failed, tasks, the top
error; then the share of successful exploration calls, servers contributing tasks and tasks per -n.
It also checks that the user's files are byte-identical after the runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

FIREFLY = str(Path(sys.executable).with_name("firefly"))
# the user's fleet is installed apart from the project's default fleet
os.environ.setdefault("FIREFLY_HOME", "/tmp/ownhome")


def _git(repo: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "Ana", "GIT_AUTHOR_EMAIL": "ana@example.org", "GIT_COMMITTER_NAME": "Ana",
           "GIT_COMMITTER_EMAIL": "ana@example.org", "HOME": str(repo.parent), "PATH": "/usr/bin:/bin",
           "GIT_AUTHOR_DATE": "2025-05-01T10:00:00", "GIT_COMMITTER_DATE": "2025-05-01T10:00:00"}
    subprocess.run(["git", *args], cwd=repo, check=True, env=env, capture_output=True)


def user_folder(root: Path) -> dict[str, Path]:
    """The user's own things, as they would sit in a home folder: a notes vault, a small Python project in git
    (2 commits), a shop database, a garden database, a knowledge-graph memory file, a task list, a budget
    workbook, a documents folder. Created once; the benchmark checks they are byte-identical afterwards."""
    p = {k: root / v for k, v in {"vault": "vault", "repo": "garden-app", "shop": "shop.db", "garden": "garden.db",
                                  "kg": "memory.jsonl", "tasks": "tasks.json", "sheets": "sheets", "docs": "documents",
                                  "shrimp": "shrimp-data"}.items()}
    if root.exists():
        return p
    (p["vault"] / "projects").mkdir(parents=True)
    (p["vault"] / "projects" / "garden.md").write_text("# Garden\nPlant tomatoes in May. Budget 120 EUR.\n"
                                                       "Tags: #garden #spring\n")
    (p["vault"] / "projects" / "kitchen.md").write_text("# Kitchen\nNew tiles from Porto Ceramics, 14 m2.\n")
    (p["vault"] / "inbox.md").write_text("- renew passport\n- call the plumber on Tuesday\n")
    repo = p["repo"]
    (repo / "garden").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "garden" / "beds.py").write_text(
        '"""Garden beds."""\n\n\nclass Bed:\n    def __init__(self, name: str, area: float) -> None:\n'
        '        self.name = name\n        self.area = area\n\n\ndef total_area(beds: list[Bed]) -> float:\n'
        '    return sum(b.area for b in beds)\n')
    (repo / "README.md").write_text("# garden-app\nTracks beds and sowing dates.\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "beds and README")
    (repo / "garden" / "sowing.py").write_text(
        'from garden.beds import Bed\n\nSOWN = {"tomato": "2025-05-02", "basil": "2025-05-10"}\n\n\n'
        'def sown_on(plant: str) -> str:\n    return SOWN[plant]\n')
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "sowing dates")
    con = sqlite3.connect(p["shop"])
    con.executescript(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT);"
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), item TEXT,"
        " amount REAL, placed TEXT);"
        "INSERT INTO customers VALUES (1,'Ines Duarte','Porto'),(2,'Jonas Berg','Oslo'),(3,'Mei Tanaka','Kyoto');"
        "INSERT INTO orders VALUES (101,1,'seed tray',12.5,'2025-04-02'),(102,2,'rake',31.0,'2025-04-09'),"
        "(103,1,'compost',18.0,'2025-04-20'),(104,3,'hose',42.0,'2025-05-01');")
    con.commit()
    con.close()
    con = sqlite3.connect(p["garden"])
    con.executescript("CREATE TABLE plants (name TEXT PRIMARY KEY, sown TEXT, beds INTEGER);"
                      "INSERT INTO plants VALUES ('tomato','2025-05-02',3),('basil','2025-05-10',1),"
                      "('kale','2025-03-15',2);")
    con.commit()
    con.close()
    p["kg"].write_text("\n".join(json.dumps(x) for x in [
        {"type": "entity", "name": "Ana", "entityType": "person", "observations": ["keeps a vegetable garden"]},
        {"type": "entity", "name": "Porto Ceramics", "entityType": "company", "observations": ["sells tiles"]},
        {"type": "relation", "from": "Ana", "to": "Porto Ceramics", "relationType": "buys_from"}]) + "\n")
    p["tasks"].write_text(json.dumps({"requests": [{
        "requestId": "req-1", "originalRequest": "Prepare the spring garden", "splitDetails": "beds, seeds, watering",
        "completed": False, "tasks": [
            {"id": "task-1", "title": "Dig the beds", "description": "Turn the soil of beds 1-3", "done": True,
             "approved": False, "completedDetails": "beds 1-3 dug"},
            {"id": "task-2", "title": "Order seeds", "description": "Tomato and basil seeds", "done": False,
             "approved": False, "completedDetails": ""}]}]}, indent=2))
    p["sheets"].mkdir()
    import openpyxl  # the benchmark runs in firefly's venv, which has it
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Budget"
    for row in [("item", "planned", "spent"), ("seeds", 40, 35.5), ("tools", 60, 73), ("soil", 20, 18)]:
        ws.append(row)
    wb.save(p["sheets"] / "garden-budget.xlsx")
    p["docs"].mkdir()
    (p["docs"] / "letter.txt").write_text("Dear Jonas,\nthe rake arrives on Friday.\nAna\n")
    (p["docs"] / "packing.md").write_text("# Packing\n- tent\n- stove\n")
    p["shrimp"].mkdir()
    stamp = "2025-05-01T10:00:00.000Z"
    (p["shrimp"] / "tasks.json").write_text(json.dumps({"tasks": [
        {"id": "0b6c1f3e-2f5a-4c1e-9a7d-1c2b3d4e5f60", "name": "Add a watering schedule",
         "description": "Store how often each bed is watered", "notes": "", "status": "pending", "dependencies": [],
         "createdAt": stamp, "updatedAt": stamp, "relatedFiles": [], "implementationGuide": "a table in beds.py",
         "verificationCriteria": "each bed has a schedule"},
        {"id": "7d2e4a91-5b3c-4f6d-8e1a-2b3c4d5e6f70", "name": "List sowing dates",
         "description": "Print the sowing date of each plant", "notes": "", "status": "completed", "dependencies": [],
         "createdAt": stamp, "updatedAt": stamp, "completedAt": stamp, "summary": "sowing.py prints them",
         "relatedFiles": [], "implementationGuide": "", "verificationCriteria": ""}]}, indent=2))
    return p


def chroma_collection(root: Path, python: Path) -> None:
    """The user's existing Chroma store: a collection of garden notes with their own vectors (made once with the
    installed server's chromadb; offline, so no embedding model: the vectors are given)."""
    store = root / "chroma"
    if store.exists() or not python.exists():
        return
    code = ("import sys, chromadb; c = chromadb.PersistentClient(path=sys.argv[1]); "
            "col = c.create_collection('garden_notes', embedding_function=None); "
            "col.add(ids=['n1', 'n2', 'n3'], documents=['Tomatoes need 6 hours of sun', 'Basil likes warm soil', "
            "'Kale survives frost'], embeddings=[[1.0, 0.0, 0.2], [0.8, 0.1, 0.3], [0.0, 1.0, 0.5]], "
            "metadatas=[{'bed': 1}, {'bed': 2}, {'bed': 3}])")
    subprocess.run([str(python), "-c", code, str(store)], check=True, capture_output=True)


def fleet_file(root: Path, p: dict[str, Path]) -> Path:
    """Ten real servers from PyPI and npm that the default fleet does not hold, written as a user writes an
    ``mcpServers`` file: ``npx -y PKG@V`` / ``uvx --from PKG==V``, ``cwd`` and absolute paths to their own files,
    no firefly metadata (the package and version are read from the command)."""
    def npx(pkg: str, *args: str, **extra) -> dict:
        return {"command": "npx", "args": ["-y", pkg, *args], **extra}

    def uvx(pkg: str, binary: str, *args: str, with_: tuple[str, ...] = (), **extra) -> dict:
        w = [x for c in with_ for x in ("--with", c)]
        return {"command": "uvx", "args": [*w, "--from", pkg, binary, *args], **extra}

    servers = {
        "obsidian": npx("mcp-obsidian@1.0.0", str(p["vault"])),
        "knowledge": npx("@itseasy21/mcp-knowledge-graph@1.0.7", "--memory-path", str(p["kg"])),
        "gardendb": npx("mcp-server-sqlite-npx@0.8.0", str(p["garden"])),
        "tasks": npx("@kazuph/mcp-taskmanager@1.1.1", env={"TASK_MANAGER_FILE_PATH": str(p["tasks"])}),
        "budget": npx("@negokaz/excel-mcp-server@0.12.0", cwd=str(p["sheets"]),
                      env={"EXCEL_MCP_PAGING_CELLS_LIMIT": "4000"}),
        "docs": npx("@agent-infra/mcp-server-filesystem@1.2.29", "--allowed-directories", str(p["docs"])),
        "shrimp": npx("mcp-shrimp-task-manager@1.0.21",
                      env={"DATA_DIR": str(p["shrimp"]), "TEMPLATES_USE": "en", "ENABLE_GUI": "false"}),
        "shopdb": uvx("mcp-alchemy==2026.10.15.202659", "mcp-alchemy",
                      env={"DB_URL": f"sqlite:///{p['shop']}"}),
        "treesitter": uvx("mcp-server-tree-sitter==0.7.0", "mcp-server-tree-sitter", cwd=str(p["repo"]),
                          with_=("mcp<2",)),
        "chroma": uvx("chroma-mcp==0.2.6", "chroma-mcp", "--client-type", "persistent", "--data-dir",
                      str(p["vault"].parent / "chroma"), with_=("pydantic<2.12",)),
    }
    path = root / "fleet.json"
    path.write_text(json.dumps({"mcpServers": servers}, indent=2))
    return path


def checksums(root: Path) -> dict[str, str]:
    """sha256 of every file under the user's folder (and the folder's list of files)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def fleet_table(fleet: Path) -> list[dict]:
    """Server, package, version, registry and tool count of each server (``firefly servers check`` figures)."""
    from firefly_eval.mcp.config import load_fleet

    tools_by: dict[str, int] = {}
    tools_file = next(iter(sorted(fleet.parent.glob("runs/*/tools.json"))), None)
    if tools_file:
        for t in json.loads(tools_file.read_text()):
            tools_by[t["server"]] = tools_by.get(t["server"], 0) + 1
    return [{"server": s.name, "registry": s.registry, "package": s.package, "version": s.version,
             "tools": tools_by.get(s.name, 0), "cwd": s.cwd} for s in load_fleet(fleet)]


def run_n(fleet: Path, run: Path, n: int, seed: int) -> dict:
    """One ``firefly generate -n N`` on the fleet; its figures from summary.json (and the machine's load
    average before and after: timings on a shared machine are not clean)."""
    load_before = [round(x, 2) for x in os.getloadavg()]
    res = subprocess.run(["nice", "-n", "10", FIREFLY, "generate", "-n", str(n), "--seed", str(seed),
                          "--fleet", str(fleet), "--out", str(run)], capture_output=True, text=True)
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    per = summary.get("per_server", {})
    counts = summary.get("counts", {})
    ok = sum(v["ok"] for v in per.values())
    total = sum(v["calls"] for v in per.values())
    plans_file = next((f for f in [run / "plans.jsonl", *sorted(run.glob("failed-*/plans.jsonl"))] if f.exists()), None)
    n_plans = sum(1 for ln in plans_file.read_text().splitlines() if ln.strip()) if plans_file else None
    return {"n": n, "exit": res.returncode, "plans": n_plans, "plans_note": summary.get("plans_note", ""),
            "kept": (counts.get("train", 0) + counts.get("test", 0)) if res.returncode == 0 else 0,
            "servers_with_tasks": sum(v["tasks"] > 0 for v in per.values()), "servers": len(per),
            "calls_ok": ok, "calls": total, "ok_share": round(ok / max(total, 1), 3),
            "seconds": summary.get("seconds"), "per_server": per,
            "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
            "tail": "" if res.returncode == 0 else (res.stdout + res.stderr)[-1500:]}


def print_run(fig: dict) -> None:
    print(f"\n-n {fig['n']}: exit {fig['exit']}, plans {fig['plans']}, {fig['seconds']} s "
          f"(load average before {fig['load_before']}, after {fig['load_after']})")
    if fig["tail"]:
        print(fig["tail"])
    if fig["plans_note"]:
        print(" ", fig["plans_note"])
    print(f"{'server':11} {'up':3} {'stateful':8} {'disc ok':8} {'ok':>5} {'failed':>6} {'ok %':>5} {'tasks':>5}  "
          f"top error")
    for name, v in fig["per_server"].items():
        top = f"{v['top_errors'][0][1]}x {v['top_errors'][0][0][:70]}" if v["top_errors"] else ""
        share = f"{v['ok'] / v['calls']:.0%}" if v["calls"] else "-"
        print(f"{name:11} {'y' if v['up'] else 'n':3} {'y' if v['stateful'] else 'n':8} "
              f"{v['discovery_ok']}/{v['discovery_calls']:<6} {v['ok']:>5} {v['failed']:>6} {share:>5} "
              f"{v['tasks']:>5}  {top}")
    print(f"-n {fig['n']}: {fig['servers_with_tasks']}/{fig['servers']} servers contribute tasks; "
          f"{fig['calls_ok']}/{fig['calls']} exploration calls ok ({fig['ok_share']:.0%}); tasks kept {fig['kept']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, action="append", default=None, help="-n of a generate run (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/own-fleet"))
    ap.add_argument("--no-install", action="store_true")
    args = ap.parse_args()
    ns = args.n or [200, 400]
    args.out.mkdir(parents=True, exist_ok=True)
    paths = user_folder(args.out / "user")
    fleet = fleet_file(args.out, paths)
    if not args.no_install:
        subprocess.run([FIREFLY, "fleet", "install", "--fleet", str(fleet), "--workers", "2"], check=False)
    chroma_collection(args.out / "user", Path(os.environ["FIREFLY_HOME"]) / "fleet" / "chroma" / "bin" / "python")
    before = checksums(args.out / "user")
    figures = []
    for n in ns:
        fig = run_n(fleet, args.out / "runs" / f"n{n}", n, args.seed)
        print_run(fig)
        figures.append(fig)
    unchanged = checksums(args.out / "user") == before
    table = fleet_table(fleet)
    print("\nfleet:", ", ".join(f"{t['server']} ({t['package']} {t['version']}, {t['tools']} tools)" for t in table),
          f"= {sum(t['tools'] for t in table)} tools")
    print(f"user files unchanged ({len(before)} files, sha256): {unchanged}")
    print("tasks by -n:", {f["n"]: f["kept"] for f in figures})
    (args.out / "figures.json").write_text(json.dumps({"fleet": table, "runs": figures,
                                                       "user_files_unchanged": unchanged}, indent=2))
    print(f"figures: {args.out / 'figures.json'}")


if __name__ == "__main__":
    main()
