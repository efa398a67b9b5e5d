"""``firefly ship-heldout`` (maintainers): replace the embedded held-out set with a split of a run."""

from __future__ import annotations

from pathlib import Path

import typer

from firefly_eval.cli.common import console

__all__ = ["ship_heldout"]


def ship_heldout(run: list[Path] = typer.Option(..., "--run", help="A finished `firefly generate` run directory "
                                                                   "(repeat to merge runs of other seeds on the same "
                                                                   "fleet; repeated tasks are dropped)."),
                 split: str = typer.Option("test", help="Split to ship (`all`: every split of each run)."),
                 limit: int | None = typer.Option(None, help="Keep at most N tasks (a deterministic sample)."),
                 chain_first: bool = typer.Option(True, help="With --limit, draw tasks whose chain is needed (a "
                                                             "reference argument an earlier call returned, not "
                                                             "stated in the question) before the others."),
                 longer_first: bool = typer.Option(True, help="With --limit, draw tasks of 3 or more calls before "
                                                              "shorter ones (after --chain-first)."),
                 max_server_share: float = typer.Option(0.2, help="With --limit, at most this share of the drawn "
                                                                  "tasks per server (0: no cap)."),
                 max_value_share: float = typer.Option(0.0, help="With --limit, at most this share of the drawn "
                                                                "tasks chained from one value (the date of one order, "
                                                                "one commit; 0: no cap, the shipped set's setting)."),
                 out: Path | None = typer.Option(None, help="Target (default: the package's data/heldout).")) -> None:
    """Replace the embedded held-out set with a split of a generation run (maintainers)."""
    from firefly_eval.cards import load_cards
    from firefly_eval.generation.dataset import export_split
    from firefly_eval.tasks.heldout.dataset import shipped_path

    for r in run:
        if not (r / "dataset" / "meta.json").exists():
            raise typer.BadParameter(f"{r}: no built dataset (run `firefly generate --out {r}` to the end first)",
                                     param_hint="--run")
    report = export_split([r / "dataset" for r in run], split, out or shipped_path(), limit=limit,
                          chain_first=chain_first, longer_first=longer_first,
                          max_server_share=max_server_share or None, max_value_share=max_value_share or None,
                          never={k for k, c in load_cards().items() if c.use == "never"})
    console.print(report["counts"], f"calls: {report['calls']}")
