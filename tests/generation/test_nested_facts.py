"""Facts of nested results for tools without a card (a user's own fleet): counts of named collections, the
fields of records named by their label, nested objects, key: value texts and tables. No line counts, first
lines or positions of a listing."""

import json

from firefly_eval.facts import extract_facts, fact_value
from firefly_eval.generation.verify import _FORMAT_KEY
from firefly_eval.schema import CallRecord


def _rec(text: str, tool: str = "read_graph", args: dict | None = None) -> CallRecord:
    return CallRecord(id="c1", server="kg", tool=tool, arguments=args or {},
                      result={"content": [{"type": "text", "text": text}]})


GRAPH = json.dumps({"entities": [
    {"type": "entity", "name": "Ana", "entityType": "person", "observations": ["keeps a garden"]},
    {"type": "entity", "name": "Porto Ceramics", "entityType": "company", "observations": ["sells tiles"]}],
    "relations": [{"type": "relation", "from": "Ana", "to": "Porto Ceramics", "relationType": "buys_from"}]})


def _facts(rec: CallRecord) -> dict:
    facts = {f.key: f.value for f in extract_facts(rec)}
    for key, value in facts.items():  # every fact is recomputed from the result, as replay and the oracle do
        assert fact_value(rec, key) == value
        assert not _FORMAT_KEY.search(key)
    return facts


def test_a_graph_gives_counts_and_named_records():
    facts = _facts(_rec(GRAPH))
    assert facts["number of entities"] == 2 and facts["number of relations"] == 1
    assert facts["Ana.entityType"] == "person" and facts["Porto Ceramics.entityType"] == "company"
    assert "Ana.type" not in facts  # the same in every record: says nothing about Ana


def test_multi_row_select_rows_are_named_by_their_label():
    rows = [{"name": "tomato", "sown": "2025-05-02", "beds": 3}, {"name": "basil", "sown": "2025-05-10", "beds": 1}]
    facts = _facts(_rec(json.dumps(rows), tool="read_query", args={"query": "SELECT * FROM plants"}))
    assert facts == {"tomato.sown": "2025-05-02", "tomato.beds": 3, "basil.sown": "2025-05-10", "basil.beds": 1}


def test_records_without_a_distinct_label_give_no_row_facts():
    rows = [{"item": "x", "n": 1}, {"item": "x", "n": 2}]
    assert _facts(_rec(json.dumps(rows))) == {}


def test_nested_objects_and_echoes():
    rec = _rec(json.dumps({"status": "next_task", "task": {"id": "task-2", "title": "Order seeds"}}),
               tool="get_next_task", args={"requestId": "req-1", "taskId": "task-2"})
    facts = _facts(rec)
    assert facts["task.title"] == "Order seeds" and "task.id" not in facts  # task-2 echoes an argument


def test_key_value_text_rows_and_trailer():
    text = "1. row\nid: 1\nname: Ines Duarte\ncity: Porto\n\n2. row\nid: 2\nname: Jonas Berg\ncity: Oslo\n\nResult: 2 rows"
    facts = _facts(_rec(text, tool="execute_query", args={"query": "SELECT * FROM customers"}))
    assert facts["Ines Duarte.city"] == "Porto" and facts["Jonas Berg.city"] == "Oslo"
    assert all("Result" not in k for k in facts)  # the row count line is formatting
    info = _facts(_rec("size: 118\nmodified: Wed Dec 02 2026 01:33:47 GMT+0000\npermissions: 644\nisFile: true"))
    assert info == {"size": 118, "permissions": 644}  # clock times and booleans are no facts


def test_tables_html_and_markdown():
    html = ("<table><tr><th></th><th>A</th><th>B</th></tr><tr><th>1</th><td>item</td><td>planned</td></tr>"
            "<tr><th>2</th><td>seeds</td><td>40</td></tr><tr><th>3</th><td>tools</td><td>60</td></tr></table>")
    assert _facts(_rec(html, tool="read_sheet")) == {"seeds.planned": 40, "tools.planned": 60}
    md = "| Request ID | Title | Tasks |\n|---|---|---|\n| req-1 | Garden | 2 |\n| req-2 | Kitchen | 1 |\n"
    assert _facts(_rec(md, tool="list_requests")) == {"Garden.Request ID": "req-1", "Garden.Tasks": 2,
                                                      "Kitchen.Request ID": "req-2", "Kitchen.Tasks": 1}


def test_a_plain_listing_gives_no_fact():
    assert _facts(_rec("[FILE] letter.txt\n[FILE] packing.md", tool="list_directory")) == {}
    assert _facts(_rec("line one\nline two\nline three")) == {}


def test_markdown_fields_of_one_record_and_of_headed_records():
    one = ("## Complete Task Details\n\n### Add a watering schedule\n\n**ID:** `0b6c1f3e-2f5a-4c1e-9a7d-1c2b3d4e5f60`\n\n"
           "**Status:** in_progress\n\n**Description:**Store how often each bed is watered\n\n"
           "**Update Time:** 2026/12/2 3:47:44\n")
    assert _facts(_rec(one, tool="get_task_detail")) == {
        "Status": "in_progress", "Description": "Store how often each bed is watered"}  # no uuid, no time
    many = ("# Dashboard\n\n### Dig the beds\n\n- **Status:** done\n- **Owner:** Ana\n\n"
            "### Order seeds\n\n- **Status:** pending\n- **Owner:** Jonas\n")
    assert _facts(_rec(many, tool="list_tasks")) == {
        "Dig the beds.Status": "done", "Dig the beds.Owner": "Ana",
        "Order seeds.Status": "pending", "Order seeds.Owner": "Jonas"}


def test_a_python_printed_dict_gives_its_top_level_scalars_only():
    text = ("{'name': 'garden_notes', 'count': 3, 'sample_documents': {'ids': ['n1', 'n2'], 'embeddings': "
            "array([[1.0, 0.0], [0.8, 0.1]]), 'documents': ['Tomatoes need sun', 'Basil'], 'uris': None}}")
    assert _facts(_rec(text, tool="get_collection_info", args={"collection_name": "garden_notes"})) == {"count": 3}


def test_a_text_whose_every_line_is_an_error_is_an_error():
    from firefly_eval.facts import error_reason

    long = "/v/" + "x" * 150
    text = (f"{long}/inbox.md: Error - Parent directory does not exist: {long}\n---\n"
            f"{long}/garden.md: Error - Parent directory does not exist: {long}/projects")
    assert len(text) > 400 and error_reason({"content": [{"type": "text", "text": text}]}) is not None
    mixed = f"{long}/inbox.md: Error - Parent directory does not exist\n---\n{long}/garden.md: # Garden notes"
    assert error_reason({"content": [{"type": "text", "text": mixed + "\n" + "text " * 80}]}) is None


def test_no_count_of_bare_metadata_records():
    rec = _rec(json.dumps({"ids": ["n1", "n2"], "metadatas": [{"bed": 1}, {"bed": 2}]}), tool="get_documents")
    assert "number of metadatas" not in _facts(rec)


def test_records_written_column_by_column_are_named_by_their_label_column():
    cols = json.dumps({"ids": ["n1", "n2", "n3"], "embeddings": None, "included": ["documents", "metadatas"],
                       "documents": ["Tomatoes need 6 hours of sun", "Basil likes warm soil", "Kale survives frost"],
                       "metadatas": [{"bed": 1}, {"bed": 2}, {"bed": 3}]})
    facts = _facts(_rec(cols, tool="chroma_get_documents"))
    assert facts["n1.document"] == "Tomatoes need 6 hours of sun" and facts["n3.bed"] == 3
    assert not any(k.endswith(".include") for k in facts)  # a list of another length is no column
    assert {f.description for f in extract_facts(_rec(cols)) if f.key == "n2.document"} == {"the document of n2"}
    # no label column (plural of a name/id field): no records
    assert _facts(_rec(json.dumps({"documents": ["a b", "c d"], "scores": [1, 2]}))) == {}
