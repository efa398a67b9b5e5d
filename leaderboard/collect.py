"""Inspect ``.eval`` logs -> tidy ResultRows (one per benchmark, model, metric), saved as Parquet."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from firefly_eval.schema import ResultRow

__all__ = ["collect_logs", "load_results", "metric_name", "published_rows", "save_results"]

# Inspect reducer name -> leaderboard metric prefix
_REDUCERS = {None: "pass@1", "mean": "pass@1"}
# Inspect metric names that are the benchmark's main score
_MAIN = {"accuracy", "mean"}


def metric_name(metric: str, reducer: str | None) -> str:
    """``accuracy`` under reducer ``pass_at_8`` -> ``pass@8``; ``pass_k_4`` -> ``pass^4``; others kept."""
    if metric in _MAIN:
        if reducer and reducer.startswith("pass_at_"):
            return f"pass@{reducer.rsplit('_', 1)[1]}"
        if reducer and reducer.startswith("pass_k_"):
            return f"pass^{reducer.rsplit('_', 1)[1]}"
        return _REDUCERS.get(reducer, f"{metric}/{reducer}")
    return metric if reducer in (None, "mean") else f"{metric}/{reducer}"


def _flip_rate(log: Any) -> float | None:
    """Share of samples that both pass and fail across epochs (None for single-epoch runs)."""
    from inspect_ai.scorer import value_to_float

    if log.eval.config.epochs in (None, 1):
        return None
    to_float = value_to_float()
    outcomes: dict[Any, set[bool]] = defaultdict(set)
    for s in log.samples or []:
        for score in (s.scores or {}).values():
            outcomes[s.id].add(to_float(score.value) >= 1.0 - 1e-6)
    if not outcomes:
        return None
    return sum(len(v) == 2 for v in outcomes.values()) / len(outcomes)


def _manifest(log: Any) -> dict[str, Any]:
    meta = log.eval.metadata or {}
    roles = {}
    for model, usage in (log.stats.model_usage or {}).items():
        roles[model] = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                        "total_tokens": usage.total_tokens, "total_cost": usage.total_cost}
    return {
        "task_version": str(log.eval.task_version),
        "task_args": {k: v for k, v in (log.eval.task_args or {}).items() if v is not None},
        "dataset_revision": meta.get("dataset_revision", ""),
        "simulator": {k: meta.get(k) for k in ("simulator_tier", "fuzzy_threshold", "miss_policy", "adapter",
                                               "simulator_model") if k in meta},
        "model_roles": {k: str(v) for k, v in (log.eval.model_roles or {}).items()} if getattr(
            log.eval, "model_roles", None) else {},
        "packages": dict(log.eval.packages or {}),
        "token_usage": roles,
        "partial": _partial(log),
    }


def _partial(log: Any) -> str:
    """Why a run does not cover its dataset ('limit 5', '10 of 200 samples'), or '' for a full run."""
    limit = log.eval.config.limit
    if limit is not None:
        return f"limit {limit}" if isinstance(limit, int) else f"limit {tuple(limit)}"
    total = getattr(log.eval.dataset, "samples", None)
    done = log.results.completed_samples if log.results else 0
    if total and done < total:
        return f"{done} of {total} samples"
    sample_ids = getattr(log.eval.config, "sample_id", None)
    return "chosen sample ids" if sample_ids else ""


def collect_logs(paths: Iterable[str | Path]) -> list[ResultRow]:
    """Read every successful ``.eval`` log under the given files/folders into ResultRows."""
    from inspect_ai.log import list_eval_logs, read_eval_log

    rows: list[ResultRow] = []
    infos: list[Any] = []
    for p in paths:
        p = Path(p)
        infos.extend([str(p)] if p.is_file() else list_eval_logs(str(p)))
    for info in infos:
        log = read_eval_log(info)
        if log.status != "success" or not log.results:
            continue
        benchmark = log.eval.task.split("/")[-1]
        manifest = _manifest(log)
        flip = _flip_rate(log)
        location = info if isinstance(info, str) else info.name
        common = dict(benchmark=benchmark, task_version=manifest["task_version"], model=log.eval.model,
                      n=log.results.completed_samples, epochs=log.eval.config.epochs or 1,
                      log_path=str(location), date=log.eval.created, manifest=manifest)
        for score in log.results.scores:
            stderr = score.metrics.get("stderr")
            for name, m in score.metrics.items():
                if name == "stderr":
                    continue
                metric = metric_name(name, score.reducer)
                rows.append(ResultRow(metric=metric, value=float(m.value),
                                      stderr=float(stderr.value) if stderr and metric.startswith("pass") else None,
                                      **common))
        if flip is not None:
            rows.append(ResultRow(metric="flip_rate", value=flip, **common))
    return rows


def _key(r: ResultRow) -> tuple[str, str, str, str]:
    return (r.log_path, r.benchmark, r.model, r.metric)


def load_results(path: Path) -> list[ResultRow]:
    if not path.exists():
        return []
    import pyarrow.parquet as pq

    out = []
    for row in pq.read_table(path).to_pylist():
        row["manifest"] = json.loads(row["manifest"]) if isinstance(row["manifest"], str) else row["manifest"]
        out.append(ResultRow.model_validate(row))
    return out


def save_results(rows: list[ResultRow], path: Path) -> int:
    """Merge ``rows`` into the Parquet at ``path`` (same log+metric replaces, never duplicates)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    merged = {_key(r): r for r in load_results(path)}
    before = len(merged)
    for r in rows:
        merged[_key(r)] = r
    table = [{**r.model_dump(mode="json"), "manifest": json.dumps(r.manifest, sort_keys=True, default=str)}
             for r in merged.values()]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.Table.from_pylist(table), tmp)
    tmp.replace(path)
    return len(merged) - before


def published_rows() -> list[ResultRow]:
    """The versioned published reference numbers (paper and benchmark leaderboards)."""
    data = json.loads((resources.files("firefly_eval.leaderboard") / "published.json").read_text())
    return [ResultRow(benchmark=r["benchmark"], model=r["model"], metric=r["metric"], value=r["value"],
                      source="published", log_path=r["source"], task_version=f"published-v{data['version']}")
            for r in data["rows"]]
