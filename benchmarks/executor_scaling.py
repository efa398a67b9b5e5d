"""Tasks per minute: local executor vs. Ray with 1 and 2 workers, same plans, one run.

Usage: python benchmarks/executor_scaling.py [N_PLANS] [FLEET]   (default: 40 plans, the test fleet)
"""

import sys
import tempfile
import time
from pathlib import Path

from firefly_eval.generation.pipeline import GenerateConfig, generate
from firefly_eval.mcp.config import load_fleet, test_fleet_path

n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
specs = load_fleet(sys.argv[2] if len(sys.argv) > 2 else test_fleet_path())
rows = []
for label, cfg in [("local, 1 worker", GenerateConfig(n_plans=n, seed=11)),
                   ("ray, 1 worker", GenerateConfig(n_plans=n, seed=11, executor="ray", workers=1)),
                   ("ray, 2 workers", GenerateConfig(n_plans=n, seed=11, executor="ray", workers=2))]:
    run = Path(tempfile.mkdtemp(prefix="firefly-scale-")) / "run"
    t0 = time.perf_counter()
    s = generate(run, specs, cfg)
    wall = time.perf_counter() - t0
    kept = s["counts"]["train"] + s["counts"]["test"]
    rows.append((label, wall, kept))
    if cfg.executor == "ray":
        import ray

        ray.shutdown()
print(f"{'executor':<18}{'wall s':>8}{'tasks':>7}{'tasks/min':>11}   ({n} plans, {len(specs)} servers, 2 cores)")
for label, wall, kept in rows:
    print(f"{label:<18}{wall:>8.1f}{kept:>7}{kept / wall * 60:>11.1f}")
