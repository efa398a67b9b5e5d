import pytest

from firefly_eval.schema import CallRecord, Task, canonical_json, content_hash


def test_key_order_does_not_matter():
    assert canonical_json({"b": 1, "a": [1, 2]}) == canonical_json({"a": [1, 2], "b": 1})


def test_integral_floats_equal_ints_but_fractions_differ():
    assert canonical_json({"x": 1.0}) == canonical_json({"x": 1}) == '{"x":1}'
    assert canonical_json({"x": 1.5}) != canonical_json({"x": 1})
    assert canonical_json(-0.0) == "0"


def test_unicode_is_nfc_normalised_and_kept():
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert canonical_json(composed) == canonical_json(decomposed)
    assert "é" in canonical_json({"k": decomposed})


def test_nested_lists_keep_order():
    assert canonical_json([[1, 2], [3]]) != canonical_json([[3], [1, 2]])
    assert canonical_json({"a": [{"y": 1, "x": 2}]}) == '{"a":[{"x":2,"y":1}]}'


def test_nan_is_rejected():
    with pytest.raises(ValueError):
        canonical_json(float("nan"))


def test_records_round_trip_through_json():
    rec = CallRecord(server="s", tool="t", arguments={"p": "/a"}, result={"content": []})
    assert CallRecord.model_validate_json(rec.model_dump_json()) == rec
    assert rec.id == CallRecord(server="s", tool="t", arguments={"p": "/a"}, result={"content": []},
                                timestamp="other").id
    task = Task(question="q?", tools=[("s", "t")], answer_schema={"type": "object"}, answer={"a": 1})
    assert Task.model_validate_json(task.model_dump_json()) == task
    assert content_hash({"a": 1}) == content_hash({"a": 1.0})
