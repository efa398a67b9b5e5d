"""Perturbation fidelity of the simulator, BEFORE (the matcher at git commit ac0e0cc) and AFTER (this tree).

Changes one argument of each shipped held-out call at a time (numbers +1 and +5%, booleans,
another enum member, another id seen in the calls, reworded free text) and counts which tier
answers; a recorded result returned as a success for a changed exact argument is a wrong
success. The old code runs in a subprocess from a `git archive` of that commit.

    .venv/bin/python benchmarks/simulator_fidelity.py [--before-commit ac0e0cc] [--calls DATASET]
"""

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from firefly_eval.simulator.mcp_server import load_simulator
from firefly_eval.simulator.perturb import as_rows, perturbations, score_answers, shipped_calls

ROOT = Path(__file__).resolve().parents[1]
OLD_ANSWERS = """
import json, sys
from firefly_eval.simulator.mcp_server import load_simulator
src, rows = sys.argv[1], json.load(sys.stdin)
sim = load_simulator(src)
out = []
for p in rows:
    a = sim.answer(p["server"], p["tool"], p["arguments"], p["history_key"])
    out.append([a.tier, bool(a.result.get("isError"))])
json.dump(out, sys.stdout)
"""


def before(commit: str, source: Path, rows: list[dict]) -> list[tuple[str, bool]]:
    with tempfile.TemporaryDirectory(prefix="firefly-before-") as tmp:
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "firefly_eval"], check=True,
                             capture_output=True).stdout
        tarfile.open(fileobj=BytesIO(tar)).extractall(tmp)
        proc = subprocess.run([sys.executable, "-c", OLD_ANSWERS, str(source)], input=json.dumps(rows),
                              capture_output=True, text=True, cwd=tmp, env={"PYTHONPATH": tmp, "PATH": "/usr/bin:/bin"},
                              check=True)
        return [tuple(x) for x in json.loads(proc.stdout)]


def table(reports: dict[str, dict]) -> str:
    kinds = sorted({k for r in reports.values() for k in r["tiers_by_kind"]})
    tiers = ["exact", "fuzzy", "miss", "invalid"]
    head = f"{'change':<15}{'n':>5} | " + " | ".join(f"{name + ' ' + '/'.join(tiers):<34}" for name in reports)
    lines = [head, "-" * len(head)]
    for k in kinds:
        n = sum(next(iter(reports.values()))["tiers_by_kind"].get(k, {}).values())
        cells = []
        for r in reports.values():
            c = r["tiers_by_kind"].get(k, {})
            cells.append(f"{'':<7}{'/'.join(str(c.get(t, 0)) for t in tiers):<27}")
        lines.append(f"{k:<15}{n:>5} | " + " | ".join(cells))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before-commit", default="ac0e0cc")
    ap.add_argument("--calls", type=Path, default=shipped_calls())
    args = ap.parse_args()
    sim = load_simulator(args.calls)
    items = perturbations(sim.index.records(), sim.tools)
    after = score_answers(items, [(a.tier, a.is_error) for a in
                                  (sim.answer(p.server, p.tool, p.arguments, p.history_key) for p in items)])
    reports = {"BEFORE": score_answers(items, before(args.before_commit, args.calls, as_rows(items))), "AFTER": after}
    print(f"{len(items)} perturbations of {sim.index.n_records} recorded calls ({args.calls})\n")
    print(table(reports))
    print()
    for name, r in reports.items():
        numeric = sum(r["wrong_successes_by_kind"].get(k, 0) for k in ("number+1", "number+5%"))
        n_numeric = sum(sum(r["tiers_by_kind"].get(k, {}).values()) for k in ("number+1", "number+5%"))
        print(f"{name:<7} wrong successes {r['wrong_successes']}/{r['sensitive']} (numbers {numeric}/{n_numeric}; "
              f"by kind {r['wrong_successes_by_kind']}) | reworded free text answered by fuzzy "
              f"{r['reworded_answered_by_fuzzy']:.1%} of {r['reworded']}")


if __name__ == "__main__":
    main()
