import pytest

from firefly_eval.grading import grade

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "total": {"type": "number"},
                                           "tags": {"type": "array"}, "ok": {"type": "boolean"}},
          "required": ["name", "total", "tags", "ok"]}
GOLD = {"name": "Trail Tent 2P", "total": 249.0, "tags": ["a", "b"], "ok": True}


def test_normalised_match_passes():
    g = grade({"name": "  trail tent 2p.", "total": "249", "tags": ["b", "a"], "ok": True}, GOLD, SCHEMA)
    assert g.passed, g.explanation


@pytest.mark.parametrize("field,value", [("name", "Trail Tent 3P"), ("total", 250), ("tags", ["a"]), ("ok", False)])
def test_one_wrong_field_fails_with_explanation(field, value):
    g = grade({**GOLD, field: value}, GOLD, SCHEMA)
    assert not g.passed
    assert field in g.explanation and g.fraction == 0.75


def test_missing_field_and_empty_answer_fail():
    assert not grade({}, GOLD, SCHEMA).passed
    assert not grade(None, GOLD, SCHEMA).passed


def test_ordered_lists_respect_order():
    schema = {"type": "object", "properties": {"l": {"type": "array", "x-ordered": True}}, "required": ["l"]}
    assert grade({"l": [1, 2]}, {"l": [1, 2]}, schema).passed
    assert not grade({"l": [2, 1]}, {"l": [1, 2]}, schema).passed


def test_schema_without_required_fields_is_rejected():
    with pytest.raises(ValueError, match="no required field"):
        grade({}, {}, {"type": "object", "properties": {}})


def test_integers_beyond_float_range_compare_exactly():
    big = 3 ** 1000  # a factorial-sized result: float(big) overflows
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert grade({"n": big}, {"n": big}, schema).passed
    assert grade({"n": str(big)}, {"n": big}, schema).passed
    assert not grade({"n": big * 2}, {"n": big}, schema).passed
    assert grade({"n": big + 10**300}, {"n": big}, schema).passed  # within the relative tolerance (1e-4)
    assert not grade({"n": 1.5}, {"n": big}, schema).passed
    assert not grade({"n": 250}, {"n": 249}, schema).passed
