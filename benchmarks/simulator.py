"""Simulator lookup latency (exact, fuzzy at 1k and 100k records of one tool) and index build time."""

import random
import resource
import statistics
import time

from firefly_eval.schema import CallRecord
from firefly_eval.simulator import CallIndex, Simulator


def records(n, rng):
    out = []
    for i in range(n):
        args = {"path": f"/data/{rng.choice(['notes', 'data', 'repo'])}/file_{i}.txt", "limit": rng.randint(1, 500),
                "mode": rng.choice(["r", "w"])}
        out.append(CallRecord(server="s", tool="t", arguments=args,
                              result={"content": [{"type": "text", "text": f"r{i}"}], "isError": False}))
    return out


def timeit(fn, queries):
    ts = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        ts.append((time.perf_counter() - t0) * 1e6)
    ts.sort()
    return statistics.median(ts), ts[int(len(ts) * 0.99)]


rng = random.Random(0)
for n in (1_000, 100_000):
    recs = records(n, rng)
    t0 = time.perf_counter()
    idx = CallIndex(recs)
    build = time.perf_counter() - t0
    sim = Simulator(idx)
    exact_q = [r.arguments for r in rng.sample(recs, min(2000, n))]
    fuzzy_q = [{**r.arguments, "limit": r.arguments["limit"] + 1} for r in rng.sample(recs, 200)]
    p50e, p99e = timeit(lambda a: sim.answer("s", "t", a), exact_q)
    p50f, p99f = timeit(lambda a: sim.answer("s", "t", a), fuzzy_q)
    print(f"{n:>7} records: build {build:.2f}s | exact p50 {p50e:.1f}us p99 {p99e:.1f}us | "
          f"fuzzy p50 {p50f / 1000:.2f}ms p99 {p99f / 1000:.2f}ms")
print(f"max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
