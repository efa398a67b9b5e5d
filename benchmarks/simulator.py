"""Simulator lookup latency at 1k and 100k records of one tool, and index build time.

exact: recorded arguments; fuzzy: the same call with its free-text query reworded (answered
by the fuzzy tier); changed: a number changed by 1 (an exact parameter: must miss);
fuzzy-shared: 1k/100k records of a tool whose only parameter is free text (every record is
a candidate, the lexical prefilter picks 25).
"""

import random
import resource
import statistics
import time

from firefly_eval.schema import CallRecord, ToolSpec
from firefly_eval.simulator import CallIndex, Simulator

WORDS = "tent lamp boots jacket stove rope map compass sales order winter summer store region top best".split()
SPEC = ToolSpec(server="s", name="t", input_schema={"type": "object", "properties": {
    "path": {"type": "string"}, "limit": {"type": "integer"}, "mode": {"enum": ["r", "w"]},
    "query": {"type": "string"}}})
SEARCH = ToolSpec(server="s", name="search", input_schema={"type": "object", "properties": {"query": {"type": "string"}}})


def sentence(rng, i):
    return " ".join(rng.choice(WORDS) for _ in range(6)) + f" item {i}"


def records(n, rng):
    out = []
    for i in range(n):
        args = {"path": f"/data/{rng.choice(['notes', 'data', 'repo'])}/file_{i}.txt", "limit": rng.randint(1, 500),
                "mode": rng.choice(["r", "w"]), "query": sentence(rng, i)}
        out.append(CallRecord(server="s", tool="t", arguments=args,
                              result={"content": [{"type": "text", "text": f"r{i}"}], "isError": False}))
        out.append(CallRecord(server="s", tool="search", arguments={"query": sentence(rng, i)},
                              result={"content": [{"type": "text", "text": f"s{i}"}], "isError": False}))
    return out


def reword(q):
    return q.capitalize() + "?"


def timeit(fn, queries):
    """(wall p50, wall p99, CPU p50) in µs; CPU time (thread_time) is what a lookup costs on a shared machine."""
    ts, cpu = [], []
    for q in queries:
        c0, t0 = time.thread_time(), time.perf_counter()
        fn(q)
        ts.append((time.perf_counter() - t0) * 1e6)
        cpu.append((time.thread_time() - c0) * 1e6)
    ts.sort()
    return statistics.median(ts), ts[int(len(ts) * 0.99)], statistics.median(cpu)


rng = random.Random(0)
for n in (1_000, 100_000):
    recs = records(n, rng)
    t0 = time.perf_counter()
    idx = CallIndex(recs)
    build = time.perf_counter() - t0
    sim = Simulator(idx, tools={SPEC.key: SPEC, SEARCH.key: SEARCH})
    tool_recs = [r for r in recs if r.tool == "t"]
    search_recs = [r for r in recs if r.tool == "search"]
    sim.answer("s", "t", {**tool_recs[0].arguments, "query": "warm up"})  # groups are built on first use
    sim.answer("s", "search", {"query": "warm up"})
    exact_q = [r.arguments for r in rng.sample(tool_recs, min(2000, n))]
    fuzzy_q = [{**r.arguments, "query": reword(r.arguments["query"])} for r in rng.sample(tool_recs, 200)]
    changed_q = [{**r.arguments, "limit": r.arguments["limit"] + 1} for r in rng.sample(tool_recs, 200)]
    shared_q = [{"query": reword(r.arguments["query"])} for r in rng.sample(search_recs, 200)]
    tiers = {sim.answer("s", "t", q).tier for q in fuzzy_q} | {sim.answer("s", "search", q).tier for q in shared_q}
    assert tiers == {"fuzzy"}, tiers
    assert {sim.answer("s", "t", q).tier for q in changed_q} == {"miss"}
    p50e, p99e, cpue = timeit(lambda a, sim=sim: sim.answer("s", "t", a), exact_q)
    p50f, p99f, cpuf = timeit(lambda a, sim=sim: sim.answer("s", "t", a), fuzzy_q)
    p50c, _, cpuc = timeit(lambda a, sim=sim: sim.answer("s", "t", a), changed_q)
    p50s, p99s, cpus = timeit(lambda a, sim=sim: sim.answer("s", "search", a), shared_q)
    print(f"{n:>7} records/tool (build {build:.2f}s), wall p50/p99 (CPU p50):\n"
          f"        exact {p50e:.1f}/{p99e:.1f}us ({cpue:.1f}us) | fuzzy {p50f / 1000:.3f}/{p99f / 1000:.3f}ms "
          f"({cpuf / 1000:.3f}ms) | changed-number miss {p50c / 1000:.3f}ms ({cpuc / 1000:.3f}ms) | "
          f"fuzzy-shared {p50s / 1000:.3f}/{p99s / 1000:.3f}ms ({cpus / 1000:.3f}ms)")
print(f"max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
