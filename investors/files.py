"""Writing a document so that a crash never leaves part of it under its final name.

The bytes go to a temporary file in the same folder, are flushed to disk, and the file is then
renamed over the target (``os.replace``: atomic on POSIX and Windows within one file system).
A process killed while writing leaves at most a ``.name.tmp-…`` file beside the documents, never
a truncated PDF, workbook or Zengin file that looks complete; the temporary name carries the
machine and the process, and :func:`remove_leftovers` (run once per folder by whoever writes it
next, e.g. each task of a statements job) removes what a process of this machine that no longer
runs left behind (a live writer's, or another machine's, is left alone). Nothing scans a folder
per document: a year's folder holds tens of thousands of them.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path


def _host() -> str:
    return "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:40] or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(folder: Path) -> int:
    """Delete, under ``folder`` (one walk), the ``.name.tmp-<host>-<pid>-…`` files of this
    machine whose process no longer runs; returns how many."""
    marker, removed = f".tmp-{_host()}-", 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            at = name.find(marker)
            if not name.startswith(".") or at < 0:
                continue
            pid_text = name[at + len(marker):].split("-", 1)[0]
            if pid_text.isdigit() and int(pid_text) != os.getpid() \
                    and not _alive(int(pid_text)):
                Path(root, name).unlink(missing_ok=True)
                removed += 1
    return removed


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all at once, or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent,
                                         prefix=f".{path.name}.tmp-{_host()}-{os.getpid()}-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide documents from their readers
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str, encoding: str = "utf-8") -> None:
    """:func:`write_atomic` for text (no newline translation: the text is written as given)."""
    write_atomic(path, text.encode(encoding))
