"""Writing a document so that a crash never leaves part of it under its final name.

The bytes go to a temporary file in the same folder, are flushed to disk, and the file is then
renamed over the target (``os.replace``: atomic on POSIX and Windows within one file system).
A process killed while writing leaves at most a ``.name.tmp-…`` file beside the documents, never
a truncated PDF, workbook or Zengin file that looks complete.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all at once, or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
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
