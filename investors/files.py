"""Writing a document so that a crash never leaves part of it under its final name.

The bytes go to a temporary file in the same folder, are flushed to disk, and the file is then
renamed over the target (``os.replace``: atomic on POSIX and Windows within one file system).
A process killed while writing leaves at most a ``.name.tmp-…`` file beside the documents, never
a truncated PDF, workbook or Zengin file that looks complete; the temporary name carries the
machine and the process, and the next write of the same document removes what a process of this
machine that no longer runs left behind (a live writer's, or another machine's, is left alone).
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


def _remove_leftovers(path: Path) -> None:
    """Delete ``.name.tmp-<host>-<pid>-…`` files of this machine whose process is gone."""
    prefix = f".{path.name}.tmp-{_host()}-"
    for left in path.parent.glob(f".{path.name}.tmp-*"):
        if not left.name.startswith(prefix):
            continue
        pid_text = left.name[len(prefix):].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            left.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all at once, or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
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
