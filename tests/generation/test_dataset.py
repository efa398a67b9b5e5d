import pytest
from datasets import load_dataset

from firefly_eval.dataset_format import load_tasks
from firefly_eval.generation.dataset import EmptyDatasetError, build_dataset, near_duplicate_share, ngram_overlap
from firefly_eval.schema import CallRecord, Task


def _task(i: int, tool: str) -> Task:
    return Task(question=f"Question number {i} about tool {tool} with some words to compare",
                tools=[("srv", tool)], answer_schema={"type": "object", "properties": {"x": {"type": "integer"}},
                                                      "required": ["x"]}, answer={"x": i}, reference_calls=[f"c{i}"],
                servers=["srv"], pattern="sequence")


def test_two_local_folders_named_dataset_do_not_share_a_cache(tmp_path):
    a, b = tmp_path / "a" / "dataset", tmp_path / "b" / "dataset"
    build_dataset([_task(i, f"t{i}") for i in range(3)], [], a, test_share=0.0, verify_replay=False)
    build_dataset([_task(i, f"t{i}") for i in range(7)], [], b, test_share=0.0, verify_replay=False)
    assert len(load_dataset(str(a))["train"]) == 3
    assert len(load_dataset(str(b))["train"]) == 7


def test_split_keeps_tool_combinations_apart_and_round_trips(tmp_path):
    tasks = [_task(i, f"t{i % 10}") for i in range(40)]
    report = build_dataset(tasks, [CallRecord(server="srv", tool="t0", id="c0")], tmp_path / "d", test_share=0.3,
                           verify_replay=False)
    assert report["decontamination"]["shared_tool_combinations"] == 0
    test, train = load_tasks(tmp_path / "d", "test"), load_tasks(tmp_path / "d", "train")
    assert len(test) + len(train) == 40 and test and train
    assert {t.id for t in test} | {t.id for t in train} == {t.id for t in tasks}
    assert (tmp_path / "d" / "README.md").read_text().startswith("---\nlicense: mit")


def test_overlap_metrics():
    assert near_duplicate_share(["the same question text"], ["the same question text!"]) == 1.0
    assert near_duplicate_share(["alpha beta"], ["completely different"]) == 0.0
    shared = "one two three four five six seven eight nine"
    assert ngram_overlap([shared + " a"], [shared + " b"], boilerplate_df=1.0) == 1.0


def test_export_split_limit_is_a_deterministic_sample_with_its_calls(tmp_path):
    from firefly_eval.generation.dataset import export_split

    tasks = [_task(i, f"t{i % 10}") for i in range(40)]
    build_dataset(tasks, [CallRecord(server="srv", tool="t0", id="c0")], tmp_path / "d", test_share=0.5,
                  verify_replay=False)
    n_test = len(load_tasks(tmp_path / "d", "test"))
    export_split(tmp_path / "d", "test", tmp_path / "a", limit=5, verify_replay=False)
    export_split(tmp_path / "d", "test", tmp_path / "b", limit=5, verify_replay=False)
    a, b = load_tasks(tmp_path / "a", "test"), load_tasks(tmp_path / "b", "test")
    assert n_test > 5 and len(a) == 5 and [t.id for t in a] == [t.id for t in b]
    report = export_split(tmp_path / "d", "test", tmp_path / "all", verify_replay=False)
    assert report["calls"] == 0  # the card counts the calls written: none of these tasks' calls exist
    # with the replay check on, tasks whose reference calls do not replay are dropped and counted
    # none replays: no dataset is written (a 0-task dataset does not load with `datasets`)
    with pytest.raises(EmptyDatasetError, match=f"none of the {n_test} task\\(s\\) replays to its gold answer"):
        export_split(tmp_path / "d", "test", tmp_path / "checked")
    assert not (tmp_path / "checked").exists()
    assert len(load_tasks(tmp_path / "all", "test")) == n_test


def test_export_merges_runs_and_splits_without_repeats(tmp_path):
    from firefly_eval.generation.dataset import export_split

    a = [_task(i, f"t{i}") for i in range(20)]
    b = [_task(i, f"t{i}") for i in range(10, 30)]  # tasks 10-19 are in both runs
    build_dataset(a, [], tmp_path / "a", test_share=0.5, verify_replay=False)
    build_dataset(b, [], tmp_path / "b", test_share=0.5, verify_replay=False)
    report = export_split([tmp_path / "a", tmp_path / "b"], "all", tmp_path / "out", verify_replay=False)
    shipped = load_tasks(tmp_path / "out", "test")
    assert sorted(t.answer["x"] for t in shipped) == list(range(30))  # both splits of both, each task once
    assert report["sources"] == [str(tmp_path / "a"), str(tmp_path / "b")]
    only_test = export_split([tmp_path / "a"], "test", tmp_path / "t", verify_replay=False)
    assert 0 < only_test["counts"]["test"] < 20


def test_the_same_question_and_answer_on_other_servers_is_a_repeat():
    from firefly_eval.generation.dataset import Duplicates

    dups = Duplicates()
    sqlite = _task(1, "describe_table")
    dbhub = sqlite.model_copy(update={"tools": [("dbhub", "describe_table")], "servers": ["dbhub"]})
    other_answer = sqlite.model_copy(update={"tools": [("eadb", "describe_table")], "answer": {"x": 2}})
    assert not dups.seen(sqlite)
    assert dups.seen(dbhub)  # one company database served by two servers asks one question
    assert not dups.seen(other_answer)
    reworded = sqlite.model_copy(update={"tools": [("casualtime", "days")], "question": sqlite.question + "."})
    assert dups.seen(reworded)  # a near-same question with the same answer through another tool


def test_export_split_longer_first_draws_tasks_of_three_calls_first(tmp_path):
    from firefly_eval.generation.dataset import export_split

    tasks = [_task(i, f"t{i}").model_copy(update={"reference_calls": [f"c{i}"] * (3 if i % 4 == 0 else 2)})
             for i in range(40)]
    build_dataset(tasks, [], tmp_path / "d", test_share=0.0, verify_replay=False)
    report = export_split(tmp_path / "d", "train", tmp_path / "long", limit=10, longer_first=True, verify_replay=False)
    plain = export_split(tmp_path / "d", "train", tmp_path / "plain", limit=10, verify_replay=False)
    long, short = load_tasks(tmp_path / "long", "test"), load_tasks(tmp_path / "plain", "test")
    assert all(len(t.reference_calls) == 3 for t in long)  # the 10 tasks of 3 calls, before any of 2
    assert sum(len(t.reference_calls) == 3 for t in short) < 10
    assert report["sample"]["longer_first"] and not plain["sample"]["longer_first"]


def test_export_split_caps_each_servers_share_of_the_draw(tmp_path):
    from firefly_eval.generation.dataset import export_split

    tasks = [_task(i, f"t{i}").model_copy(update={"servers": ["big" if i < 30 else f"s{i}"]}) for i in range(40)]
    build_dataset(tasks, [], tmp_path / "d", test_share=0.0, verify_replay=False)
    report = export_split(tmp_path / "d", "train", tmp_path / "cap", limit=10, max_server_share=0.2,
                          verify_replay=False)
    drawn = load_tasks(tmp_path / "cap", "test")
    assert len(drawn) == 10 and sum(t.servers == ["big"] for t in drawn) == 2  # 20% of 10
    assert report["sample"]["max_server_share"] == 0.2


def test_export_split_caps_the_tasks_chained_from_one_value(tmp_path):
    """Set 1.5.0: 45 of 193 tasks took one date (the most recent order's) from their first call."""
    from firefly_eval.generation.dataset import export_split, flowing_values

    def chained(i: int) -> Task:
        date = "2025-12-26" if i < 30 else f"2025-01-{i - 20:02d}"
        return _task(i, f"t{i}").model_copy(update={
            "servers": [f"s{i}"], "reference_calls": [f"a{i}", f"b{i}"],
            "reference_arguments": [{"server": f"s{i}", "tool": "q", "arguments": {}},
                                    {"server": f"s{i}", "tool": "week", "arguments": {"date": date}}],
            "provenance": {"bound_arguments": [{"call": f"b{i}", "param": "date", "from_node": 0}]}})

    tasks = [chained(i) for i in range(40)]
    assert flowing_values(tasks[0]) == {'"2025-12-26"'}
    build_dataset(tasks, [], tmp_path / "d", test_share=0.0, verify_replay=False)
    report = export_split(tmp_path / "d", "train", tmp_path / "cap", limit=10, max_value_share=0.2,
                          verify_replay=False)
    drawn = load_tasks(tmp_path / "cap", "test")
    assert len(drawn) == 10 and sum(flowing_values(t) == {'"2025-12-26"'} for t in drawn) == 2
    assert report["sample"]["max_value_share"] == 0.2


def test_the_server_cap_keeps_a_small_run_and_caps_a_large_one():
    from firefly_eval.generation.pipeline import cap_server_share

    def on(server: str, i: int) -> Task:
        return _task(i, f"t{i}").model_copy(update={"servers": [server], "tools": [(server, f"t{i}")]})

    small = [on("a", i) for i in range(8)] + [on("b", 8 + i) for i in range(4)]
    kept, capped = cap_server_share(small, 0.15)  # 15% of 12 would be 2 per server
    assert (len(kept), capped) == (9, 3) and sum(t.servers == ["a"] for t in kept) == 5
    large = [on("a", i) for i in range(60)] + [on(f"s{i}", 60 + i) for i in range(140)]
    kept, capped = cap_server_share(large, 0.15)
    assert sum(t.servers == ["a"] for t in kept) == 30 and capped == 30
