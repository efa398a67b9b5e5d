"""Parse the JSON object a model was asked to reply with (tolerating prose around it)."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["json_object_in"]


def json_object_in(text: str) -> dict[str, Any] | None:
    """The first-to-last ``{...}`` span of ``text`` parsed as a JSON object, or None."""
    m = re.search(r"\{.*\}", text, re.S)
    if not m:
        return None
    try:
        data = json.loads(m.group(0))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
