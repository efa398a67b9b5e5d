"""Rewrite one path prefix into another inside JSON-like values (sandbox roots of workers)."""

from __future__ import annotations

from typing import Any

__all__ = ["relocate_value"]


def relocate_value(value: Any, src: str, dst: str) -> Any:
    if src == dst:
        return value
    if isinstance(value, str):
        return value.replace(src, dst)
    if isinstance(value, list):
        return [relocate_value(v, src, dst) for v in value]
    if isinstance(value, dict):
        return {relocate_value(k, src, dst): relocate_value(v, src, dst) for k, v in value.items()}
    return value
