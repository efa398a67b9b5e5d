"""Make a file tree equal to another *in place*: the sandbox resets of the seed world and of a server's own data.

A regular file that differs is rewritten in its own inode, so a server holding it open (the SQLite servers
do) reads the restored content through the same descriptor; a file whose size and modification time match
is left alone (rsync's quick check: servers that write change the time); what the source lacks is removed
and what it has is created. Folders keep their identity (a running server's cwd stays valid).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection
from pathlib import Path

__all__ = ["remove_path", "sync_path", "sync_tree"]


def remove_path(path: Path) -> None:
    """Remove a file, a symlink (not what it points to) or a folder with everything in it."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def sync_path(src: Path, dst: Path) -> None:
    """Make ``dst`` a copy of the file or folder ``src`` (``src`` itself followed if it is a symlink)."""
    if src.is_dir():
        if os.path.lexists(dst) and not (dst.is_dir() and not dst.is_symlink()):
            remove_path(dst)
        dst.mkdir(exist_ok=True)
        sync_tree(src, dst)
        shutil.copystat(src, dst)
    else:
        _sync_file(src, dst)


def sync_tree(src: Path, dst: Path, keep: Collection[str] = (), skip: Collection[str] = ()) -> None:
    """Make the folder ``dst`` equal to the folder ``src``: symlinks copied as links, changed files rewritten
    in place. Entries of ``dst`` named in ``keep`` stay; entries of ``src`` named in ``skip`` are not copied."""
    wanted = {c.name: c for c in src.iterdir() if c.name not in skip}
    for child in list(dst.iterdir()):
        if child.name not in wanted and child.name not in keep:
            remove_path(child)
    for name, s in wanted.items():
        d = dst / name
        if s.is_symlink():
            target = os.readlink(s)
            if d.is_symlink() and os.readlink(d) == target:
                continue
            if os.path.lexists(d):
                remove_path(d)
            os.symlink(target, d)
        else:
            sync_path(s, d)


def _sync_file(s: Path, d: Path) -> None:
    """Make ``d`` a copy of the regular file ``s``; an existing file is rewritten in its own inode."""
    if d.is_symlink() or d.is_dir():
        remove_path(d)
    if not d.exists():
        shutil.copy2(s, d)
        return
    st_s, st_d = s.stat(), d.stat()
    if st_s.st_size == st_d.st_size and st_s.st_mtime_ns == st_d.st_mtime_ns:
        return
    if not os.access(d, os.W_OK):  # git objects are read-only
        os.chmod(d, st_d.st_mode | 0o200)
    with open(s, "rb") as fin, open(d, "r+b") as fout:  # same inode: open descriptors see it
        shutil.copyfileobj(fin, fout)
        fout.truncate()
    shutil.copystat(s, d)
