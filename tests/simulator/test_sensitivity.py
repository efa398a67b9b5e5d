"""Argument-aware matching: which parameters must match exactly, and the perturbation benchmark."""

import pytest

from firefly_eval.schema import CallRecord, ToolSpec
from firefly_eval.simulator import CallIndex, Simulator
from firefly_eval.simulator.perturb import perturbation_report, perturbations, score_answers
from firefly_eval.simulator.sensitivity import param_kind, text_similarity, tool_policy


@pytest.mark.parametrize(("name", "schema", "value", "kind"), [
    ("value", {"type": "number"}, 12, "exact"),
    ("count", {"type": "integer"}, 3, "exact"),
    ("dryRun", {"type": "boolean"}, False, "exact"),
    ("unit", {"type": "string", "enum": ["m", "km"]}, "km", "exact"),
    ("message", {"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]}, "a", "exact"),
    ("filename", {"type": "string"}, "/w/report.docx", "exact"),
    ("user_id", {"type": "string"}, "ivan_santos_6635", "exact"),
    ("date", {"type": "string"}, "2024-05-16", "exact"),
    ("text", {"type": "string", "format": "date"}, "2024-05-16", "exact"),
    ("expression", {"type": "string"}, "12/4 + 7", "exact"),
    ("query", {"type": "string"}, "SELECT name FROM customers WHERE id = 5", "exact"),
    ("title", {"type": "string"}, "Quarterly report", "exact"),
    ("whatever", {}, "some words here", "exact"),  # unknown names default to exact
    ("query", {"type": "string"}, "which tents sold best", "text"),
    ("message", {"type": "string"}, "Winter apparel is the top priority for Q4.", "text"),
    ("search_text", {"type": "string"}, "Trail Tent 2P", "text"),
    ("threadPurpose", {"type": ["string", "null"]}, "planning", "text"),
    ("notes", {"type": "array", "items": {"type": "string"}}, ["a note"], "text"),
    ("content", {"type": "array", "items": {"type": "object"}}, [{"type": "text"}], "exact"),
])
def test_param_kind(name, schema, value, kind):
    assert param_kind(name, schema, value) == kind


def test_numbers_inside_free_text_must_match():
    assert text_similarity("orders of customer 12", "Orders of customer 12!") == 100.0
    assert text_similarity("orders of customer 12", "orders of customer 13") == 0.0


def test_defaults_fill_in_and_integral_floats_match():
    spec = ToolSpec(server="s", name="list", input_schema={"type": "object", "properties": {
        "dir": {"type": "string"}, "limit": {"type": "integer", "default": 20}}})
    rec = CallRecord(server="s", tool="list", arguments={"dir": "/w", "limit": 20}, result={"content": []})
    sim = Simulator(CallIndex([rec]), tools={spec.key: spec})
    assert tool_policy(spec).normalize({"dir": "/w"}) == {"dir": "/w", "limit": 20}
    for args in ({"dir": "/w"}, {"dir": "/w", "limit": 20.0}):
        ans = sim.answer("s", "list", args)
        assert ans.tier == "exact" and ans.source_id == rec.id
    assert sim.answer("s", "list", {"dir": "/w", "limit": 21}).tier == "miss"


def test_a_fuzzy_neighbour_that_differs_in_an_exact_parameter_is_only_offered_to_an_adapter():
    spec = ToolSpec(server="c", name="convert_power", input_schema={"type": "object", "properties": {
        "value": {"type": "number"}, "note": {"type": "string"}}})
    rec = CallRecord(server="c", tool="convert_power", arguments={"value": 12, "note": "for the report"},
                     result={"content": [{"type": "text", "text": "12,000,000 GW"}], "isError": False})
    seen = []

    def adapt(record, ctx):
        seen.append((record.id, ctx.arguments, [m.record.id for m in ctx.neighbours]))
        return {"content": [{"type": "text", "text": "13,000,000 GW"}]}

    plain = Simulator(CallIndex([rec]), tools={spec.key: spec})
    assert plain.answer("c", "convert_power", {"value": 13, "note": "for the report"}).tier == "miss"
    adapted = Simulator(CallIndex([rec]), tools={spec.key: spec}, adapt_fn=adapt)
    ans = adapted.answer("c", "convert_power", {"value": 13, "note": "for the report"})
    assert ans.tier == "adapted" and ans.source_id == rec.id and "13,000,000" in ans.result["content"][0]["text"]
    assert ans.result["isError"] is False and ans.result["_meta"]["firefly/source_id"] == rec.id
    assert seen == [(rec.id, {"value": 13, "note": "for the report"}, [rec.id])]


def test_perturbation_counts_wrong_successes():
    spec = ToolSpec(server="c", name="convert", input_schema={"type": "object", "properties": {
        "value": {"type": "number"}, "message": {"type": "string"}}})
    rec = CallRecord(server="c", tool="convert", arguments={"value": 12, "message": "convert this for the report"},
                     result={"content": [{"type": "text", "text": "ok"}]})
    items = perturbations([rec], {spec.key: spec})
    assert {p.kind for p in items} == {"number+1", "number+5%", "reworded-case", "reworded-word"}
    # a matcher that returns the neighbour for anything is caught; ours is not
    careless = score_answers(items, [("fuzzy", False)] * len(items))
    assert careless["wrong_successes"] == 2 and careless["reworded_answered_by_fuzzy"] == 1.0
    sim = Simulator(CallIndex([rec]), tools={spec.key: spec})
    ours = score_answers(items, [(a.tier, a.is_error) for a in (sim.answer(p.server, p.tool, p.arguments)
                                                                  for p in items)])
    assert ours["wrong_successes"] == 0 and ours["tiers_by_kind"]["reworded-case"] == {"fuzzy": 1}
    assert ours["tiers_by_kind"]["number+1"] == {"miss": 1}


@pytest.mark.slow
def test_shipped_calls_perturbed_give_no_wrong_success():
    report = perturbation_report()
    # most perturbations change something the recorded result depends on (189-task set: 350 of 403;
    # the 86-task set 1.2.0: 109 of 132, 23 of them rewordings of free text; set 1.4.0: 207 of 241, 34
    # rewordings: its memkeeper notes, the longest free texts, are gone; set 1.5.0: 187 of 210, 23 rewordings,
    # 11%: the floor is 10%, so a perturber that stops rewording free text is still caught)
    assert report["sensitive"] > 0.75 * report["perturbations"] and report["reworded"] >= 0.10 * report["perturbations"]
    assert report["wrong_successes"] == 0, report["wrong_success_examples"]
    # 91% on the pre-card shipped calls; 73% on the card-era set (87% on set 1.5.0), whose free-text arguments are fewer and
    # shorter (one changed word weighs more): the floor guards against the fuzzy tier being switched off
    assert report["reworded_answered_by_fuzzy"] >= 0.7


def test_cli_simulate_fidelity_perturb(tmp_path):
    import json

    from typer.testing import CliRunner

    from firefly_eval.cli.main import app
    from firefly_eval.simulator.records import records_to_parquet

    spec = ToolSpec(server="c", name="convert", input_schema={"type": "object", "properties": {
        "value": {"type": "number"}, "unit": {"enum": ["m", "km"]}, "message": {"type": "string"}}})
    recs = [CallRecord(server="c", tool="convert", arguments={"value": v, "unit": "km", "message": "for the report"},
                       result={"content": [{"type": "text", "text": str(v)}]}) for v in (12, 40)]
    records_to_parquet(recs, tmp_path / "calls" / "calls-00000-of-00001.parquet")
    (tmp_path / "tools.jsonl").write_text(spec.model_dump_json() + "\n")
    (tmp_path / "meta.json").write_text('{"stateful_servers": []}')
    res = CliRunner().invoke(app, ["simulate", "fidelity", "--perturb", "--calls", str(tmp_path)])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["wrong_successes"] == 0 and report["tiers_by_kind"]["enum"] == {"miss": 2}
    assert report["tiers_by_kind"]["reworded-case"] == {"fuzzy": 2}
