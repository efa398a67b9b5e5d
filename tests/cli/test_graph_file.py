"""The run directory's graph.json is the versioned graph file: `firefly graph stats|sample` read it."""

import asyncio
import json

from typer.testing import CliRunner

from firefly_eval.cli.main import app
from firefly_eval.generation.graph import GRAPH_VERSION, load_graph
from firefly_eval.generation.pipeline import GenerateConfig, _prepare
from firefly_eval.mcp.fleet import Fleet


def _prepare_run(spec, run, sandbox):
    async def go():
        fleet = Fleet([spec], sandbox_root=sandbox)
        try:
            return await _prepare(run, fleet, GenerateConfig(n_plans=5, seed=1), lambda *a: None)
        finally:
            await fleet.close()

    return asyncio.run(go())


def test_generate_run_graph_loads_and_graph_stats_reads_it(chaos_spec, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    plans, stats, _skip = _prepare_run(chaos_spec(), run, tmp_path / "sb")
    graph = load_graph(run / "graph.json")
    assert graph.version == GRAPH_VERSION
    assert {t.name for t in graph.tools} >= {"echo", "add"}
    assert graph.stats == stats and "coverage" in stats  # the figures the run's summary reports
    # a resumed run reads the same stats back
    assert _prepare_run(chaos_spec(), run, tmp_path / "sb2")[1] == json.loads(json.dumps(stats))

    png = tmp_path / "stats.png"
    res = CliRunner().invoke(app, ["graph", "stats", "--graph", str(run / "graph.json"), "-n", "10",
                                   "--png", str(png)])
    assert res.exit_code == 0, res.output
    assert png.stat().st_size > 0 and "pairs_considered" in res.output

    out = tmp_path / "plans.jsonl"
    res = CliRunner().invoke(app, ["graph", "sample", "--graph", str(run / "graph.json"), "-n", "5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert len(out.read_text().splitlines()) == len(plans) or out.read_text()
