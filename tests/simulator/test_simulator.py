import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from firefly_eval.schema import CallRecord, ToolSpec, canonical_json
from firefly_eval.simulator import CallIndex, Simulator

TOOLS = {
    ("fs", "read_file"): ToolSpec(server="fs", name="read_file", input_schema={
        "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
    ("fs", "write_file"): ToolSpec(server="fs", name="write_file", input_schema={
        "type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
        "required": ["path", "content"]}),
    ("conv", "convert"): ToolSpec(server="conv", name="convert", input_schema={
        "type": "object", "properties": {"value": {"type": "number"}, "unit": {"enum": ["m", "km"]}},
        "required": ["value", "unit"]}),
    ("kb", "search"): ToolSpec(server="kb", name="search", input_schema={
        "type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "default": 10}},
        "required": ["query"]}),
}


def _res(text):
    return {"content": [{"type": "text", "text": text}], "isError": False}


def _sim(**kw):
    from firefly_eval.mutation import HistoryTracker

    h = HistoryTracker({"fs"})
    recs = [CallRecord(server="fs", tool="read_file", arguments={"path": "/w/a.txt"}, result=_res("old"),
                       history_key=h.key("fs"))]
    h.observe("fs", "write_file", {"path": "/w/a.txt", "content": "new"}, False)
    recs.append(CallRecord(server="fs", tool="read_file", arguments={"path": "/w/a.txt"}, result=_res("new"),
                           history_key=h.key("fs")))
    recs.append(CallRecord(server="fs", tool="write_file", arguments={"path": "/w/a.txt", "content": "new"},
                           result=_res("ok")))
    recs.append(CallRecord(server="conv", tool="convert", arguments={"value": 1000, "unit": "km"}, result=_res("1")))
    recs.append(CallRecord(server="kb", tool="search", arguments={"query": "Which tents sold best in Q3?"},
                           result=_res("Trail Tent 2P")))
    return Simulator(CallIndex(recs), tools=TOOLS, stateful_servers={"fs"}, **kw)


def test_exact_tier_with_canonical_arguments():
    ans = _sim().answer("conv", "convert", {"unit": "km", "value": 1000.0})
    assert ans.tier == "exact" and ans.result["content"][0]["text"] == "1" and ans.source_id


def test_fuzzy_tier_answers_reworded_free_text_but_never_a_changed_number_or_enum():
    sim = _sim()
    for value in (1001, 1050, 999.5):  # a changed number is another call: a miss, never the old result
        assert sim.answer("conv", "convert", {"value": value, "unit": "km"}).tier == "miss"
    assert sim.answer("conv", "convert", {"value": 1000, "unit": "m"}).tier == "miss"
    near = sim.answer("kb", "search", {"query": "which tents sold best in Q3"})
    assert near.tier == "fuzzy" and near.score >= 90 and "Trail Tent" in near.result["content"][0]["text"]
    # the numbers written in free text must match; defaults are filled in before comparing
    assert sim.answer("kb", "search", {"query": "Which tents sold best in Q4?"}).tier == "miss"
    assert sim.answer("kb", "search", {"query": "Which tents sold best in Q3?", "limit": 10}).tier == "exact"
    assert sim.answer("kb", "search", {"query": "Which tents sold best in Q3?", "limit": 11}).tier == "miss"
    strict = _sim(tiers=frozenset({"exact"}))
    assert strict.answer("kb", "search", {"query": "which tents sold best in Q3"}).tier == "miss"


def test_recorded_errors_replay_as_errors_on_every_tier():
    err = {"content": [{"type": "text", "text": "no such file"}], "structuredContent": {"code": 2}}
    rec = CallRecord(server="kb", tool="search", arguments={"query": "the missing notes file please"}, result=err,
                     is_error=True)
    sim = Simulator(CallIndex([rec]), tools=TOOLS)
    for args, tier in (({"query": "the missing notes file please"}, "exact"),
                       ({"query": "The missing notes file, please!"}, "fuzzy")):
        ans = sim.answer("kb", "search", args)
        assert ans.tier == tier and ans.is_error and ans.result["structuredContent"] == {"code": 2}


def test_miss_unknown_and_invalid_are_error_results():
    sim = _sim()
    miss = sim.answer("fs", "read_file", {"path": "/elsewhere/zzz.bin"})
    assert miss.tier == "miss" and miss.is_error and "no recorded data" in miss.result["content"][0]["text"]
    unk = sim.answer("fs", "delete_everything", {})
    assert unk.tier == "unknown_tool" and unk.is_error
    bad = sim.answer("fs", "read_file", {"path": 3})
    assert bad.tier == "invalid" and "path" in bad.result["content"][0]["text"]


def test_stateful_replay_follows_history():
    ep = _sim().episode()
    assert ep.call("fs", "read_file", {"path": "/w/a.txt"}).result["content"][0]["text"] == "old"
    ep.call("fs", "write_file", {"path": "/w/a.txt", "content": "new"})
    assert ep.call("fs", "read_file", {"path": "/w/a.txt"}).result["content"][0]["text"] == "new"
    assert ep.tier_counts() == {"exact": 3}


def test_index_persists_to_parquet(tmp_path):
    sim = _sim()
    sim.index.save(tmp_path / "calls.parquet")
    again = CallIndex.load(tmp_path / "calls.parquet")
    assert sorted(r.id for r in again.records()) == sorted(r.id for r in sim.index.records())


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                           | st.text(max_size=20), lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                           max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(list(TOOLS) + [("x", "y")]), json_values)
def test_never_raises_and_always_well_formed(key, args):
    ans = _sim().answer(key[0], key[1], args)
    assert isinstance(ans.result["content"], list) and isinstance(ans.result.get("isError", False), bool)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5))
def test_canonical_key_is_stable(args):
    assert canonical_json(args) == canonical_json(dict(reversed(list(args.items()))))


def test_concurrent_lookups_are_safe():
    sim = _sim()
    queries = [{"query": "Which tents sold best in Q3?"}, {"query": "which tents sold best in q3"},
               {"query": "Which tents sold best in Q2?"}]

    async def main():
        async def one(i):
            await asyncio.sleep(0)
            return sim.answer("kb", "search", queries[i % 3]).tier

        return await asyncio.gather(*(one(i) for i in range(300)))

    tiers = asyncio.run(main())
    assert tiers.count("exact") == 100 and tiers.count("fuzzy") == 100 and tiers.count("miss") == 100


def test_llm_adapter_and_simulated_misses_are_tagged():
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    from firefly_eval.simulator.llm import llm_adapter, llm_simulator

    def out(t):
        o = ModelOutput.from_content("mockllm/model", t)
        o.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        return o

    model = get_model("mockllm/model", custom_outputs=[out('{"isError": false, "text": "1.001"}'),
                                                        out("pretend result")])
    sim = _sim(adapt_fn=llm_adapter(model), simulate_fn=llm_simulator(model), miss_policy="simulate")

    async def go():
        ep = sim.episode()
        near = await ep.acall("conv", "convert", {"value": 1001, "unit": "km"})
        miss = await ep.acall("fs", "read_file", {"path": "/nowhere/zz.bin"})
        return near, miss

    near, miss = asyncio.run(go())
    assert near.tier == "adapted" and near.result["_meta"]["firefly/adapted"] and "1.001" in str(near.result)
    assert near.source_id == sim.index.exact("conv", "convert", {"value": 1000, "unit": "km"}).id
    assert miss.tier == "simulated" and miss.result["_meta"]["firefly/simulated"] is True


def test_live_miss_policy_calls_the_real_server_and_grows_the_cache(tmp_path):
    import pytest

    from firefly_eval.mcp.config import firefly_home, load_fleet, test_fleet_path
    from firefly_eval.simulator.live import LiveFallback

    specs = [s for s in load_fleet(test_fleet_path()) if s.name == "calculator"]
    if not (firefly_home() / "fleet" / "calculator" / ".firefly-installed").exists():
        pytest.skip("calculator not installed")
    live = LiveFallback(specs, tmp_path / "recorded.jsonl")
    sim = Simulator(CallIndex([]), miss_policy="live", live_fn=live)

    async def go():
        try:
            first = await sim.aanswer("calculator", "calculate", {"expression": "6*7"})
            again = await sim.aanswer("calculator", "calculate", {"expression": "6*7"})
            return first, again
        finally:
            await live.close()

    first, again = asyncio.run(go())
    assert first.tier == "live" and "42" in str(first.result)
    assert again.tier == "exact" and again.source_id == first.source_id
    assert len((tmp_path / "recorded.jsonl").read_text().splitlines()) == 1


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), st.none() | st.booleans() | st.integers() | st.text(max_size=8)
                       | st.floats(allow_nan=False, allow_infinity=False) | st.lists(st.integers(), max_size=2),
                       max_size=5))
def test_exact_key_fast_path_equals_canonical_json(args):
    assert CallIndex.exact_key("s", "t", args)[3] == canonical_json(args)


def test_a_search_query_is_no_sql_statement():
    from firefly_eval.mutation import is_mutating

    assert not is_mutating("context_search", {"query": "Friday"})  # a note search: the name decides
    assert is_mutating("context_save", {"query": "Friday"})
    assert not is_mutating("execute", {"sql": "SELECT 1"})
    assert is_mutating("run_query", {"query": "  delete from orders"})
    assert is_mutating("execute", {"sql": "DROP TABLE t"}, {"readOnlyHint": True})  # the statement decides
    assert not is_mutating("execute_sql", {"sql": "SELECT 1"}, {"readOnlyHint": False})  # dbhub runs any statement
    assert is_mutating("context_save", {"query": "Friday"}, {"readOnlyHint": False})
