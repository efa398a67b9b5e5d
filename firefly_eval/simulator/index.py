"""Index of recorded calls: exact map on canonical arguments and a type-aware fuzzy index."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from rapidfuzz import fuzz, process

from firefly_eval.schema import CallRecord, canonical_json, canonicalize

__all__ = ["CallIndex", "Match", "argument_similarity", "flatten_arguments"]


def flatten_arguments(arguments: dict[str, Any]) -> str:
    """``k=v`` pairs (sorted, nested keys dotted) as one string for the lexical prefilter."""
    parts: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k in sorted(value):
                walk(f"{prefix}.{k}" if prefix else str(k), value[k])
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{prefix}[{i}]", v)
        else:
            parts.append(f"{prefix}={value}")

    walk("", canonicalize(arguments))
    return " ".join(parts)


def _value_similarity(a: Any, b: Any, enum: bool) -> float:
    if isinstance(a, bool) or isinstance(b, bool) or enum:
        return 100.0 if a == b else 0.0
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        denom = max(abs(a), abs(b), 1e-9)
        return max(0.0, 100.0 * (1.0 - abs(a - b) / denom))
    if isinstance(a, str) and isinstance(b, str):
        return float(fuzz.ratio(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return argument_similarity(a, b, {})
    if isinstance(a, list) and isinstance(b, list):
        return float(fuzz.token_sort_ratio(canonical_json(a), canonical_json(b)))
    return 0.0


def argument_similarity(query: dict[str, Any], recorded: dict[str, Any], enums: dict[str, bool]) -> float:
    """0-100: mean per-key similarity over the union of keys; enum/boolean keys must match exactly."""
    keys = set(query) | set(recorded)
    if not keys:
        return 100.0
    total = 0.0
    for k in keys:
        if k not in query or k not in recorded:
            continue  # a missing key scores 0
        sim = _value_similarity(query[k], recorded[k], enums.get(k, False))
        if enums.get(k, False) and sim < 100.0:
            return 0.0
        total += sim
    return total / len(keys)


@dataclass
class Match:
    record: CallRecord
    score: float


class _ToolBucket:
    __slots__ = ("postings", "records", "texts")

    def __init__(self) -> None:
        self.records: list[CallRecord] = []
        self.texts: list[str] = []
        # (argument key, canonical value) -> record positions: blocks the fuzzy search to
        # records that share at least one argument value exactly
        self.postings: dict[tuple[str, str], list[int]] = {}


class CallIndex:
    """Per-tool exact and fuzzy lookup over CallRecords."""

    def __init__(self, records: Iterable[CallRecord] = ()) -> None:
        self._exact: dict[tuple[str, str, str, str], CallRecord] = {}
        self._buckets: dict[tuple[str, str], _ToolBucket] = {}
        self.n_records = 0
        for r in records:
            self.add(r)

    @staticmethod
    def exact_key(server: str, tool: str, arguments: dict[str, Any], history_key: str = "") -> tuple[str, str, str, str]:
        return (server, tool, history_key, canonical_json(arguments))

    def add(self, record: CallRecord) -> None:
        """Add a record; the first successful record for a key wins over errors."""
        key = self.exact_key(record.server, record.tool, record.arguments, record.history_key)
        prev = self._exact.get(key)
        if prev is None or (prev.is_error and not record.is_error):
            self._exact[key] = record
        if prev is None:
            bucket = self._buckets.setdefault((record.server, record.tool), _ToolBucket())
            pos = len(bucket.records)
            bucket.records.append(record)
            bucket.texts.append(flatten_arguments(record.arguments))
            for k, v in record.arguments.items():
                bucket.postings.setdefault((k, canonical_json(v)), []).append(pos)
        self.n_records += 1

    def exact(self, server: str, tool: str, arguments: dict[str, Any], history_key: str = "") -> CallRecord | None:
        return self._exact.get(self.exact_key(server, tool, arguments, history_key))

    def fuzzy(self, server: str, tool: str, arguments: dict[str, Any], history_key: str = "",
              enums: dict[str, bool] | None = None, prefilter: int = 25) -> Match | None:
        """Best type-aware match among recorded calls of the same tool and history."""
        bucket = self._buckets.get((server, tool))
        if bucket is None:
            return None
        enums = enums or {}
        if len(bucket.texts) <= prefilter:
            candidates: Iterable[int] = range(len(bucket.texts))
        else:
            candidates = self._blocked(bucket, arguments, prefilter)
        best: Match | None = None
        for i in candidates:
            rec = bucket.records[i]
            if rec.history_key != history_key:
                continue
            score = argument_similarity(arguments, rec.arguments, enums)
            if best is None or score > best.score or (score == best.score and best.record.is_error and not rec.is_error):
                best = Match(rec, score)
        return best

    @staticmethod
    def _blocked(bucket: _ToolBucket, arguments: dict[str, Any], limit: int) -> list[int]:
        """Candidates sharing the rarest exact argument values; lexical prefilter as a fallback."""
        postings = []
        for k, v in arguments.items():
            try:
                p = bucket.postings.get((k, canonical_json(v)))
            except (TypeError, ValueError):
                p = None
            if p:
                postings.append(p)
        postings.sort(key=len)
        out: list[int] = []
        seen: set[int] = set()
        for p in postings:
            if len(p) > 20 * limit and out:
                break
            for i in p[: 4 * limit]:
                if i not in seen:
                    seen.add(i)
                    out.append(i)
            if len(out) >= limit:
                break
        if out:
            return out
        hits = process.extract(flatten_arguments(arguments), bucket.texts, scorer=fuzz.token_set_ratio,
                               limit=limit)
        return [h[2] for h in hits]

    def has_tool(self, server: str, tool: str) -> bool:
        return (server, tool) in self._buckets

    def records(self) -> list[CallRecord]:
        return [r for b in self._buckets.values() for r in b.records]

    # ---- persistence -----------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the records as Parquet (the dataset's ``calls`` table layout)."""
        from firefly_eval.simulator.records import records_to_parquet

        records_to_parquet(self.records(), Path(path))

    @classmethod
    def load(cls, path: str | Path) -> CallIndex:
        from firefly_eval.simulator.records import read_records

        return cls(read_records(Path(path)))
