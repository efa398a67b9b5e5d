"""Spreadsheet edits a user would make: on the sheet's data, not beside it or over it.

The explorer picks an edit's range from what it has seen, often another sheet's (``E2:E41`` fits the
Sales sheet, not Products' ``A1:D11``), so a task may highlight empty cells, merge a data cell with an
empty one, copy a block over existing values or import a CSV over a whole sheet. Such a call succeeds
and the answer is supported, but no user asks for it (blind review 7: 4 of 40). These checks read the
seed world's workbook (what the edited copy held before the task) and name each such edit.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from firefly_eval.mutation import is_mutating
from firefly_eval.schema import Task

__all__ = ["misplaced_sheet_edits", "used_ranges"]

_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")

Box = tuple[int, int, int, int]  # first column, first row, last column, last row (1-based)


def _column(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def parse_range(text: str) -> Box | None:
    """``"D4:E4"`` -> (4, 4, 5, 4); a single cell is a 1x1 box; ``None`` for what is no A1 range."""
    parts = str(text).split("!")[-1].split(":")
    if not 1 <= len(parts) <= 2:
        return None
    cells = [_CELL.match(p.strip()) for p in parts]
    if not all(cells):
        return None
    (c1, r1), (c2, r2) = [(_column(m.group(1)), int(m.group(2))) for m in (cells[0], cells[-1])]
    return min(c1, c2), min(r1, r2), max(c1, c2), max(r1, r2)


@functools.lru_cache(maxsize=32)
def used_ranges(path: str) -> dict[str, Box]:
    """Each sheet's used range in the workbook at ``path`` ({} when it is no workbook openpyxl reads)."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True)
    except Exception:  # noqa: BLE001 - not a workbook: no check
        return {}
    out = {ws.title: (ws.min_column or 1, ws.min_row or 1, ws.max_column or 1, ws.max_row or 1)
           for ws in wb.worksheets}
    wb.close()
    return out


def _inside(inner: Box, outer: Box) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _name(box: Box) -> str:
    def cell(c: int, r: int) -> str:
        letters = ""
        while c:
            c, rem = divmod(c - 1, 26)
            letters = chr(65 + rem) + letters
        return f"{letters}{r}"
    return f"{cell(box[0], box[1])}:{cell(box[2], box[3])}"


def misplaced_sheet_edits(task: Task, world: Path, workspace_root: str) -> list[str]:
    """Edits of a seed-world workbook in ``task``'s reference calls that no user would ask for: an
    in-place edit (format, clear, merge, highlight, copy from) of cells outside the sheet's data, a copy
    onto existing values, a CSV imported over an existing sheet, a deletion of the header row. A sheet an earlier step of the task
    changed is not checked again (its data moved)."""
    problems: list[str] = []
    changed: set[tuple[str, str]] = set()
    for ref in task.reference_arguments:
        args: dict[str, Any] = ref.get("arguments") or {}
        path, sheet = args.get("path"), args.get("sheet")
        prefix = f"{workspace_root}/{ref['server']}/"
        if not (isinstance(path, str) and isinstance(sheet, str) and path.startswith(prefix)):
            continue
        if not is_mutating(ref["tool"], args):
            continue
        sheets = used_ranges(str(world / path[len(prefix):]))
        data = sheets.get(sheet)
        if sheets and (path, sheet) not in changed:
            box = parse_range(args["range"]) if isinstance(args.get("range"), str) else None
            if "csv_path" in args and sheet in sheets:
                problems.append(f"{ref['tool']}: imports a CSV over the existing {sheet} sheet")
            elif "delete" in ref["tool"] and str(args.get("axis", "")).startswith("row") \
                    and data and args.get("start") == data[1]:
                problems.append(f"{ref['tool']}: deletes the header row of the {sheet} sheet")
            elif data and box and not _inside(box, data):
                problems.append(f"{ref['tool']}: {args['range']} lies outside the {sheet} sheet's data "
                                f"({_name(data)})")
            elif data and box and isinstance(args.get("at"), str) and (at := parse_range(args["at"])):
                target = (at[0], at[1], at[0] + box[2] - box[0], at[1] + box[3] - box[1])
                if _overlaps(target, data) and target != box:
                    problems.append(f"{ref['tool']}: copies onto the {sheet} sheet's values at {_name(target)}")
        changed.add((path, sheet))
    return problems
