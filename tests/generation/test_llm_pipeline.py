"""Plans in flight and the LLM roles through ``firefly generate`` on the installed test fleet.

* The offline explorer with ``max_connections=4`` writes the same shards (calls, tasks, drop reasons)
  as the sequential run.
* ``firefly generate --explorer/--synthesizer/--judge mockllm/model --max-connections 4`` on the test
  fleet's plans, the three roles bound to scripted mockllm models; the explorer's API fails for two
  calls mid-run: the plans they hit write no shard and are counted; the re-run pays only for them
  (every call already paid for is kept in its shard), and the summary's tokens equal the shards' sums.
  (The outage is on the explorer, which every plan calls: on the test fleet only a few plans give a
  verified task, so the judge is called too rarely to hold an outage in the middle of the run.)
"""

import json
import re

import pytest
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.model._model import init_model_roles
from inspect_ai.tool import ToolCall
from typer.testing import CliRunner

from firefly_eval.agent_tools import exposed_name
from firefly_eval.cli.main import app
from firefly_eval.generation.pipeline import GenerateConfig, generate
from firefly_eval.mcp.config import test_fleet_path as small_fleet_path
from firefly_eval.sandbox import SANDBOX_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.fleet]
N, SEED = 40, 8  # the test fleet samples ~16 plans (the sampler stops when no distinct plan is left)


def _shards(run):
    out = {}
    for p in sorted((run / "shards").glob("*.json")):
        s = json.loads(p.read_text())
        calls = [(c["server"], c["tool"], json.dumps(c["arguments"], sort_keys=True), c["is_error"]) for c in s["calls"]]
        task = s["task"] and (s["task"]["question"], json.dumps(s["task"]["answer"], sort_keys=True))
        out[p.stem] = (calls, task, s["reason"])
    return out


@pytest.fixture(scope="module")
def sequential(tmp_path_factory, installed_fleet):
    run = tmp_path_factory.mktemp("seq") / "run"
    generate(run, installed_fleet(), GenerateConfig(n_plans=N, seed=SEED))
    return run


def test_plans_in_flight_write_the_sequential_shards(sequential, tmp_path, installed_fleet):
    summary = generate(tmp_path / "par", installed_fleet(), GenerateConfig(n_plans=N, seed=SEED, max_connections=4))
    assert summary["max_connections"] == 4 and summary["plans_failed"] == 0
    a, b = _shards(sequential), _shards(tmp_path / "par")
    assert len(a) == _n_plans(sequential) >= 12 and any(t for _, t, _ in a.values())
    assert a == b, {k: (a[k][2], b.get(k, ((), None, "missing"))[2]) for k in a if a[k] != b.get(k)}


def _n_plans(run):
    return len((run / "plans.jsonl").read_text().splitlines())


def _usage(o, n_in, n_out):
    o.usage = ModelUsage(input_tokens=n_in, output_tokens=n_out, total_tokens=n_in + n_out)
    return o


class Script:
    """Explorer: calls each plan step with arguments that succeeded in the offline run (then stops with text),
    with an API outage of ``outage`` calls starting at explorer call ``fail_at``; synthesizer: every other
    reply malformed (the card synthesizer's task stands), else the first two facts; judge: fives (a "5"
    string among them)."""

    def __init__(self, offline_run, fail_at=None, outage=0):
        self.args = {}
        # the reference calls of the offline run's tasks first (their arguments make a chain), then any
        # successful call, in a fixed order (a directory listing's order is the filesystem's)
        shards = [json.loads(p.read_text()) for p in sorted((offline_run / "shards").glob("*.json"))]
        for s in sorted(shards, key=lambda s: s["task"] is None):
            ref = set(s["task"]["reference_calls"]) if s["task"] else None
            for c in s["calls"]:
                if not c["is_error"] and (ref is None or c["id"] in ref):
                    self.args.setdefault(exposed_name(c["server"], c["tool"]), c["arguments"])
        self.fail_at, self.outage = fail_at, outage
        self.judge_calls = 0
        self.explore_calls = 0
        self.turn = 0

    def explorer(self, input, tools, tool_choice, config):
        self.explore_calls += 1
        if self.fail_at is not None and self.fail_at <= self.explore_calls < self.fail_at + self.outage:
            raise RuntimeError("simulated API outage (HTTP 503)")
        root = re.search(r"Their folders: \w+: (\S+?)/\w+[;.]", input[1].text).group(1)
        called = {m.function for m in input if getattr(m, "role", "") == "tool"}
        for t in tools:
            if t.name not in called and t.name in self.args:
                self.turn += 1
                args = json.loads(json.dumps(self.args[t.name]).replace(str(SANDBOX_ROOT), root))
                o = ModelOutput.for_tool_call("mockllm/model", t.name, args)
                o.choices[0].message.tool_calls = [ToolCall(id=f"c{self.turn}", function=t.name, arguments=args)]
                return _usage(o, 100, 10)
        return _usage(ModelOutput.from_content("mockllm/model", "All steps are done."), 100, 5)

    def synthesizer(self, input, tools, tool_choice, config):
        self.synth_calls = getattr(self, "synth_calls", 0) + 1
        if self.synth_calls % 2:  # malformed: the card synthesizer's task is kept instead (counted)
            return _usage(ModelOutput.from_content("mockllm/model", "Sorry, I cannot help with that."), 300, 8)
        facts = re.findall(r"F(\d+): ", input[-1].text)[:2]
        reply = {"question": "For the records I asked about, what do they say?",
                 "fields": [{"fact": f"F{f}", "name": f"value_{f}", "description": "what the record says"}
                            for f in facts]}
        return _usage(ModelOutput.from_content("mockllm/model", "Here you go: " + json.dumps(reply)), 300, 40)

    def judge(self, input, tools, tool_choice, config):
        self.judge_calls += 1
        r = {"solvable": "5", "unambiguous": 5, "answer_supported": 5, "natural": 4, "non_trivial": 5, "reason": "ok"}
        return _usage(ModelOutput.from_content("mockllm/model", json.dumps(r)), 200, 30)

    def bind(self):
        init_model_roles({role: get_model("mockllm/model", custom_outputs=getattr(self, name))
                          for role, name in (("explorer", "explorer"), ("synthesizer", "synthesizer"),
                                             ("grader", "judge"))})


def _cli(run):
    return CliRunner().invoke(app, ["generate", "--out", str(run), "-n", str(N), "--seed", str(SEED),
                                    "--fleet", str(small_fleet_path()), "--explorer", "mockllm/model",
                                    "--synthesizer", "mockllm/model", "--judge", "mockllm/model",
                                    "--max-connections", "4", "--price", "mockllm/model=2,8"])


def test_generate_with_llm_roles_survives_an_api_outage_and_resumes(sequential, tmp_path):
    run = tmp_path / "llm"
    first = Script(sequential, fail_at=6, outage=2)
    first.bind()
    try:
        r = _cli(run)
        assert r.exit_code == 0, r.output
        s1 = json.loads((run / "summary.json").read_text())
        assert first.explore_calls > 12, first.explore_calls  # the outage was mid-run: exploring went on after it
        failed = s1["plans_failed"]  # the two failing calls hit one plan or two plans in flight
        assert failed in (1, 2) and all("simulated API outage" in f for f in s1["plan_failures"])
        shards1 = {p.name: p.read_text() for p in (run / "shards").glob("*.json")}
        assert len(shards1) == _n_plans(run) - failed

        second = Script(sequential)
        second.bind()
        r = _cli(run)
        assert r.exit_code == 0, r.output
    finally:
        init_model_roles({})
    s2 = json.loads((run / "summary.json").read_text())
    shards2 = {p.name: json.loads(p.read_text()) for p in (run / "shards").glob("*.json")}
    assert len(shards2) == _n_plans(run) and s2["plans_failed"] == 0
    # the shards written in the first run are untouched; only the 2 failed plans ran again
    assert all(json.dumps(shards2[k]) == json.dumps(json.loads(v)) for k, v in shards1.items())
    rerun = set(shards2) - set(shards1)
    assert len(rerun) == failed
    assert second.explore_calls == sum(shards2[k]["llm"]["usage"].get("explore", {}).get("calls", 0) for k in rerun)
    assert second.judge_calls == sum(shards2[k]["llm"]["usage"].get("judge", {}).get("calls", 0) for k in rerun)
    # tokens: summary = sum of the shards, per stage; cost from --price
    llm = s2["llm"]
    for stage in ("explore", "synthesize", "judge"):
        assert llm["usage"][stage]["calls"] == sum(s["llm"]["usage"].get(stage, {}).get("calls", 0)
                                                   for s in shards2.values())
    assert llm["usage"]["synthesize"]["input_tokens"] == 300 * llm["usage"]["synthesize"]["calls"]
    assert llm["usage"]["judge"]["calls"] >= 1 and llm["judge_malformed"] == 0  # "5" as a string is a rating
    total = sum(u["input_tokens"] * 2 + u["output_tokens"] * 8 for u in llm["usage"].values()) / 1e6
    assert llm["cost_complete"] and abs(sum(llm["cost_usd"].values()) - total) < 1e-9
    kept = [s["task"] for s in shards2.values() if s["task"]]
    assert kept and all(t["quality"]["judge"]["natural"] == 4 for t in kept)
    assert llm["fallbacks"] >= llm["malformed"] >= 1
