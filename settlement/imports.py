"""KPI results from a CSV or XLSX file (pandas): every bad row reported, nothing imported if any.

Expected columns: ``contract``, ``fiscal_year``, ``kpi``, ``payer`` (may be empty), ``value``,
and optionally ``evaluation`` (default ``final``) and ``outcomes_per_person`` (for a rate card:
each person's number of outcomes, separated by ``;`` or spaces, e.g. ``1;0;2``). Row numbers are
those a person sees in a spreadsheet: the header is row 1, the first data row is row 2.

A file is checked before it is parsed, so that a mistaken or hostile file is refused by name
instead of exhausting the server: at most :data:`MAX_FILE_BYTES` bytes and :data:`MAX_ROWS` data
rows; an ``.xlsx`` (a zip of XML parts) at most :data:`MAX_XLSX_UNPACKED_BYTES` once unpacked,
read from the zip's own member sizes before anything is inflated. A CSV is read as Excel in
Japan saves it: UTF-8, UTF-8 with a BOM, or Shift_JIS (cp932); any other encoding is refused by
name. An old ``.xls`` workbook, or a file that only has an ``.xlsx`` name, is refused with what
to do.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pandas as pd

from ledger.errors import Problem, SibError
from settlement.kpi import ResultInput

REQUIRED = ("contract", "fiscal_year", "kpi", "value")
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5_000
MAX_XLSX_UNPACKED_BYTES = 20 * 1024 * 1024
_NOT_CP932_TEXT = re.compile("[\x80-\x9f\ue000-\uf8ff]")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls (and .doc) container


def read_results_file(path: Path, problems_out: list[Problem] | None = None
                      ) -> tuple[list[ResultInput], list[str]]:
    """The file's rows as results with their ``file:row N`` sources.

    Rows that cannot even be read (a fiscal year that is not a number) are problems: raised at
    once, or — with ``problems_out`` — collected there so that the caller can report them
    together with the checks of the other rows.
    """
    frame = read_frame(path)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise SibError([Problem("COLUMN_MISSING", f"the file has no column {c!r}", c, path.name)
                        for c in missing])
    results, sources, problems = [], [], []
    for index, row in frame.iterrows():
        where = f"{path.name}:row {int(index) + 2}"
        year_text = str(row["fiscal_year"]).strip()
        if not (year_text.isascii() and year_text.isdigit() and len(year_text) == 4):
            problems.append(Problem("FISCAL_YEAR_INVALID", f"{year_text[:20]!r} is not a fiscal "
                                    "year: write the year it starts in, such as 2019",
                                    "fiscal_year", where))
            continue
        per_person_text = str(row.get("outcomes_per_person", "") or "").strip()
        per_person = None
        if per_person_text:
            per_person = parse_per_person(per_person_text)
            if per_person is None:
                problems.append(Problem(
                    "VALUE_INVALID", "outcomes per person are whole numbers separated by ';' "
                    "or spaces, such as 1;0;2", "outcomes_per_person", where))
                continue
        results.append(ResultInput(contract=str(row["contract"]).strip(),
                                   fiscal_year=int(year_text), kpi=str(row["kpi"]).strip(),
                                   value=str(row["value"]).strip(),
                                   payer=str(row.get("payer", "")).strip(),
                                   evaluation=str(row.get("evaluation", "") or "final").strip(),
                                   outcomes_per_person=per_person))
        sources.append(where)
    if problems and problems_out is None:
        raise SibError(problems)
    if problems_out is not None:
        problems_out.extend(problems)
    if not results and not problems:
        raise SibError(f"{path.name} has no rows", "FILE_EMPTY", "file")
    return results, sources


def parse_per_person(text: str) -> tuple[int, ...] | None:
    """Whole numbers separated by ``;``, ``,`` or spaces (ASCII digits only); None if any
    part is not one."""
    parts = [p for p in re.split(r"[;,\s]+", text.strip()) if p]
    if not parts or not all(p.isascii() and p.isdigit() and len(p) <= 9 for p in parts):
        return None
    return tuple(int(p) for p in parts)


def read_frame(path: Path) -> pd.DataFrame:
    """Every cell of the file as text, after the size, encoding and format checks."""
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise _refusal(path, "XLS_NOT_SUPPORTED", "old Excel .xls workbooks cannot be read: "
                       "open it in Excel and save it as .xlsx (Excel workbook) or CSV")
    if suffix not in (".csv", ".xlsx"):
        raise _refusal(path, "FILE_FORMAT", "use a .csv or .xlsx file")
    data = _read_bounded(path)
    if suffix == ".csv":
        return _csv_frame(path, data)
    return _xlsx_frame(path, data)


def _refusal(path: Path, code: str, message: str) -> SibError:
    return SibError([Problem(code, message, "file", path.name)])


def _read_bounded(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _refusal(path, "FILE_TOO_LARGE", f"the file has {size:,} bytes; at most "
                           f"{MAX_FILE_BYTES:,} are accepted: split it into smaller files")
        return path.read_bytes()
    except FileNotFoundError:
        raise _refusal(path, "FILE_NOT_FOUND", "no such file") from None
    except IsADirectoryError:
        raise _refusal(path, "FILE_NOT_FOUND", "this is a folder, not a file") from None
    except OSError as error:
        raise _refusal(path, "FILE_UNREADABLE",
                       f"the file cannot be read: {error.strerror}") from None


def decode_text(path: Path, data: bytes) -> str:
    """The text of a CSV saved as UTF-8 (with or without a BOM) or Shift_JIS (cp932).

    UTF-8 is tried first: a cp932 file is almost never valid UTF-8, while the reverse often
    decodes to nonsense. UTF-16 (Excel's "Unicode text") is recognised by its BOM and refused
    by name, like anything else that is neither.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _refusal(path, "FILE_ENCODING_UNSUPPORTED", "the file is UTF-16 text: save it as "
                       "CSV UTF-8 (or CSV in Shift_JIS) instead")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError:
        text = ""
    # cp932 maps a few unassigned bytes to C1 controls and private-use characters, which no
    # CSV a person saved holds: such a file is in another encoding (Latin-1, EUC-JP...).
    if text and not _NOT_CP932_TEXT.search(text):
        return text
    raise _refusal(path, "FILE_ENCODING_UNSUPPORTED", "the file is neither UTF-8 nor Shift_JIS "
                   "(cp932) text: save it from Excel as CSV UTF-8")


def _csv_frame(path: Path, data: bytes) -> pd.DataFrame:
    text = decode_text(path, data)
    if "\x00" in text:
        raise _refusal(path, "FILE_NOT_CSV", "the file holds binary data, not CSV text")
    rows = text.count("\n")
    if rows > MAX_ROWS + 1:
        raise _refusal(path, "FILE_TOO_MANY_ROWS", f"the file has about {rows:,} rows; at most "
                       f"{MAX_ROWS:,} are accepted: split it into smaller files")
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise _refusal(path, "FILE_EMPTY", "the file is empty") from None
    except (pd.errors.ParserError, ValueError) as error:
        raise _refusal(path, "FILE_NOT_CSV", f"the file is not a readable CSV table: "
                       f"{str(error).strip()[:200]}") from None


def _xlsx_frame(path: Path, data: bytes) -> pd.DataFrame:
    if data.startswith(_OLE_MAGIC):
        raise _refusal(path, "XLS_NOT_SUPPORTED", "the file is an old Excel .xls workbook with "
                       "an .xlsx name: open it in Excel and save it as .xlsx or CSV")
    not_xlsx = _refusal(path, "FILE_NOT_XLSX", "the file is not an Excel .xlsx workbook: open "
                        "it in Excel and save it as .xlsx, or export it as CSV")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise not_xlsx from None
    if "xl/workbook.xml" not in names:
        raise not_xlsx
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise _refusal(path, "FILE_TOO_LARGE", f"the workbook unpacks to {unpacked:,} bytes; at "
                       f"most {MAX_XLSX_UNPACKED_BYTES:,} are accepted: keep only the results "
                       "sheet, or export it as CSV")
    try:
        frame = pd.read_excel(io.BytesIO(data), dtype=str, keep_default_na=False,
                              nrows=MAX_ROWS + 1)
    except Exception:  # openpyxl raises many types for a damaged workbook; all mean the same
        raise not_xlsx from None
    if len(frame) > MAX_ROWS:
        raise _refusal(path, "FILE_TOO_MANY_ROWS", f"the sheet has more than {MAX_ROWS:,} rows; "
                       "split it into smaller files")
    return frame
