import json
from pathlib import Path

import pytest

from firefly_eval.generation.catalog import load_catalog
from firefly_eval.generation.graph import build_graph, param_concept
from firefly_eval.generation.sampling import PATTERNS, coverage, sample_plans, satisfiable

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "smithery_catalog_sample.jsonl"


@pytest.fixture(scope="module")
def graph():
    return build_graph(load_catalog(SAMPLE))


def test_concepts():
    assert param_concept("file_path") == "path"
    assert param_concept("repo_path") == "repo"
    assert param_concept("customer_id") == "id"
    assert param_concept("when", {"format": "date-time"}) == "date"
    # an optional number named like a date ("time period in years") is a number, not a date
    assert param_concept("time", {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}) == "number"
    assert param_concept("since", {"anyOf": [{"type": "string"}, {"type": "null"}]}) == "date"


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


def _spec(server, name, desc, props=None, required=None):
    from firefly_eval.schema import ToolSpec

    return ToolSpec(server=server, name=name, description=desc,
                    input_schema={"type": "object", "properties": props or {}, "required": required or []})


def test_tools_no_kept_edge_touches_get_coverage_edges_the_sampler_can_use():
    tools = [
        _spec("fs", "list_files", "List the files in a directory", {"dir": {"type": "string"}}, ["dir"]),
        _spec("fs", "read_file", "Read one file", {"path": {"type": "string"}}, ["path"]),
        _spec("fs", "file_info", "Size and dates of a file", {"path": {"type": "string"}}, ["path"]),
        # unrelated words, no data flow: no kept edge reaches these two
        _spec("cpf", "validar_cpf", "Valida um CPF brasileiro", {"cpf": {"type": "string"}}, ["cpf"]),
        _spec("cpf", "gerar_cnpj", "Gera um CNPJ de teste"),
    ]
    g = build_graph(tools)
    touched = {k for e in g.edges for k in (e.src, e.dst)}
    lonely = {("cpf", "validar_cpf"), ("cpf", "gerar_cnpj")} - touched
    assert lonely, "fixture should have tools without kept edges"
    assert g.stats["tools_without_kept_edge"] == len(tools) - len(touched)
    covered = {k for e in g.coverage for k in (e.src, e.dst)}
    assert lonely <= covered
    assert not ({(e.src, e.dst) for e in g.coverage} & {(e.src, e.dst) for e in g.edges})
    with_fill = {k for p in sample_plans(g, 30, seed=0) for k in p.nodes}
    without = {k for p in sample_plans(g, 30, seed=0, fill_uncovered=False) for k in p.nodes}
    assert lonely <= with_fill and not (lonely & without)


def test_graph_round_trips_coverage_edges(tmp_path):
    from firefly_eval.generation.graph import load_graph, save_graph

    g = build_graph([_spec("a", "x", "alpha"), _spec("a", "y", "beta")])
    save_graph(g, tmp_path / "g.json")
    back = load_graph(tmp_path / "g.json")
    assert [e.model_dump() for e in back.coverage] == [e.model_dump() for e in g.coverage]


def test_graph_and_plans_do_not_depend_on_the_string_hash_seed():
    import os
    import subprocess
    import sys

    # 1,000 one-tool servers; each tool shares one rare word with 19 others and another with 19 more,
    # so its 38 equally weighted candidates tie and only 12 are kept: which 12 must not vary by process
    code = (
        "import json\n"
        "from firefly_eval.generation.graph import build_graph\n"
        "from firefly_eval.generation.sampling import sample_plans\n"
        "from firefly_eval.schema import ToolSpec\n"
        "tools = [ToolSpec(server=f'srv{i}', name=f'tool{i}', description=f'zq{i // 20}x wv{i % 50}y') "
        "for i in range(1000)]\n"
        "g = build_graph(tools)\n"
        "print(json.dumps([sorted((e.src, e.dst, e.confidence) for e in g.edges + g.uncertain + g.coverage),"
        " g.stats['pairs_considered'], [p.id for p in sample_plans(g, 40, seed=2)]]))\n"
    )
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(outs) == 1
