"""Index of recorded calls: exact map on canonical arguments and an argument-aware fuzzy index.

Fuzzy lookup is argument-aware (see :mod:`firefly_eval.simulator.sensitivity`): a candidate
must agree on every exact parameter (numbers, enums, ids, paths, dates ...) after
canonicalisation and default filling; only its free-text parameters may differ, and the score
is their similarity. Candidates that differ in an exact parameter are only offered by
:meth:`CallIndex.nearest` (for an adapter or a retrieval prompt), never as a fuzzy hit.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from firefly_eval.schema import CallRecord, canonical_json, canonicalize
from firefly_eval.simulator.sensitivity import ToolPolicy, key_similarity, text_key, text_similarity

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


def _value_similarity(a: Any, b: Any) -> float:
    """Closeness of two differing exact values (ranks neighbours for an adapter; never a hit)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return 100.0 if a == b else 0.0
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        denom = max(abs(a), abs(b), 1e-9)
        return max(0.0, 100.0 * (1.0 - abs(a - b) / denom))
    if isinstance(a, str) and isinstance(b, str):
        return float(fuzz.ratio(a, b))
    return float(fuzz.token_sort_ratio(canonical_json(a), canonical_json(b)))


def argument_similarity(query: dict[str, Any], recorded: dict[str, Any], policy: ToolPolicy | None = None
                        ) -> tuple[float, tuple[str, ...]]:
    """(0-100 mean per-key similarity over the union of keys, exact parameters that differ).

    Both argument dicts should be normalised by the policy first. A key missing on one side
    scores 0 and, for an exact parameter, counts as differing.
    """
    policy = policy or ToolPolicy()
    keys = set(query) | set(recorded)
    if not keys:
        return 100.0, ()
    total = 0.0
    differs: list[str] = []
    for k in sorted(keys):
        a, b = query.get(k, _ABSENT), recorded.get(k, _ABSENT)
        kind = policy.kind(k, a if a is not _ABSENT else b)
        if a is _ABSENT or b is _ABSENT:
            if kind == "exact":
                differs.append(k)
            continue
        if kind == "text":
            total += text_similarity(a, b)
        elif canonical_json(a) == canonical_json(b):
            total += 100.0
        else:
            differs.append(k)
            total += _value_similarity(a, b)
    return total / len(keys), tuple(differs)


_ABSENT = object()
_FLAT = (str, int, bool, type(None))


def _canonical_arguments(arguments: dict[str, Any]) -> str:
    """``canonical_json(arguments)``, with a fast path for flat arguments already in canonical form
    (NFC strings, no floats): the same text without the recursive copy (the exact tier's hot path)."""
    if isinstance(arguments, dict) and all(
            type(k) is str and type(v) in _FLAT and unicodedata.is_normalized("NFC", k)
            and (type(v) is not str or unicodedata.is_normalized("NFC", v)) for k, v in arguments.items()):
        return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return canonical_json(arguments)


@dataclass
class Match:
    """A recorded neighbour; ``differs`` names the exact parameters it disagrees on."""

    record: CallRecord
    score: float
    differs: tuple[str, ...] = ()


TextKeys = dict[str, tuple[str, tuple[str, ...]]]


class _Group:
    """Records that agree on every exact parameter (and history): positions, free-text keys, prefilter texts."""

    __slots__ = ("joined", "positions", "texts")

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.texts: list[TextKeys] = []
        self.joined: list[str] = []


class _Prepared:
    """A bucket's records grouped by their exact parameters, under one tool policy."""

    __slots__ = ("exact", "groups", "policy")

    def __init__(self, policy: ToolPolicy) -> None:
        self.policy = policy
        self.exact: dict[tuple[str, str], int] = {}  # (history, normalised args) -> position
        self.groups: dict[tuple[str, str], _Group] = {}  # (history, exact-parameter signature) -> group

    def add(self, pos: int, record: CallRecord) -> None:
        norm = self.policy.normalize(record.arguments)
        self.exact.setdefault((record.history_key, canonical_json(norm)), pos)
        sig, text = self.policy.split(norm)
        group = self.groups.setdefault((record.history_key, sig), _Group())
        keys = _text_keys(text)
        group.positions.append(pos)
        group.texts.append(keys)
        group.joined.append(_joined(keys))


def _text_keys(text: dict[str, Any]) -> TextKeys:
    return {k: text_key(v) for k, v in text.items()}


def _joined(keys: TextKeys) -> str:
    """Token-sorted text of all free-text parameters (fuzz.ratio on it is a token-sort ratio)."""
    return " ".join(sorted(t for k in keys for t in (k, *keys[k][0].split())))


class _ToolBucket:
    __slots__ = ("postings", "prepared", "records", "texts")

    def __init__(self) -> None:
        self.records: list[CallRecord] = []
        self.texts: list[str] = []
        # (argument key, canonical value) -> record positions: blocks the neighbour search to
        # records that share at least one argument value exactly
        self.postings: dict[tuple[str, str], list[int]] = {}
        self.prepared: _Prepared | None = None

    def prepare(self, policy: ToolPolicy) -> _Prepared:
        if self.prepared is None or self.prepared.policy.fingerprint != policy.fingerprint:
            prep = _Prepared(policy)
            for pos, rec in enumerate(self.records):
                prep.add(pos, rec)
            self.prepared = prep
        return self.prepared


class CallIndex:
    """Per-tool exact and argument-aware fuzzy lookup over CallRecords."""

    def __init__(self, records: Iterable[CallRecord] = ()) -> None:
        self._exact: dict[tuple[str, str, str, str], CallRecord] = {}
        self._buckets: dict[tuple[str, str], _ToolBucket] = {}
        self.conflicts: dict[tuple[str, str, str, str], list[str]] = {}
        self.n_records = 0
        for r in records:
            self.add(r)

    @staticmethod
    def exact_key(server: str, tool: str, arguments: dict[str, Any], history_key: str = "") -> tuple[str, str, str, str]:
        return (server, tool, history_key, _canonical_arguments(arguments))

    def add(self, record: CallRecord) -> None:
        """Add a record; the first successful record for a key wins over errors.

        Several different results under one key (a server whose state the history key does not
        capture, or a volatile tool) are listed in :attr:`conflicts`.
        """
        key = self.exact_key(record.server, record.tool, record.arguments, record.history_key)
        prev = self._exact.get(key)
        if prev is None or (prev.is_error and not record.is_error):
            self._exact[key] = record
            if prev is not None:  # the success takes the error's place in the fuzzy bucket too
                bucket = self._buckets[(record.server, record.tool)]
                bucket.records[bucket.records.index(prev)] = record
        if prev is not None and prev.id != record.id:
            ids = self.conflicts.setdefault(key, [prev.id])
            if record.id not in ids:
                ids.append(record.id)
        if prev is None:
            bucket = self._buckets.setdefault((record.server, record.tool), _ToolBucket())
            pos = len(bucket.records)
            bucket.records.append(record)
            bucket.texts.append(flatten_arguments(record.arguments))
            for k, v in record.arguments.items():
                bucket.postings.setdefault((k, canonical_json(v)), []).append(pos)
            if bucket.prepared is not None:
                bucket.prepared.add(pos, record)
        self.n_records += 1

    def exact(self, server: str, tool: str, arguments: dict[str, Any], history_key: str = "") -> CallRecord | None:
        return self._exact.get(self.exact_key(server, tool, arguments, history_key))

    def normalized_exact(self, server: str, tool: str, arguments: dict[str, Any], history_key: str,
                         policy: ToolPolicy) -> CallRecord | None:
        """A record whose arguments equal these after canonicalisation and default filling."""
        bucket = self._buckets.get((server, tool))
        if bucket is None:
            return None
        prep = bucket.prepare(policy)
        pos = prep.exact.get((history_key, canonical_json(policy.normalize(arguments))))
        return None if pos is None else bucket.records[pos]

    def fuzzy(self, server: str, tool: str, arguments: dict[str, Any], history_key: str = "",
              policy: ToolPolicy | None = None, prefilter: int = 25) -> Match | None:
        """Best recorded call of the same tool and history that agrees on every exact parameter.

        The score is the mean similarity of the free-text parameters (100 when there are none).
        """
        bucket = self._buckets.get((server, tool))
        if bucket is None:
            return None
        policy = policy or ToolPolicy()
        prep = bucket.prepare(policy)
        sig, text = policy.split(policy.normalize(arguments))
        group = prep.groups.get((history_key, sig))
        if group is None:
            return None
        keys = _text_keys(text)
        members: Iterable[int] = range(len(group.positions))
        if len(group.positions) > prefilter:
            hits = process.extract(_joined(keys), group.joined, scorer=fuzz.ratio, limit=prefilter)
            members = [h[2] for h in hits]
        best: Match | None = None
        for i in members:
            rec = bucket.records[group.positions[i]]
            rkeys = group.texts[i]
            names = set(keys) | set(rkeys)
            score = (sum(key_similarity(keys[k], rkeys[k]) for k in names if k in keys and k in rkeys) / len(names)
                     if names else 100.0)
            if best is None or score > best.score or (score == best.score and best.record.is_error
                                                      and not rec.is_error):
                best = Match(rec, score)
        return best

    def nearest(self, server: str, tool: str, arguments: dict[str, Any], history_key: str | None = None,
                policy: ToolPolicy | None = None, k: int = 5, prefilter: int = 25) -> list[Match]:
        """The ``k`` closest recorded calls of a tool, exact parameters allowed to differ.

        ``history_key=None`` searches every history. For adapters and retrieval prompts only.
        """
        bucket = self._buckets.get((server, tool))
        if bucket is None:
            return []
        policy = policy or ToolPolicy()
        if len(bucket.records) <= prefilter:
            candidates: Iterable[int] = range(len(bucket.records))
        else:
            candidates = self._blocked(bucket, arguments, prefilter)
        query = policy.normalize(arguments)
        out = []
        for pos in candidates:
            rec = bucket.records[pos]
            if history_key is not None and rec.history_key != history_key:
                continue
            score, differs = argument_similarity(query, policy.normalize(rec.arguments), policy)
            out.append(Match(rec, score, differs))
        out.sort(key=lambda m: (-m.score, len(m.differs), m.record.is_error))
        return out[:k]

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
        hits = process.extract(flatten_arguments(arguments), bucket.texts, scorer=fuzz.token_set_ratio,
                               limit=limit)
        return out + [h[2] for h in hits if h[2] not in seen]

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
