"""Dataset build: train/test split by tool combination, Parquet files, dataset card, report.

The row codec and the reader (``task_to_row``, ``load_tasks``) are the core's
(``firefly_eval.dataset_format``); this module writes datasets.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from firefly_eval.dataset_format import load_tasks, record_to_row, task_to_row
from firefly_eval.schema import CallRecord, Task, ToolSpec

__all__ = ["EmptyDatasetError", "build_dataset", "export_split", "flowing_values", "near_duplicate_share", "ngram_overlap"]


def _split_of(task: Task, test_share: float, salt: str) -> str:
    h = int(hashlib.sha256(f"{salt}:{_combo(task)}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test_share else "train"


def _ngrams(text: str, n: int = 8) -> set[tuple[str, ...]]:
    toks = text.lower().split()
    return {tuple(toks[i : i + n]) for i in range(max(len(toks) - n + 1, 0))}


def ngram_overlap(a: Iterable[str], b: Iterable[str], n: int = 8, boilerplate_df: float = 0.02) -> float:
    """Share of texts in ``a`` that share a word n-gram with any text in ``b``.

    N-grams found in more than ``boilerplate_df`` of all texts (template phrasing such as
    "First, use ... on the ... server") are ignored: they say nothing about contamination.
    """
    a, b = list(a), list(b)
    if not a:
        return 0.0
    grams_a = [_ngrams(t, n) for t in a]
    grams_b = [_ngrams(t, n) for t in b]
    df: Counter[tuple[str, ...]] = Counter(g for gs in grams_a + grams_b for g in gs)
    limit = max(2, boilerplate_df * (len(a) + len(b)))
    bset = {g for gs in grams_b for g in gs if df[g] <= limit}
    return sum(bool(gs & bset) for gs in grams_a) / len(a)


def _tau2_texts() -> list[str] | None:
    try:
        import inspect_evals  # noqa: F401
        from importlib import resources

        root = resources.files("inspect_evals") / "tau2"
    except Exception:  # noqa: BLE001 - optional
        return None
    texts: list[str] = []
    for p in Path(str(root)).rglob("tasks*.json"):
        try:
            texts.extend(json.dumps(x) for x in json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    return texts or None


def _combo(task: Task) -> str:
    return json.dumps(sorted({tuple(x) for x in task.tools}))


def near_duplicate_share(a: list[str], b: list[str], threshold: float = 90.0) -> float:
    """Share of texts in ``a`` whose closest text in ``b`` has rapidfuzz ratio >= threshold."""
    from rapidfuzz import fuzz, process

    if not a or not b:
        return 0.0
    return sum(process.extractOne(q, b, scorer=fuzz.ratio, score_cutoff=threshold) is not None for q in a) / len(a)


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


class EmptyDatasetError(ValueError):
    """No task is left to write: the dataset is not written (``datasets.load_dataset`` refuses a split of 0
    rows, a schema-only Parquet file included: "Instruction 'train' corresponds to no data")."""


def build_dataset(tasks: list[Task], calls: list[CallRecord], out: Path, test_share: float = 0.2,
                  salt: str = "firefly", filter_counts: dict[str, int] | None = None,
                  extra: dict[str, Any] | None = None, tools: list[ToolSpec] | None = None,
                  stateful_servers: set[str] | None = None, keep_all_calls: bool = True,
                  verify_replay: bool = True) -> dict[str, Any]:
    """Write ``out/`` as a Hub-layout dataset; returns the report written to the card.

    After writing, every task is replayed through a simulator loaded from the written files (exact
    tier, as the oracle does): a task whose replay differs from its gold answer (records of several
    plans under one key, an undeclared stateful server) is dropped, counted as
    ``dropped_dataset_replay``, and the dataset is written again without it.

    Raises :class:`EmptyDatasetError`, leaving no folder behind, when there is no task or none survives the
    replay check (a 0-task dataset would not load with ``datasets``)."""
    if not tasks:
        raise EmptyDatasetError(f"{out}: no task to write; no dataset written")
    report = _build(tasks, calls, out, test_share, salt, filter_counts, extra, tools, stateful_servers,
                    keep_all_calls)
    failed = replay_failures(out, tasks) if verify_replay else {}
    if failed:
        counts = dict(filter_counts or {})
        counts["dropped_dataset_replay"] = counts.get("dropped_dataset_replay", 0) + len(failed)
        if "kept" in counts:
            counts["kept"] = max(0, counts["kept"] - len(failed))
        kept = [t for t in tasks if t.id not in failed]
        if not kept:
            import shutil

            shutil.rmtree(out, ignore_errors=True)
            first = next(iter(failed.values()))
            raise EmptyDatasetError(f"{out}: none of the {len(tasks)} task(s) replays to its gold answer through "
                                    f"the simulator (first: {'; '.join(first)[:200]}); no dataset written")
        report = _build(kept, calls, out, test_share, salt, counts, extra, tools, stateful_servers, keep_all_calls)
    return report


def replay_failures(dataset: Path, tasks: list[Task]) -> dict[str, list[str]]:
    """Task id -> replay problems, replaying each task through a simulator loaded from ``dataset``."""
    from firefly_eval.simulator.mcp_server import load_simulator
    from firefly_eval.simulator.replay import replay_answer

    sim = load_simulator(dataset, tiers=frozenset({"exact"}))
    out: dict[str, list[str]] = {}
    for t in tasks:
        _, problems = replay_answer(t, sim)
        if problems:
            out[t.id] = problems
    return out


def _build(tasks: list[Task], calls: list[CallRecord], out: Path, test_share: float, salt: str,
           filter_counts: dict[str, int] | None, extra: dict[str, Any] | None, tools: list[ToolSpec] | None,
           stateful_servers: set[str] | None, keep_all_calls: bool) -> dict[str, Any]:
    splits: dict[str, list[Task]] = {"train": [], "test": []}
    for t in tasks:
        splits[_split_of(t, test_share, salt)].append(t)
    out.mkdir(parents=True, exist_ok=True)
    needed = {cid for t in tasks for cid in t.reference_calls}
    for split, ts in splits.items():
        path = out / "data" / f"{split}-00000-of-00001.parquet"
        path.unlink(missing_ok=True)
        if ts:  # an empty Parquet file has no schema and breaks datasets.load_dataset
            _write_parquet([task_to_row(t) for t in ts], path)
    written = [c for c in calls if c.id in needed or keep_all_calls]
    _write_parquet([record_to_row(c) for c in written], out / "calls" / "calls-00000-of-00001.parquet")
    used_tools = {tuple(x) for t in tasks for x in t.tools}
    servers = {s for t in tasks for s in t.servers}
    (out / "tools.jsonl").write_text("".join(
        t.model_dump_json() + "\n" for t in (tools or []) if t.server in servers or t.key in used_tools))
    (out / "meta.json").write_text(json.dumps({"stateful_servers": sorted(stateful_servers or [])}, indent=2))
    tau2 = _tau2_texts()
    report: dict[str, Any] = {
        "counts": {k: len(v) for k, v in splits.items()},
        "calls": len(written),
        "patterns": dict(Counter(t.pattern for t in tasks)),
        "servers": dict(Counter(s for t in tasks for s in t.servers).most_common()),
        "calls_per_task": dict(sorted(Counter(len(t.reference_calls) for t in tasks).items())),
        "multi_server_share": round(sum(len(t.servers) > 1 for t in tasks) / max(len(tasks), 1), 3),
        "mean_calls_per_task": round(sum(len(t.reference_calls) for t in tasks) / max(len(tasks), 1), 2),
        "decontamination": {
            "train_test_8gram_overlap": round(ngram_overlap([t.question for t in splits["test"]],
                                                            [t.question for t in splits["train"]]), 3),
            "test_vs_tau2_8gram_overlap": (round(ngram_overlap([t.question for t in splits["test"]], tau2), 3)
                                           if tau2 else "inspect_evals not installed: not checked"),
            "test_near_duplicates_of_train": round(near_duplicate_share([t.question for t in splits["test"]],
                                                                        [t.question for t in splits["train"]]), 3),
            "shared_tool_combinations": len({_combo(t) for t in splits["test"]} & {_combo(t) for t in splits["train"]}),
        },
        "filters": filter_counts or {},
        **(extra or {}),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    _write_card(out, report)
    return report


def _write_card(out: Path, report: dict[str, Any]) -> None:
    yaml = (
        "---\nlicense: mit\npretty_name: FireFly verified tool-call tasks\ntask_categories:\n- question-answering\n"
        "tags:\n- tool-use\n- mcp\n- agents\n---\n"
        # no `configs:` block on purpose: with relative data_files, `datasets` keys its cache by
        # folder name + patterns, so two local folders both called "dataset" collide and
        # load_dataset() silently returns the other one's rows. The default layout is detected.
    )
    body = [
        "# FireFly verified tool-call tasks", "",
        "Tasks written backward from real MCP tool calls (firefly-eval). Every gold answer was "
        "observed on a live server and re-checked by replaying the reference calls through the simulator.",
        "", "## Counts", "", "| split | tasks |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in report["counts"].items()],
        f"| calls (simulator records) | {report['calls']} |", "",
        "## Patterns", "", *[f"- {k}: {v}" for k, v in report["patterns"].items()], "",
        "## Calls per task", "", *[f"- {k} calls: {v}" for k, v in report["calls_per_task"].items()], "",
        "## Servers", "", *[f"- {k}: {v}" for k, v in report["servers"].items()], "",
        "## Filters", "", *[f"- {k}: {v}" for k, v in report["filters"].items()], "",
        "## Decontamination", "", *[f"- {k}: {v}" for k, v in report["decontamination"].items()], "",
        *(["## Realism (benchmarks/task_realism.py)", "",
           "Shares of tasks: questions naming a tool, server or parameter or spelling k = v; answers from an "
           "error or the host; formatting facts; tasks whose chain is needed (a reference argument is a value "
           "an earlier call returned and the question does not state it); tasks that used a card derived from "
           "a tool description instead of a curated one.", "",
           *[f"- {k}: {v}" for k, v in report["realism"].items()], ""] if report.get("realism") else []),
        "Load with `datasets.load_dataset(<folder>)` (tasks) and "
        "`load_dataset('parquet', data_files='<folder>/calls/*.parquet')` (simulator records).",
    ]
    (out / "README.md").write_text(yaml + "\n".join(body) + "\n")


class Duplicates:
    """The same task twice: the same tools and answer (the same goal worded another way), a question
    at least 95% like one already seen for the same tools, or a question at least 90% like one with the
    same answer on other tools (one company database served by sqlite and by dbhub asks one question;
    "count the days between X and Y" by calcnpm and "count the days from X to Y" by casualtime is one)."""

    def __init__(self) -> None:
        self.questions: dict[tuple, list[str]] = {}
        self.answers: set[tuple] = set()
        self.asked: dict[str, list[str]] = {}

    def seen(self, task: Task) -> bool:
        """Whether ``task`` repeats one seen before; a new task is remembered."""
        from rapidfuzz import fuzz

        sig = tuple(sorted(map(tuple, task.tools)))
        answer = json.dumps(task.answer, sort_keys=True, ensure_ascii=False)
        question = " ".join(task.question.split())
        if (sig, answer) in self.answers \
                or any(fuzz.ratio(question, q) >= 90 for q in self.asked.get(answer, [])) \
                or any(fuzz.ratio(task.question, q) >= 95 for q in self.questions.get(sig, [])):
            return True
        self.questions.setdefault(sig, []).append(task.question)
        self.answers.add((sig, answer))
        self.asked.setdefault(answer, []).append(question)
        return False


def _splits(dataset_dir: Path, split: str) -> list[Task]:
    """``split`` of a built dataset; ``all``: every split it has (train and test)."""
    if split != "all":
        return load_tasks(dataset_dir, split)
    names = sorted({f.name.split("-")[0] for f in (dataset_dir / "data").glob("*.parquet")})
    return [t for name in names for t in load_tasks(dataset_dir, name)]


def flowing_values(task: Task) -> set[str]:
    """The values the task's reference calls take from earlier calls (its bound arguments), as JSON."""
    at = {cid: i for i, cid in enumerate(task.reference_calls)}
    out: set[str] = set()
    for b in task.provenance.get("bound_arguments") or []:
        i = at.get(b.get("call"))
        if i is not None and i < len(task.reference_arguments):
            out.add(json.dumps(task.reference_arguments[i]["arguments"].get(b.get("param")), sort_keys=True))
    return out


def export_split(dataset_dir: Path | list[Path], split: str, out: Path, limit: int | None = None,
                 chain_first: bool = False, longer_first: bool = False, max_server_share: float | None = None,
                 max_value_share: float | None = None, verify_replay: bool = True,
                 never: set[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Copy one split of built datasets (with only the calls it needs) to ``out`` (e.g. the shipped set).

    Several datasets (runs of other seeds on the same fleet) are merged, repeats dropped
    (:class:`Duplicates`); ``split="all"`` takes every split of each. ``limit``: keep at most this
    many tasks, a deterministic sample (lowest task ids: ids are content hashes, so this is an unbiased
    draw that a rerun repeats); with ``chain_first`` the tasks whose chain is needed are drawn first
    (the draw is then biased towards them, and says so in the report); with ``longer_first``, within each
    of those groups tasks of 3 or more calls come first (the paper's set has ~3.0 calls per task);
    ``max_server_share``: in that order, a task is skipped while one of its servers already has this
    share of ``limit`` (the runs' own cap does not hold for a merge of several runs); ``max_value_share``: likewise
    while the value one of its calls takes from an earlier call (:func:`flowing_values`) already has this share
    (set 1.5.0: 45 of 193 tasks chained from one date, the most recent order's).
    """
    from firefly_eval.cards import load_cards
    from firefly_eval.generation.realism import needs_chain, realism
    from firefly_eval.generation.verify import (
        ambiguous_references,
        broken_wording,
        decided_answers,
        files_as_folders,
        hidden_paths,
        misplaced_edits,
        repeated_steps,
        unordered_references,
    )
    from firefly_eval.simulator.records import read_records

    cards = load_cards()

    dirs = dataset_dir if isinstance(dataset_dir, list) else [dataset_dir]
    dups = Duplicates()  # one run's tasks are unique already (its collect dropped repeats)
    tasks = [t for d in dirs for t in _splits(d, split) if len(dirs) == 1 or not dups.seen(t)]
    if never:  # tools whose cards now say never (e.g. they take credentials): not shipped
        tasks = [t for t in tasks if not any(tuple(k) in never for k in t.tools)]
    garbled = {t.id for t in tasks  # written before these checks (or before the card's wording changed)
               if broken_wording(t) or ambiguous_references(t) or unordered_references(t, cards)}
    misplaced = {t.id for t in tasks if misplaced_edits(t)}
    as_folders = {t.id for t in tasks if files_as_folders(t, cards)}
    repeated = {t.id for t in tasks if repeated_steps(t)}
    decided = {t.id for t in tasks if decided_answers(t, cards)}  # a card's decided_by written after the task
    unlocated = {t.id for t in tasks if hidden_paths(t)}  # synthesis said where such files are only later
    tasks = [t for t in tasks if t.id not in garbled | misplaced | as_folders | repeated | decided | unlocated]
    calls = list({c.id: c for d in dirs for c in read_records(d / "calls")}.values())
    dataset_dir = dirs[0]
    if limit is not None and len(tasks) > limit:
        by_id = {c.id: c for c in calls}
        # chain_first: tasks that need their chain are drawn first (the held-out set measures tool use)
        tasks = sorted(tasks, key=lambda t: (not (chain_first and needs_chain(t, by_id, cards)),
                                             longer_first and len(t.reference_calls) < 3, t.id))
        cap = max(1, int(max_server_share * limit + 0.5)) if max_server_share else len(tasks)
        value_cap = max(1, int(max_value_share * limit + 0.5)) if max_value_share else len(tasks)
        per_server: Counter[str] = Counter()
        per_value: Counter[str] = Counter()
        drawn: list[Task] = []
        for t in tasks:
            flowing = flowing_values(t)
            if len(drawn) < limit and all(per_server[s] < cap for s in t.servers) \
                    and all(per_value[v] < value_cap for v in flowing):
                per_server.update(t.servers)
                per_value.update(flowing)
                drawn.append(t)
        tasks = drawn
    tools = list({t.key: t for d in dirs for x in (d / "tools.jsonl").read_text().splitlines() if x
                  for t in [ToolSpec.model_validate_json(x)]}.values())
    stateful = {s for d in dirs for s in json.loads((d / "meta.json").read_text())["stateful_servers"]}
    report = json.loads((dataset_dir / "report.json").read_text())
    if len(dirs) > 1:  # the filters of every run, summed
        filters: Counter[str] = Counter()
        for d in dirs:
            filters.update(json.loads((d / "report.json").read_text()).get("filters") or {})
        report = {**report, "filters": dict(filters),
                  "counts": {str(d): json.loads((d / "report.json").read_text())["counts"] for d in dirs}}
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    built = build_dataset(tasks, calls, out, test_share=1.0, tools=tools,
                         stateful_servers=stateful, keep_all_calls=False,
                         verify_replay=verify_replay,
                         filter_counts=report.get("filters"), extra={"source_split": split,
                                                                     "sources": [str(d) for d in dirs],
                                                                     "source_counts": report["counts"],
                                                                     "realism": realism(tasks, calls, tools, cards),
                                                                     "sample": {"limit": limit,
                                                                                "chain_first": chain_first,
                                                                                "longer_first": longer_first,
                                                                                "max_server_share": max_server_share,
                                                                                "max_value_share": max_value_share},
                                                                     "not_shipped_broken_wording": sorted(garbled),
                                                                     "not_shipped_misplaced_edit": sorted(misplaced),
                                                                     "not_shipped_file_as_folder": sorted(as_folders),
                                                                     "not_shipped_repeated_step": sorted(repeated),
                                                                     "not_shipped_decided_answer": sorted(decided),
                                                                     "not_shipped_unlocated_file": sorted(unlocated)})
    if built["counts"].get("test", 0) != len(tasks):  # the dataset replay dropped some: measure what shipped
        kept = load_tasks(out, "test")
        built["realism"] = realism(kept, calls, tools, cards)
        (out / "report.json").write_text(json.dumps(built, indent=2))
        _write_card(out, built)
    return built

