"""Argument values for the offline explorer: schema hints, the seed world, earlier outputs."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from firefly_eval.facts import (
    parse_data,
    parse_result,  # re-exported: one reading of a result for the explorer and synthesis
)
from firefly_eval.generation.graph import param_concept
from firefly_eval.schema import result_text

__all__ = ["ValueBank", "deref", "discovered_values", "extract_values", "files_with_extensions", "new_name_param",
           "parse_result", "preferred_files"]

_PATH_RE = re.compile(r"(/[\w.\-]+(?:/[\w.\-]+)+)")
_ID_RE = re.compile(r"\b([A-Z]-\d{3,4})\b")
_DATE_RE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_DESC_EXAMPLE = re.compile(r"e\.g\.,?\s*['\"`]([^'\"`]{1,40})['\"`]")
_NUM_RE = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)(?![\w.])")

_WORLD_FILES = ["company.db", "data/orders.csv", "data/products.csv", "sales.xlsx", "report.docx",
                "notes/2025-09-02-standup.md", "notes/2025-09-16-planning.md", "notes/todo.txt", "repo/README.md",
                "repo/inventory.py", "repo/prices.csv"]
_SQL = [
    "SELECT name, city FROM customers ORDER BY id LIMIT 3",
    "SELECT COUNT(*) AS n FROM orders",
    "SELECT category, COUNT(*) AS n FROM products GROUP BY category ORDER BY category",
    "SELECT sku, name, price FROM products WHERE price > 100 ORDER BY price DESC",
    "SELECT customer_id, ROUND(SUM(total), 2) AS spent FROM orders GROUP BY customer_id ORDER BY spent DESC LIMIT 3",
    "SELECT city, COUNT(*) AS n FROM customers GROUP BY city ORDER BY n DESC, city LIMIT 3",
    "SELECT MAX(total) AS max_total FROM orders",
]
_STATIC: dict[str, list[Any]] = {
    "expression": ["2*(3+4)", "x**2 + 2*x + 1", "(17*3) - 5", "sqrt(144) + 3", "x**3 - x", "12/4 + 7"],
    "number": [12, 7, 3.5, 100, 42, 2],
    "date": ["2025-09-16", "2025-03-20", "2025-12-24"],
    "timezone": ["Europe/Lisbon", "Asia/Tokyo", "America/Denver", "Europe/Oslo"],
    "url": ["https://lumen.example/catalog"],
    "text": ["Lumen Outfitters restocks the Headlamp 400 in Porto.", "Trail Tent 2P sales grew 12% in Q3.",
             "Winter apparel is the top priority for Q4."],
    "entity": ["Lumen Outfitters", "Freya Lindqvist", "Porto pop-up"],
    "table": ["customers", "orders", "products", "Sales", "Products"],  # DB tables and xlsx sheets
    "repo": ["main"],
    "currency": ["EUR", "USD", "JPY"],
    "unit": ["meter", "kilometer", "celsius", "fahrenheit", "kilogram", "pound"],
    "id": ["C-203", "O-5004", "P-102"],
}
# concepts whose static values are the seed world's own (its ids, tables, people): never for other servers
_WORLD_CONCEPTS = {"table", "id", "entity"}
_WORDS = ["Lumen", "Porto", "tent", "headlamp", "winter", "budget", "Trail Runners"]
_NAME_KEYS = ["name", "title", "id", "key", "table_name"]
# listing lines that are no value: headers ("Allowed directories:"), sentinels ("__NO_COLLECTIONS_FOUND__")
_JUNK = re.compile(r".*:|_+[A-Z0-9_]+_+|\W*|(no|none|empty)\b.*", re.I)
# a printed structure or markup (a line of "{'ids': [...", "<h2>Read Sheet</h2>"): text of a result, never a name
_MARKUP = re.compile(r"[{}<>]|,$|^\[[-\d.'\" ]")
# a parameter naming the object a copy, fork or rename makes (dstSheetName, new_collection_name)
_NEW_PARAM = re.compile(r"^(new|dst|dest|destination|target|to)_.*name$|^new_?[a-z]+$")
_MAKES = {"create", "new", "fork", "copy", "clone", "duplicate", "rename", "make"}
_SPREADSHEET = re.compile(r"excel|workbook|spreadsheet|xlsx|\bsheets?\b|\bcells?\b|a1 notation", re.I)
_SQL_TEXT = re.compile(r"\bsql\b|\bquery\b.*\b(table|database|sqlite)|\b(select|insert|create table)\b", re.I)
# what a tool's text says about the files it wants -> extensions, best first
_FILE_KINDS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"excel|workbook|spreadsheet|xlsx|\bsheets?\b"), (".xlsx",)),
    (re.compile(r"\.docx|\bdocx\b|word document|\bword\b"), (".docx",)),
    (re.compile(r"\bcsv\b"), (".csv",)),
    (re.compile(r"sqlite|\.db\b|database file"), (".db",)),
    (re.compile(r"markdown|\.md\b"), (".md",)),
    (re.compile(r"python|\.py\b"), (".py",)),
]
_EXT = re.compile(r"\.(xlsx|xlsm|docx|csv|db|md|txt|py|pdf|pptx)\b", re.IGNORECASE)
# spreadsheet cells and ranges (A1 notation)
_RANGE_PARAMS = {"range", "cell_range", "source", "source_range", "data_range", "target_range", "ref", "refers_to"}
_CELL_PARAMS = {"cell", "at", "start_cell", "target_cell", "changing_cell", "anchor", "destination", "top_left"}


def deref(schema: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """Inline local ``$ref``s (``#/$defs/X``, ``#/definitions/X``) and take the first non-null
    ``anyOf``/``oneOf`` branch, so the value bank sees plain types."""
    if depth > 6 or not isinstance(schema, dict):
        return schema
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/"):
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        if isinstance(target, dict):
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            return deref({**target, **extra}, root, depth + 1)
        return {k: v for k, v in schema.items() if k != "$ref"}
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches and "type" not in schema:
            pick = next((b for b in branches if isinstance(b, dict) and b.get("type") != "null"), branches[0])
            rest = {k: v for k, v in schema.items() if k != key}
            return deref({**(pick if isinstance(pick, dict) else {}), **rest}, root, depth + 1)
    out = dict(schema)
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: deref(v, root, depth + 1) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = deref(out["items"], root, depth + 1)
    return out


def files_with_extensions(text: str) -> list[str]:
    """Seed-world files whose extension an error or description names (``.xlsx``, ``.csv``...)."""
    exts = {"." + e.lower() for e in _EXT.findall(text)}
    if ".xlsm" in exts:
        exts.add(".xlsx")
    return [f for f in _WORLD_FILES if any(f.endswith(e) for e in exts)]


def _kinds(context: str) -> list[str]:
    low = context.lower()
    return [e for pat, exts in _FILE_KINDS if pat.search(low) for e in exts]


def _files_of(kinds: list[str]) -> list[str]:
    return [f for e in kinds for f in _WORLD_FILES if f.endswith(e)]


def preferred_files(context: str) -> list[str]:
    """World files of the kinds a tool's own words ask for (an Excel tool gets the workbook)."""
    return _files_of(_kinds(context))


def extract_values(result: dict[str, Any], lists: str | None = None) -> dict[str, list[Any]]:
    """Concept -> values found in a result (for binding successors' arguments). ``lists``: the concept
    the tool lists ("table" for list_tables): bare names and ``name`` fields are values of it."""
    out: dict[str, list[Any]] = defaultdict(list)
    data = parse_data(result)

    def walk(key: str, v: Any, depth: int) -> None:
        if depth > 4:
            return
        if isinstance(v, dict):
            for k, x in list(v.items())[:30]:
                walk(str(k), x, depth + 1)
        elif isinstance(v, list):
            for x in v[:10]:
                walk(key, x, depth + 1)
        elif isinstance(v, (str, int, float)) and not isinstance(v, bool):
            c = param_concept(key) if key else None
            if c == "entity" and key.lower().startswith("observation"):
                c = "text"  # what is known of an entity ("keeps a vegetable garden") is no entity's name
            if c is None and lists and key in ("", "name", "title") and isinstance(v, str):
                c = lists
            if c and v not in out[c]:
                out[c].append(v)
            if isinstance(v, (int, float)):
                out["number"].append(v)

    walk("", data, 0)
    text = result_text(result)
    for p in _PATH_RE.findall(text)[:10]:
        out["path"].append(p)
    for i in _ID_RE.findall(text)[:10]:
        out["id"].append(i)
    for d in _DATE_RE.findall(text)[:5]:
        out["date"].append(d)
    if not out["number"]:
        out["number"].extend(float(n) if "." in n else int(n) for n in _NUM_RE.findall(text)[:5])
    if isinstance(data, str) and 0 < len(data) <= 200:
        out["text"].append(data)
    return dict(out)


def _names_in(data: Any, depth: int = 0) -> list[str]:
    """Values of name-like keys (name, title, id, ...) anywhere in a parsed result (a few levels deep)."""
    out: list[str] = []
    if depth > 4:
        return out
    if isinstance(data, dict):
        for k, v in list(data.items())[:30]:
            if k in _NAME_KEYS and isinstance(v, str) and 0 < len(v) <= 80 and not _JUNK.fullmatch(v):
                out.append(v)
            elif isinstance(v, (dict, list)):
                out.extend(_names_in(v, depth + 1))
    elif isinstance(data, list):
        for x in data[:10]:
            out.extend(_names_in(x, depth + 1))
    return list(dict.fromkeys(out))[:10]


def _names_in_file(path: str) -> dict[str, list[str]]:
    """Names a data file itself holds: a workbook's sheets, a SQLite database's tables (read-only)."""
    low = path.lower()
    try:
        if low.endswith((".xlsx", ".xlsm")):
            import zipfile

            with zipfile.ZipFile(path) as z:
                xml = z.read("xl/workbook.xml").decode("utf-8", "replace")
            return {"sheet": re.findall(r'<sheet\b[^>]*\bname="([^"]+)"', xml)[:10]}
        if low.endswith((".db", ".sqlite", ".sqlite3")):
            import sqlite3

            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                rows = con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                                   "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
            finally:
                con.close()
            return {"table": [r[0] for r in rows][:10]}
    except Exception:  # noqa: BLE001 - a file that does not read as its kind names nothing
        return {}
    return {}


def _text_lines(path: str, limit: int = 4) -> list[str]:
    """The first non-empty lines of a small text file (an own file's real content, for search/edit texts)."""
    p = Path(path)
    if p.suffix.lower() not in (".md", ".txt", ".py", ".csv", ".json", ".jsonl", ".yaml", ".yml", ".toml", ""):
        return []
    try:
        if p.stat().st_size > 200_000:
            return []
        text = p.read_text(errors="strict")
    except (OSError, UnicodeDecodeError):
        return []
    return [ln.strip(" #-*\t") for ln in text.splitlines() if 3 <= len(ln.strip(" #-*\t")) <= 80][:limit]


def discovered_values(tool: str, result: dict[str, Any]) -> dict[str, list[Any]]:
    """Concept -> values in a listing/getter's result; bare strings of a list take the concept of the
    tool's noun (``list_tables`` -> table, ``list_directory`` -> path, ``list_users`` -> id)."""
    out = {k: list(v) for k, v in extract_values(result).items()}
    noun = re.split(r"[_\-. ]+", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", tool).lower())[-1]
    concept = param_concept(noun.rstrip("s") if noun.endswith("s") else noun) or param_concept(noun)
    if concept is None and noun in ("users", "customers", "orders", "items", "records", "products", "entries"):
        concept = "id"
    data = parse_result(result)
    if isinstance(data, dict) and len(data) == 1:
        data = next(iter(data.values()))
    strings: list[str] = []
    if isinstance(data, list):
        strings = [x for x in data[:30] if isinstance(x, str) and 0 < len(x) <= 120]
        # a listing of records ([{"name": "plants"}, ...]): their names
        for x in data[:30]:
            key = next((k for k in _NAME_KEYS if isinstance(x, dict) and isinstance(x.get(k), (str, int))
                        and not isinstance(x.get(k), bool)), None)
            if key is not None:
                strings.append(str(x[key]))
    elif isinstance(data, str) and ("\n" in data or "," in data):
        lines = data.splitlines() if "\n" in data else data.split(",")  # "customers, orders"
        strings = [ln.strip(" -*\t") for ln in lines[:30] if 0 < len(ln.strip(" -*\t")) <= 120]
    strings = [x for x in strings if not _JUNK.fullmatch(x.strip()) and not _MARKUP.search(x.strip())]
    names = _names_in(data)  # names of the records a getter returned (entities of a graph, sheets of a workbook)
    if names:
        out["_listed"] = list(dict.fromkeys([*out.get("_listed", []), *names]))
    # names a listing gave: under their concept, else under the tool's noun ("note") and as listed names
    for key in ([concept] if concept else [noun[:-1] if noun.endswith("s") else noun, "_listed"]) if strings else []:
        bucket = out.setdefault(key, [])
        bucket[:0] = [x for x in strings if x not in bucket]
    return {k: list(dict.fromkeys(v))[:20] for k, v in out.items() if v}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("-", "_")


_MAKES_WRITE = re.compile(r"(^|_)(write|set|update|put|fill|insert|append)(_|$)")


def new_name_param(tool: str, param: str) -> bool:
    """Does ``param`` name the object ``tool`` makes: the destination of a copy, fork or rename
    (``dstSheetName``, ``new_collection_name``), or the name of what a create tool creates (``create_table``'s
    ``tableName``; not its ``sheetName``, the sheet it goes in)?"""
    p = _snake(param)
    if _NEW_PARAM.match(p):
        return True
    words = _snake(tool).split("_")
    for i, w in enumerate(words[:-1]):
        if w in ("create", "new", "make"):
            noun = words[i + 1][:-1] if words[i + 1].endswith("s") else words[i + 1]
            pw = p.split("_")
            return pw[0] == noun and (len(pw) == 1 or pw[-1] == "name") and len(pw) <= 2
    return False


class ValueBank:
    """Candidate values for a parameter, most promising first.

    ``world_servers``: the servers that work on the seed world (None: all); the others never get the seed
    world's files, queries, ids or tables, only their own: ``discovered`` (server -> concept -> values from
    its read-only listings) and ``own_files`` (server -> the live paths of its copied cwd and files).
    """

    def __init__(self, sandbox_of: dict[str, str], known: dict[str, dict[str, list[Any]]] | None = None,
                 discovered: dict[str, dict[str, list[Any]]] | None = None, world_servers: set[str] | None = None,
                 own_files: dict[str, list[str]] | None = None, own_dirs: dict[str, list[str]] | None = None) -> None:
        self.sandbox_of = sandbox_of  # server -> its sandbox path
        self.known = known or {}  # server -> parameter -> known-good values (the fleet's explore_values)
        self.learned: dict[str, list[Any]] = defaultdict(list)  # field name -> values seen in outputs
        self.discovered = discovered or {}
        self.world_servers = world_servers
        self.own_files = own_files or {}
        self.own_dirs = own_dirs or {}

    def uses_world(self, server: str) -> bool:
        """Does ``server`` work on the seed world (and so take its files and ids)?"""
        return self.world_servers is None or server in self.world_servers

    def files_like(self, server: str, text: str, by_extension: bool = True) -> list[str]:
        """Absolute paths of the server's files of the kinds ``text`` names (its extensions when
        ``by_extension``, else its words: an Excel tool gets workbooks): seed-world or its own files."""
        sandbox = self.sandbox_of.get(server, "")
        if self.uses_world(server):
            names = files_with_extensions(text) if by_extension else preferred_files(text)
            return [f"{sandbox}/{f}" for f in names]
        exts = ({"." + e.lower() for e in _EXT.findall(text)} if by_extension else set(_kinds(text)))
        return [f for f in self.own_files.get(server, []) if f.lower().endswith(tuple(exts))] if exts else []

    def learn(self, result: dict[str, Any]) -> None:
        """Keep the values a result holds (by concept) and the names it lists (``_listed``: sheet, collection,
        project names a later call of the plan may need)."""
        values_of = extract_values(result)
        names = _names_in(parse_result(result))
        if names:
            values_of["_listed"] = names
        for concept, values in values_of.items():
            bucket = self.learned[concept]
            for v in values[:5]:
                if v not in bucket:
                    bucket.append(v)
            del bucket[:-20]

    def candidates(self, server: str, tool: str, name: str, schema: dict[str, Any],
                   rng: random.Random, bound: list[Any] | None = None, context: str = "") -> list[Any]:
        """Ordered candidate values for parameter ``name`` of ``server``'s tool.

        ``context``: the tool's description (what kind of file it wants, ...)."""
        schema = schema if isinstance(schema, dict) else {}
        typ = schema.get("type")
        if isinstance(typ, list):
            typ = next((t for t in typ if t != "null"), None)
        out: list[Any] = []
        if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
            opts = list(schema["enum"])
            rng.shuffle(opts)
            return opts[:4]
        if "const" in schema:
            return [schema["const"]]
        if not self.uses_world(server) and typ in (None, "string") and new_name_param(tool, name):
            return self._new_names(server, tool, name, rng)  # a copy or a new table takes no existing name
        own_kinds = _kinds(f"{name.replace('_', ' ')} {schema.get('description', '')}")
        if bound and own_kinds:  # a csv_path takes no workbook a predecessor returned
            bound = [b for b in bound if not (isinstance(b, str) and "." in b[-6:])
                     or b.lower().endswith(tuple(own_kinds))]
        if bound:
            out.extend(bound)
        known = self.known.get(server, {}).get(name)
        if known:
            if typ == "array" and not any(isinstance(v, list) for v in known):
                return [list(known[:2])]
            if not bound:
                return list(known[:4])  # real values of the server's own world beat generic ones
            out.extend(known)
        world = self.uses_world(server)
        disc_all = self.discovered.get(server, {})
        pconcept = param_concept(name, schema)
        disc = list(disc_all.get(name) or disc_all.get(pconcept or "", []) or [])
        if not disc:  # a name parameter takes what a listing of the same noun (or any listing) gave
            vague = ("_listed",) if world else ("_listed", "text", "entity")  # own servers: record names first
            noun_hit = next((k for k in disc_all if k not in vague and len(k) > 2 and k in name.lower()), None)
            if noun_hit or pconcept in (None, "id", "entity"):
                disc = list(disc_all.get(noun_hit or "_listed", []))
        if "default" in schema and schema["default"] is not None:
            out.append(schema["default"])
        lname_tool = f"{name} {tool}".lower()
        if not world and re.search(r"old|search|find|pattern|match|query", name.lower()) and typ in (None, "string"):
            # text to find in the server's own files: a real line of them, before anything a listing printed
            out.extend(ln for f in self.own_files.get(server, [])[:20] for ln in _text_lines(f)[:2])
        if not world and pconcept == "path" and not re.search(r"dir|folder|list|tree|search|find|root|cwd",
                                                               lname_tool):
            # a file parameter of a file tool: the server's own files first (a listed folder would give EISDIR)
            kinds = _kinds(f"{name.replace('_', ' ')} {schema.get('description', '')}")
            own = self.own_files.get(server, [])
            out.extend([f for f in own if f.lower().endswith(tuple(kinds))] if kinds else own[:3])
        ranged = (name.lower() in _RANGE_PARAMS or name.lower().endswith("_range")
                  or "a1 notation" in str(schema.get("description", "")).lower()) \
            and bool(_SPREADSHEET.search(f"{tool} {context[:400]} {schema.get('description', '')}"))
        if disc and not (typ == "array" or typ == "object") and not (ranged and not world):
            out.extend(disc[:3])  # what the server's own listings returned (a sheet's name is no cell range)
        for ex in schema.get("examples", []) or []:
            out.append(ex)
        # examples written into the description ("e.g. 'A1:D20'")
        out.extend(_DESC_EXAMPLE.findall(str(schema.get("description", "")))[:2])
        concept = param_concept(name, schema)
        sandbox = self.sandbox_of.get(server, "")
        lname_only = name.lower()
        a1 = "a1 notation" in str(schema.get("description", "")).lower()
        # cells and ranges only for spreadsheet tools (a file tool's `source` is no range)
        sheet = world or bool(_SPREADSHEET.search(f"{tool} {context[:400]} {schema.get('description', '')}"))
        if typ in (None, "string") and sheet and (lname_only in _RANGE_PARAMS or lname_only.endswith("_range") or a1):
            if not world and _MAKES_WRITE.search(_snake(tool)):
                out.append("A6:B6")  # a write's values are one row of two cells, below the user's own rows
            out.extend(["A1:D5", "A2:C10", "B2:B6"] if world else ["A1:C4", "A1:B2", "B2:B4"])
        elif typ in (None, "string") and sheet and (lname_only in _CELL_PARAMS or lname_only.endswith("_cell")):
            out.extend(["B2", "E2", "A1"])
        if not world and concept == "sql" and not _SQL_TEXT.search(f"{tool} {context[:400]} "
                                                                   f"{schema.get('description', '')}"):
            concept = "text"  # a `query` that is a search, not SQL
        if not world and concept is None and lname_only in ("source", "destination", "src", "dst", "target"):
            concept = "path"  # move_file(source, destination)
        if not world and concept in ("repo", "path", "sql"):
            out.extend(self._own_candidates(server, name, tool, concept, own_kinds, context, rng, disc_all))
        elif concept == "repo" and not ("branch" in name.lower() or "commit" in name.lower()
                                        or "ref" in name.lower()):
            out.extend([f"{sandbox}/repo", sandbox])
        elif concept == "repo":
            out.extend(["main", "HEAD"])
        elif concept == "path":
            # the kind the parameter names (csv_path) or else the tool's words ask for, then the rest shuffled
            wanted = _files_of(own_kinds) or preferred_files(f"{server} {tool} {context[:400]}")
            rest = [f for f in _WORLD_FILES if f not in wanted]
            rng.shuffle(rest)
            files = wanted + rest
            lname = f"{name} {tool} {server}".lower()
            dirs = [sandbox, f"{sandbox}/notes", f"{sandbox}/data"]
            if "git" in lname or "repo" in lname:
                dirs = [f"{sandbox}/repo", *dirs]
            if any(w in lname for w in ("dir", "folder", "list", "tree", "search", "find", "git", "repo")):
                out.extend(dirs)
            out.extend(f"{sandbox}/{f}" for f in files[:4])
            out.extend(files[:2])
        elif concept == "sql":
            sql = list(_SQL)
            rng.shuffle(sql)
            if server == "duckdb" or server == "motherduck":
                out.append(f"SELECT COUNT(*) AS n FROM read_csv_auto('{sandbox}/data/orders.csv')")
                out.append(f"SELECT category, COUNT(*) AS n FROM read_csv_auto('{sandbox}/data/products.csv') "
                           "GROUP BY category ORDER BY category")
            out.extend(sql[:3])
        elif concept:
            learned = self.learned.get(concept, [])
            static = list(_STATIC.get(concept, [])) if world or concept not in _WORLD_CONCEPTS else []
            if not world and concept in ("text", "entity", "table"):
                static = self.own_words(server, name, rng)  # its own files' lines and listed names
            if world:
                rng.shuffle(static)
            out.extend(static[:3] + learned[-2:])
        if not world:  # a path of another server's sandbox (a multi-server plan's output) does not exist here
            mine = self.sandbox_of.get(server, "")
            out = [v for v in out if not (isinstance(v, str) and v.startswith("/") and mine
                                          and not v.startswith(mine))]
        if typ in ("integer", "number"):
            nums = [v for v in out if isinstance(v, (int, float)) and not isinstance(v, bool)]
            conv = []
            for v in out:
                if isinstance(v, str):
                    try:
                        conv.append(float(v) if "." in v else int(v))
                    except ValueError:
                        pass
            lo, hi = schema.get("minimum"), schema.get("maximum")
            base = [rng.choice([2, 3, 5, 7, 10, 12, 25, 42])]
            vals = nums + conv + base
            if typ == "integer":
                vals = [int(v) for v in vals]
            vals = [v for v in vals if (lo is None or v >= lo) and (hi is None or v <= hi)] or [lo if lo is not None else 1]
            return list(dict.fromkeys(vals))[:4]
        if typ == "boolean":
            return [False, True]
        if typ == "array":
            items = schema.get("items", {}) if isinstance(schema.get("items"), dict) else {}
            it = items.get("type")
            if it == "object":
                return [self.candidates(server, tool, name.rstrip("s"), items, rng, None)[:1]]
            inner = self.candidates(server, tool, name.rstrip("s"), items, rng, bound, context)
            if it in ("number", "integer"):
                return [[3, 5, 8, 13], [2.5, 4.0, 9.5]]
            return [inner[:2] or (_WORDS[:2] if world else self.own_words(server, name, rng)[:2])]
        if typ == "object":
            oprops = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
            req = [r for r in schema.get("required", []) or [] if r in oprops] or list(oprops)[:3]
            obj = {}
            for r in req:
                sub = self.candidates(server, tool, r, oprops.get(r, {}), rng, None)
                if sub:
                    obj[r] = sub[0]
            return [obj]
        strs = [v for v in out if isinstance(v, str)] + [str(v) for v in out if isinstance(v, (int, float))]
        if not strs and not world:
            strs = self.own_words(server, name, rng)[:4]
        if not strs:
            strs = [rng.choice(_STATIC["text"] if "text" in name.lower() or "content" in name.lower() else _WORDS)]
        return list(dict.fromkeys(strs))[:4]

    def _new_names(self, server: str, tool: str, name: str, rng: random.Random) -> list[str]:
        """Names for the object a call makes (a copy of the Budget sheet: ``Budget_copy``), from the names the
        server's own listings gave: never one that exists (a copy onto its source fails)."""
        verb = next((w for w in _snake(tool).split("_") if w in _MAKES), "")
        suffix = "_copy" if verb in ("copy", "fork", "clone", "duplicate") else "_2"
        out = []
        for base in self.own_words(server, re.sub(r"^(new|dst|dest|destination|target|to)_", "", _snake(name)), rng):
            ident = re.sub(r"\W+", "_", base).strip("_")[:40]
            if ident and not _MARKUP.search(base):
                out.append(ident + suffix if ident[0].isalpha() else f"t_{ident}{suffix}")
        return list(dict.fromkeys(out))[:4] or [f"{server}{suffix}"]

    def own_words(self, server: str, name: str, rng: random.Random) -> list[str]:
        """Words for a string parameter of a server that does not work on the seed world, from its own data:
        names its listings gave (those of the parameter's noun first), values learned in this plan, lines and
        names of its own files; never the seed world's words."""
        disc = self.discovered.get(server, {})
        low = name.lower()
        keyed = [v for k, vals in disc.items() if k not in ("_listed", "text", "entity") and len(k) > 2 and k in low
                 for v in vals]
        names = [*self.learned.get("_listed", []), *disc.get("_listed", [])]  # record names: this plan's first
        listed = [v for k in ("table", "id", "entity") for v in disc.get(k, [])]
        learned = [v for k in ("id", "table", "entity") for v in self.learned.get(k, [])]
        files = self.own_files.get(server, [])
        lines: list[str] = []
        if any(w in low for w in ("text", "content", "body", "old", "search", "pattern", "query", "observation")):
            lines = [ln for f in files[:20] for ln in _text_lines(f)][:6]
        held = [v for f in files[:20] for k, vals in _names_in_file(f).items() if k in low for v in vals]
        stems = [Path(f).stem for f in files[:20]]
        words = [w for w in [*held, *keyed, *lines, *names, *listed, *learned, *stems]
                 if isinstance(w, str) and 0 < len(w) <= 120 and not w.startswith("/") and not _JUNK.fullmatch(w)
                 and not (_MARKUP.search(w.strip()) and w not in lines)]
        words = list(dict.fromkeys(words))
        return words or [f"{server} note"]

    def _own_candidates(self, server: str, name: str, tool: str, concept: str, own_kinds: list[str], context: str,
                        rng: random.Random, disc: dict[str, list[Any]]) -> list[Any]:
        """Paths, repositories and queries of a server that does not work on the seed world: its copied
        cwd and files, and queries over the tables its own listings named."""
        files = self.own_files.get(server, [])
        dirs = self.own_dirs.get(server, [])
        if concept == "repo":
            if any(w in name.lower() for w in ("branch", "commit", "ref")):
                return ["main", "HEAD", "master"]
            return list(dirs)
        if concept == "sql":
            named = [*disc.get("table", []), *self.learned.get("table", []), *disc.get("_listed", []),
                     *(t for f in files[:20] for t in _names_in_file(f).get("table", []))]
            tables = list(dict.fromkeys(t for t in named if isinstance(t, str) and re.fullmatch(r"[A-Za-z_]\w*", t)))
            verb = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", tool).lower()
            if "create" in verb:  # a create_table tool takes only CREATE TABLE
                return ["CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, note TEXT, day TEXT)"]
            if re.search(r"(^|_)(write|insert|update|delete|modify)(_|$)", verb):
                return [f"DELETE FROM {t} WHERE rowid < 0" for t in tables[:2]] or \
                    ["CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, note TEXT, day TEXT)"]
            return [f"SELECT * FROM {t} LIMIT 5" for t in tables[:3]] + [f"SELECT COUNT(*) AS n FROM {t}"
                                                                          for t in tables[:2]]
        kinds = own_kinds or _kinds(f"{server} {tool} {context[:400]}")
        wanted = [f for f in files if f.lower().endswith(tuple(kinds))] if kinds else []
        rest = [f for f in files if f not in wanted]
        rng.shuffle(rest)
        lname = f"{name} {tool}".lower()
        out: list[Any] = []
        if any(w in lname for w in ("dir", "folder", "list", "tree", "search", "find", "git", "repo")):
            out.extend(dirs)
        return out + wanted[:4] + rest[:3]
