"""Secret scan of a folder about to be published, over *decoded* content.

Parquet files are read cell by cell (a key inside a Snappy-compressed column is invisible to a
byte search), JSON and JSON Lines value by value, other files as text. Each cell or line goes
through `detect-secrets <https://github.com/Yelp/detect-secrets>`_ (its regex and keyword
detectors; the entropy detectors are left out, every call id and image would trip them), a few
shapes detect-secrets 1.5 does not know (fine-grained GitHub tokens, Google API keys, unquoted
AWS secret keys, Hugging Face and Anthropic tokens), and the known values (``${VAR}`` values of
the fleet). Base64 runs are decoded and scanned again, so a wrapped key is found too.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Hit", "scan_folder", "scan_text"]

# shapes detect-secrets 1.5.0 misses (checked: each passes its default plugins unflagged)
_EXTRA_SHAPES = {
    "GitHub fine-grained token": re.compile(r"github_pat_[A-Za-z0-9_]{40,}"),
    "Google API key": re.compile(r"AIza[0-9A-Za-z_\-]{35}"),
    "AWS secret access key": re.compile(
        r"aws.{0,20}?(?:secret|key).{0,20}?[=:]\s*['\"]?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", re.I),
    "Hugging Face token": re.compile(r"hf_[A-Za-z0-9]{30,}"),
    "Anthropic key": re.compile(r"sk-ant-[A-Za-z0-9_\-]{20,}"),
    "OpenAI key": re.compile(r"sk-(?:proj-)?[A-Za-z0-9_\-]{40,}"),
}
_SKIPPED_PLUGINS = {"Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector"}
_B64_RUN = re.compile(r"[A-Za-z0-9+/_\-]{24,}={0,2}")
_MAX_DEPTH = 2  # base64 inside base64 inside the cell


@dataclass(frozen=True)
class Hit:
    """One secret found: where (file, row, column) and what kind."""

    file: str
    row: int | None
    column: str | None
    kind: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f" column {self.column}"
        return f"{where}: {self.kind}"


def _plugin_settings() -> dict[str, Any]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    names = sorted(c.__name__ for c in get_mapping_from_secret_type_to_class().values())
    return {"plugins_used": [{"name": n} for n in names if n not in _SKIPPED_PLUGINS]}


_MIN_LINE = 8  # no detector's shape is shorter
_seen: dict[str, frozenset[str]] = {}  # line -> kinds, within one scan_folder (cells repeat a lot)


def _library_kinds(text: str) -> set[str]:
    """detect-secrets' findings per line. Its ``scan_line`` (plugins, then its false-positive filters)
    costs ~2.5 ms a line; the plugins alone are ~20x cheaper, so ``scan_line`` runs only where one fires."""
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import get_plugins

    kinds: set[str] = set()
    plugins = get_plugins()
    for line in text.splitlines():
        if len(line.strip()) < _MIN_LINE:
            continue
        if line not in _seen:
            fired = any(p.analyze_line(filename="adhoc-string-scan", line=line) for p in plugins)
            _seen[line] = frozenset(s.type for s in scan_line(line)) if fired else frozenset()
        kinds |= _seen[line]
    return kinds


def _decoded_runs(text: str) -> Iterator[str]:
    """Text of every base64 (or base64url) run in ``text`` that decodes to UTF-8."""
    for m in _B64_RUN.finditer(text):
        run = m.group(0)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(run + "=" * (-len(run) % 4))
                yield raw.decode("utf-8")
                break
            except (binascii.Error, ValueError):
                continue


def scan_text(text: str, needles: Mapping[str, str], depth: int = 0) -> list[str]:
    """Kinds of secret in ``text``: known values (``needles``: description -> value), detect-secrets
    detectors, the extra shapes; base64 runs are decoded and scanned again (``base64-wrapped ...``)."""
    kinds: list[str] = []
    for what, value in needles.items():
        if value in text or json.dumps(value)[1:-1] in text:
            kinds.append(f"value of {what}")
    kinds += sorted(_library_kinds(text))
    kinds += [k for k, pat in _EXTRA_SHAPES.items() if pat.search(text) and k not in kinds]
    if depth < _MAX_DEPTH:
        for inner in _decoded_runs(text):
            kinds += [f"base64-wrapped {k}" for k in scan_text(inner, needles, depth + 1)]
    return list(dict.fromkeys(kinds))


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return json.dumps(value, ensure_ascii=False, default=str)


def _parquet_cells(path: Path) -> Iterator[tuple[int | None, str | None, str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    for column in table.column_names:
        for row, value in enumerate(table.column(column).to_pylist()):
            if value is not None:
                yield row, column, _as_text(value)


def _jsonl_cells(text: str) -> Iterator[tuple[int | None, str | None, str]]:
    for row, line in enumerate(text.splitlines()):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            for key, value in obj.items():
                yield row, str(key), _as_text(value)
        else:
            yield row, None, line


def _json_cells(text: str) -> Iterator[tuple[int | None, str | None, str]]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        obj = None
    if isinstance(obj, dict):
        yield from ((None, str(key), _as_text(value)) for key, value in obj.items())
    elif isinstance(obj, list):
        yield from ((row, None, _as_text(value)) for row, value in enumerate(obj))
    else:  # not JSON after all: lines
        yield from ((row, None, line) for row, line in enumerate(text.splitlines(), start=1))


def _cells(path: Path) -> Iterator[tuple[int | None, str | None, str]]:
    """(row, column, text) of a file's decoded content: parquet cells, JSON(L) values, text lines."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _parquet_cells(path)
    text = path.read_bytes().decode("utf-8", errors="replace")
    if suffix == ".jsonl":
        return _jsonl_cells(text)
    if suffix == ".json":
        return _json_cells(text)
    return ((row, None, line) for row, line in enumerate(text.splitlines(), start=1))  # row = line number


def scan_folder(folder: Path, needles: Mapping[str, str], skip: set[str] = frozenset()) -> list[Hit]:
    """Every secret in the files under ``folder`` (paths relative to it in ``skip`` are left out)."""
    from detect_secrets.settings import transient_settings

    hits: list[Hit] = []
    _seen.clear()
    with transient_settings(_plugin_settings()):
        for f in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = f.relative_to(folder).as_posix()
            if rel in skip:
                continue
            try:
                cells = list(_cells(f))
            except Exception:  # noqa: BLE001 - a file unreadable in its format is scanned as raw text
                cells = [(None, None, f.read_bytes().decode("latin-1"))]
            for row, column, text in cells:
                for kind in scan_text(text, needles):
                    hits.append(Hit(rel, row, column, kind))
    _seen.clear()
    return hits
