import os
import sqlite3

from firefly_eval.world import fresh_sandbox, restore_sandbox


def _tree(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            out[rel] = ("link", os.readlink(path)) if os.path.islink(path) else open(path, "rb").read()
    return out


def _world(tmp_path):
    world = tmp_path / "world"
    (world / "notes").mkdir(parents=True)
    (world / "company.db").write_bytes(b"")
    con = sqlite3.connect(world / "company.db")
    con.execute("create table t(x)")
    con.execute("insert into t values (1)")
    con.commit()
    con.close()
    (world / "notes" / "a.md").write_text("alpha\n")
    (world / "ro.txt").write_text("read only\n")
    os.chmod(world / "ro.txt", 0o444)
    os.symlink("notes/a.md", world / "link.md")
    (world / ".complete").write_text("v")
    return world


def test_restore_rewrites_files_in_their_inode_and_removes_what_the_world_lacks(tmp_path):
    world = _world(tmp_path)
    box = fresh_sandbox(tmp_path / "box", world)
    (box / ".home").mkdir()
    (box / ".home" / "keep").write_text("server home")
    inode = (box / "notes" / "a.md").stat().st_ino
    (box / "notes" / "a.md").write_text("changed by a server, and longer than before\n")
    (box / "notes" / "b.md").write_text("created")
    (box / "made").mkdir()
    os.chmod(box / "ro.txt", 0o644)
    (box / "ro.txt").write_text("overwritten")
    os.chmod(box / "ro.txt", 0o444)
    (box / "link.md").unlink()

    restore_sandbox(box, world)

    assert (box / "notes" / "a.md").stat().st_ino == inode
    expected = _tree(world)
    del expected[".complete"]
    got = _tree(box)
    assert got.pop(os.path.join(".home", "keep")) == b"server home"
    assert got == expected


def test_an_open_sqlite_connection_reads_the_restored_database(tmp_path):
    world = _world(tmp_path)
    box = fresh_sandbox(tmp_path / "box", world)
    held = sqlite3.connect(box / "company.db")  # what a running server keeps open
    assert held.execute("select count(*) from t").fetchone() == (1,)
    held.execute("insert into t values (2)")
    held.execute("insert into t values (3)")
    held.commit()
    assert held.execute("select count(*) from t").fetchone() == (3,)

    restore_sandbox(box, world)

    assert held.execute("select count(*) from t").fetchone() == (1,)
    held.close()
