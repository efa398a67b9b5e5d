import json
from pathlib import Path

import pytest

from firefly_eval.generation.catalog import load_catalog
from firefly_eval.generation.graph import build_graph, param_concept
from firefly_eval.generation.sampling import PATTERNS, coverage, sample_plans, satisfiable

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "smithery_catalog_sample.jsonl"


@pytest.fixture(scope="module")
def graph():
    if not SAMPLE.exists():
        pytest.skip("shared/data catalog sample not present")
    return build_graph(load_catalog(SAMPLE))


def test_concepts():
    assert param_concept("file_path") == "path"
    assert param_concept("repo_path") == "repo"
    assert param_concept("customer_id") == "id"
    assert param_concept("when", {"format": "date-time"}) == "date"


def test_graph_is_blocked_and_keeps_evidence(graph):
    s = graph.stats
    assert s["pairs_considered"] < s["pairs_all"] / 5
    assert s["edges"] > 0 and all(e.evidence for e in graph.edges)
    assert s["uncertain_per_tool"] <= 20
    assert all(0 <= e.confidence <= 1 for e in graph.edges)


def test_sampler_is_deterministic_and_covers_patterns(graph):
    a = sample_plans(graph, 60, seed=3)
    b = sample_plans(graph, 60, seed=3)
    assert [p.model_dump() for p in a] == [p.model_dump() for p in b]
    assert [p.id for p in sample_plans(graph, 60, seed=4)] != [p.id for p in a]
    assert set(coverage(graph, a)["patterns"]) <= set(PATTERNS)
    assert len(coverage(graph, a)["patterns"]) >= 3
    for p in a:
        assert 2 <= len(p.nodes) <= 8
        assert all(0 <= s < len(p.nodes) and 0 <= d < len(p.nodes) for s, d in p.edges)


def test_plans_only_use_satisfiable_tools(graph):
    tools = {t.key: t for t in graph.tools}
    for p in sample_plans(graph, 40, seed=1):
        for k in p.nodes:
            t = tools[k]
            assert satisfiable(t, set(), lambda n, s: True)


def test_bad_catalog_entries_warn_not_crash(tmp_path):
    p = tmp_path / "cat.jsonl"
    p.write_text("\n".join([
        "not json",
        json.dumps({"server": "a", "tools": [{"name": "t", "input_schema": {"properties": {"$ref": "#/x"}}},
                                             {"name": "t"}, {"description": "no name"}]}),
        json.dumps({"server": "b", "tools": [{"name": "t", "input_schema": "garbage",
                                             "description": ""}]}),
    ]))
    with pytest.warns(UserWarning):
        tools = load_catalog(p)
    assert [(t.server, t.name) for t in tools] == [("a", "t"), ("b", "t")]
    assert tools[1].input_schema["type"] == "object"
    build_graph(tools)
