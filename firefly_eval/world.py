"""The seed world: a small, coherent, deterministic corpus that stateful servers act on.

One fictional company, *Lumen Outfitters*: its customer/order database (SQLite), the same
orders as CSV, a sales workbook (xlsx), a quarterly report (docx), meeting notes (markdown),
a project repository with history (git) and an empty knowledge-graph file. Every episode gets
a fresh copy (:func:`fresh_sandbox`), so state-changing calls never leak between episodes.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import sqlite3
import subprocess
from pathlib import Path

from firefly_eval.treesync import sync_tree

__all__ = ["WORLD_VERSION", "build_world", "describe_world", "fresh_sandbox", "restore_sandbox", "world_dir"]

WORLD_VERSION = "lumen-1"

_CITIES = ["Lisbon", "Oslo", "Denver", "Osaka", "Austin", "Lyon", "Porto", "Quebec"]
_FIRST = ["Ada", "Bruno", "Chen", "Dalia", "Emeka", "Freya", "Goran", "Hana", "Ivo", "Jun", "Kira", "Luis"]
_LAST = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Ibrahim", "Costa", "Weber", "Park"]
_PRODUCTS = [
    ("P-100", "Trail Tent 2P", "camping", 249.0), ("P-101", "Down Sleeping Bag", "camping", 189.5),
    ("P-102", "Headlamp 400", "lighting", 39.9), ("P-103", "Lantern Mini", "lighting", 24.0),
    ("P-104", "Hiking Boots", "footwear", 159.0), ("P-105", "Trail Runners", "footwear", 129.0),
    ("P-106", "Rain Shell", "apparel", 210.0), ("P-107", "Fleece Jacket", "apparel", 99.0),
    ("P-108", "Water Filter", "camping", 45.5), ("P-109", "Camp Stove", "camping", 74.0),
]


def world_dir() -> Path:
    """Cached build of the seed world under the firefly home folder."""
    from firefly_eval.mcp.config import firefly_home

    return firefly_home() / "world" / WORLD_VERSION


def _git(repo: Path, *args: str, date: str) -> None:
    env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date, GIT_AUTHOR_NAME="Dalia Moreau",
               GIT_AUTHOR_EMAIL="dalia@lumen.example", GIT_COMMITTER_NAME="Dalia Moreau",
               GIT_COMMITTER_EMAIL="dalia@lumen.example", HOME=str(repo))
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def build_world(target: Path | None = None, seed: int = 7) -> Path:
    """Build the seed world (idempotent: a finished build is reused)."""
    target = target or world_dir()
    if (target / ".complete").exists():
        return target
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    rng = random.Random(seed)

    customers = []
    for i in range(24):
        name = f"{_FIRST[i % len(_FIRST)]} {_LAST[(i * 7) % len(_LAST)]}"
        customers.append((f"C-{200 + i}", name, _CITIES[(i * 3) % len(_CITIES)],
                          f"{name.split()[0].lower()}.{name.split()[1].lower()}@mail.example"))
    orders = []
    for j in range(80):
        cust = customers[rng.randrange(len(customers))]
        prod = _PRODUCTS[rng.randrange(len(_PRODUCTS))]
        qty = rng.randint(1, 5)
        month = rng.randint(1, 12)
        day = rng.randint(1, 28)
        orders.append((f"O-{5000 + j}", cust[0], prod[0], qty, round(prod[3] * qty, 2), f"2025-{month:02d}-{day:02d}"))

    db = sqlite3.connect(tmp / "company.db")
    db.executescript(
        "CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT, city TEXT, email TEXT);"
        "CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT, category TEXT, price REAL);"
        "CREATE TABLE orders (id TEXT PRIMARY KEY, customer_id TEXT, sku TEXT, quantity INTEGER,"
        " total REAL, order_date TEXT);"
    )
    db.executemany("INSERT INTO customers VALUES (?,?,?,?)", customers)
    db.executemany("INSERT INTO products VALUES (?,?,?,?)", _PRODUCTS)
    db.executemany("INSERT INTO orders VALUES (?,?,?,?,?,?)", orders)
    db.commit()
    db.close()

    data = tmp / "data"
    data.mkdir()
    with open(data / "orders.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "customer_id", "sku", "quantity", "total", "order_date"])
        w.writerows(orders)
    with open(data / "products.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sku", "name", "category", "price"])
        w.writerows(_PRODUCTS)

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws.append(["Order", "Customer", "SKU", "Quantity", "Total", "Date"])
    for o in orders[:40]:
        ws.append(list(o))
    ws2 = wb.create_sheet("Products")
    ws2.append(["SKU", "Name", "Category", "Price"])
    for p in _PRODUCTS:
        ws2.append(list(p))
    wb.save(tmp / "sales.xlsx")

    from docx import Document

    doc = Document()
    doc.add_heading("Lumen Outfitters - Q3 Report", 0)
    doc.add_paragraph("Revenue grew in the camping category, led by the Trail Tent 2P.")
    doc.add_heading("Highlights", level=1)
    doc.add_paragraph("Opened a pop-up store in Porto.")
    doc.add_paragraph("Headlamp 400 restocked twice.")
    table = doc.add_table(rows=1, cols=3)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text, table.rows[0].cells[2].text = "SKU", "Name", "Price"
    for sku, name, _, price in _PRODUCTS[:5]:
        row = table.add_row().cells
        row[0].text, row[1].text, row[2].text = sku, name, f"{price:.2f}"
    doc.save(tmp / "report.docx")

    notes = tmp / "notes"
    notes.mkdir()
    (notes / "2025-09-02-standup.md").write_text(
        "# Stand-up 2025-09-02\n\n- Ship the Porto pop-up inventory by Friday.\n- Review returns for P-104.\n"
        "- Owner: Freya Lindqvist\n")
    (notes / "2025-09-16-planning.md").write_text(
        "# Planning 2025-09-16\n\nBudget for Q4 marketing: 12000 EUR.\nTop priority: winter apparel (P-106, P-107).\n")
    (notes / "todo.txt").write_text("restock P-102\ncall supplier about P-109\nupdate price list\n")

    repo = tmp / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main", date="2025-01-05T10:00:00")
    (repo / "README.md").write_text("# lumen-shop\n\nInventory scripts for Lumen Outfitters.\n")
    _git(repo, "add", "-A", date="2025-01-05T10:00:00")
    _git(repo, "commit", "-q", "-m", "Initial commit", date="2025-01-05T10:00:00")
    (repo / "inventory.py").write_text("STOCK = {'P-100': 12, 'P-102': 40}\n\n\ndef low(limit=10):\n"
                                       "    return [k for k, v in STOCK.items() if v < limit]\n")
    _git(repo, "add", "-A", date="2025-02-11T09:30:00")
    _git(repo, "commit", "-q", "-m", "Add inventory helper", date="2025-02-11T09:30:00")
    (repo / "prices.csv").write_text("sku,price\n" + "".join(f"{p[0]},{p[3]}\n" for p in _PRODUCTS))
    _git(repo, "add", "-A", date="2025-03-20T16:45:00")
    _git(repo, "commit", "-q", "-m", "Add price list", date="2025-03-20T16:45:00")

    (tmp / "memory.json").write_text("")
    (tmp / "world.json").write_text(json.dumps(describe_world(), indent=2))
    (tmp / ".complete").write_text(WORLD_VERSION)
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return target


def describe_world() -> dict[str, str]:
    """What each file of the world holds (shown to explorers)."""
    return {
        "company.db": "SQLite: customers(id,name,city,email), products(sku,name,category,price), "
                      "orders(id,customer_id,sku,quantity,total,order_date)",
        "data/orders.csv": "the orders table as CSV", "data/products.csv": "the product list as CSV",
        "sales.xlsx": "workbook with sheets Sales (40 orders) and Products",
        "report.docx": "Q3 report with headings, paragraphs and a price table",
        "notes/": "meeting notes (markdown) and todo.txt", "repo/": "git repository lumen-shop with 3 commits",
        "memory.json": "knowledge-graph memory file (empty)",
    }


def restore_sandbox(dest: Path, world: Path | None = None) -> Path:
    """Put ``dest`` back to the seed world *in place* (the directory itself and .home/.tmp stay;
    :mod:`firefly_eval.treesync`: changed files are rewritten in their own inode, so a server holding
    one open reads the fresh content). For servers that re-read their files this resets state without
    a restart.
    """
    world = world or build_world()
    if not dest.exists():
        return fresh_sandbox(dest, world)
    sync_tree(world, dest, keep={".home", ".tmp"}, skip={".complete"})
    return dest


def fresh_sandbox(dest: Path, world: Path | None = None) -> Path:
    """Make ``dest`` a fresh copy of the seed world (replacing what was there) and return it."""
    world = world or build_world()
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(world, dest, symlinks=True, ignore=shutil.ignore_patterns(".complete"))
    return dest
