"""The Zengin (全銀協) 総合振込 bulk-transfer file a finance office uploads to its bank.

The file is a sequence of fixed-length 120-byte records in cp932 (JIS X 0201 for everything
that may appear in it): one header (データ区分 1), one data record per transfer (2), a trailer
with the count and total (8) and an end record (9). Numeric fields (N) are right-aligned and
zero-filled; text fields (C) are left-aligned and space-filled. Text is restricted to the
Zengin character set: half-width katakana without small letters, upper-case A–Z, digits,
space and ``( ) - . / ¥ , ｢ ｣``.

Names are converted, never guessed: full-width katakana, hiragana, full-width ASCII and
lower-case letters become their half-width upper-case forms (small kana become large ones and
the prolonged sound mark a hyphen, as banks register account names). Anything else, such as a
kanji name ``宇部市``, is refused with the party named: the kana reading (``ｳﾍﾞｼ``) must come
from the party's bank details, it cannot be derived. A name longer than its field is refused
unless the bank's :class:`BankProfile` allows truncation; truncation then never separates a
voiced mark (ﾞ ﾟ) from its kana.

The layout follows the 全銀協 specification as published in banks' EB manuals. Per-bank
differences (record separator, end-of-file mark) are a :class:`BankProfile`. Pure: bytes in,
bytes out; writing the file is the caller's business.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Literal

from ledger.calendar import is_business_day
from ledger.errors import Problems, SibError

RECORD_LENGTH = 120
EOF_MARK = b"\x1a"
ENCODING = "cp932"
MAX_AMOUNT_MINOR = 9_999_999_999  # N(10)
MAX_TOTAL_MINOR = 999_999_999_999  # N(12)
MAX_COUNT = 999_999  # N(6)

RecordSeparator = Literal["CRLF", "LF", "none"]
_SEPARATORS: dict[str, bytes] = {"CRLF": b"\r\n", "LF": b"\n", "none": b""}
_HEADER_ACCOUNT_TYPES = ("1", "2", "9")  # 普通, 当座, その他
_PAYEE_ACCOUNT_TYPES = ("1", "2", "4", "9")  # 普通, 当座, 貯蓄, その他
_NEW_CODES = ("0", "1", "2")  # その他, 第1回振込分, 変更分
_TRANSFER_KINDS = ("7", "8")  # 電信扱, 文書扱


# --- profile and inputs -----------------------------------------------------------------


@dataclass(frozen=True)
class BankProfile:
    """What one bank's upload accepts beyond the common layout.

    Attributes:
        name: a label for messages (``Yamaguchi Bank EB``).
        record_separator: bytes after every record: ``CRLF``, ``LF`` or ``none`` (a plain
            stream of 120-byte records).
        eof_mark: append the end-of-file mark 0x1A after the last record.
        truncate_names: cut names that do not fit their field (at a character boundary)
            instead of refusing them; only if the bank says it accepts shortened names.
    """

    name: str = "standard"
    record_separator: RecordSeparator = "CRLF"
    eof_mark: bool = False
    truncate_names: bool = False

    @property
    def separator_bytes(self) -> bytes:
        """The separator as bytes; refuses a separator the format does not know."""
        if self.record_separator not in _SEPARATORS:
            raise SibError(f"bank profile {self.name!r}: record separator "
                           f"{self.record_separator!r} is not CRLF, LF or none",
                           "ZENGIN_PROFILE_INVALID", "profile.record_separator")
        return _SEPARATORS[self.record_separator]


@dataclass(frozen=True)
class TransferHeader:
    """The paying side of the file (振込依頼人): whose account the bank debits, and when.

    Attributes:
        requester_code: 振込依頼人コード (委託者コード) assigned by the bank, up to 10 digits.
        requester_name: 振込依頼人名, in kana (converted to half-width), up to 40 characters.
        transfer_on: 取組日 / 振込指定日, a bank business day; written as MMDD.
        bank_code, bank_name: 仕向銀行番号 (4 digits) and name in kana (15).
        branch_code, branch_name: 仕向支店番号 (3 digits) and name in kana (15).
        account_type: 預金種目: ``1`` 普通, ``2`` 当座, ``9`` その他.
        account_number: 口座番号, up to 7 digits.
        kind_code: 種別コード, ``21`` for 総合振込.
        code_section: コード区分, ``0`` for JIS (the cp932 single-byte set).
    """

    requester_code: str
    requester_name: str
    transfer_on: date
    bank_code: str
    bank_name: str
    branch_code: str
    branch_name: str
    account_type: str
    account_number: str
    kind_code: str = "21"
    code_section: str = "0"


@dataclass(frozen=True)
class Transfer:
    """One payment to one payee's account.

    Attributes:
        party: who is paid, as people call them (``Ube City (宇部市)``); not written to the
            file, used to name the party when something is refused.
        bank_code, bank_name: 被仕向銀行番号 (4 digits) and name in kana (15, may be empty).
        branch_code, branch_name: 被仕向支店番号 (3 digits) and name in kana (15, may be empty).
        account_type: 預金種目: ``1`` 普通, ``2`` 当座, ``4`` 貯蓄, ``9`` その他.
        account_number: 口座番号, up to 7 digits.
        payee_name: 受取人名, the account holder's name in kana, up to 30 characters.
        amount_minor: 振込金額 in yen, 1 to 9,999,999,999.
        new_code: 新規コード: ``0`` その他, ``1`` first transfer to this account, ``2`` changed.
        customer_code_1, customer_code_2: 顧客コード, up to 10 digits each (may be empty).
        edi_info: EDI information (up to 20 characters) carried instead of the customer codes;
            sets 識別表示 to ``Y``.
        transfer_kind: 振込指定区分: ``7`` 電信扱 (telegraphic), ``8`` 文書扱.
        clearing_house_code: 手形交換所番号, unused: ``0000``.
    """

    party: str
    bank_code: str
    bank_name: str
    branch_code: str
    branch_name: str
    account_type: str
    account_number: str
    payee_name: str
    amount_minor: int
    new_code: str = "0"
    customer_code_1: str = ""
    customer_code_2: str = ""
    edi_info: str | None = None
    transfer_kind: str = "7"
    clearing_house_code: str = "0000"


# --- what a file says ---------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderRecord:
    """The header as read back from a file (text fields without their padding)."""

    kind_code: str
    code_section: str
    requester_code: str
    requester_name: str
    transfer_mmdd: str
    bank_code: str
    bank_name: str
    branch_code: str
    branch_name: str
    account_type: str
    account_number: str


@dataclass(frozen=True)
class DataRecord:
    """One data record as read back (codes keep their leading zeros, as in the file).

    ``edi_info`` is set and the customer codes are empty when 識別表示 is ``Y``.
    """

    bank_code: str
    bank_name: str
    branch_code: str
    branch_name: str
    clearing_house_code: str
    account_type: str
    account_number: str
    payee_name: str
    amount_minor: int
    new_code: str
    customer_code_1: str
    customer_code_2: str
    edi_info: str | None
    transfer_kind: str
    identification: str


@dataclass(frozen=True)
class TrailerRecord:
    """The trailer: number of data records and their total."""

    count: int
    total_minor: int


@dataclass(frozen=True)
class ParsedFile:
    """A whole 総合振込 file, read field by field and checked against its trailer."""

    header: HeaderRecord
    records: tuple[DataRecord, ...]
    trailer: TrailerRecord


# --- layout -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One fixed-width field: attribute name, N (numeric) or C (text), width in bytes."""

    name: str
    kind: Literal["N", "C"]
    width: int
    label: str


def _layout(*specs_in: tuple[str, Literal["N", "C"], int, str]) -> tuple[FieldSpec, ...]:
    specs = tuple(FieldSpec(*spec) for spec in specs_in)
    assert sum(s.width for s in specs) == RECORD_LENGTH, [s.name for s in specs]
    return specs


HEADER_LAYOUT = _layout(
    ("data_type", "N", 1, "データ区分"), ("kind_code", "N", 2, "種別コード"),
    ("code_section", "N", 1, "コード区分"), ("requester_code", "N", 10, "振込依頼人コード"),
    ("requester_name", "C", 40, "振込依頼人名"), ("transfer_mmdd", "N", 4, "取組日"),
    ("bank_code", "N", 4, "仕向銀行番号"), ("bank_name", "C", 15, "仕向銀行名"),
    ("branch_code", "N", 3, "仕向支店番号"), ("branch_name", "C", 15, "仕向支店名"),
    ("account_type", "N", 1, "預金種目"), ("account_number", "N", 7, "口座番号"),
    ("dummy", "C", 17, "ダミー"))

_DATA_HEAD: tuple[tuple[str, Literal["N", "C"], int, str], ...] = (
    ("data_type", "N", 1, "データ区分"), ("bank_code", "N", 4, "被仕向銀行番号"),
    ("bank_name", "C", 15, "被仕向銀行名"), ("branch_code", "N", 3, "被仕向支店番号"),
    ("branch_name", "C", 15, "被仕向支店名"), ("clearing_house_code", "N", 4, "手形交換所番号"),
    ("account_type", "N", 1, "預金種目"), ("account_number", "N", 7, "口座番号"),
    ("payee_name", "C", 30, "受取人名"), ("amount_minor", "N", 10, "振込金額"),
    ("new_code", "N", 1, "新規コード"))
_DATA_TAIL: tuple[tuple[str, Literal["N", "C"], int, str], ...] = (
    ("transfer_kind", "N", 1, "振込指定区分"), ("identification", "C", 1, "識別表示"),
    ("dummy", "C", 7, "ダミー"))
DATA_LAYOUT = _layout(*_DATA_HEAD, ("customer_code_1", "N", 10, "顧客コード1"),
                      ("customer_code_2", "N", 10, "顧客コード2"), *_DATA_TAIL)
# With 識別表示 "Y" the two customer codes carry EDI information instead (C 20).
DATA_LAYOUT_EDI = _layout(*_DATA_HEAD, ("edi_info", "C", 20, "EDI情報"), *_DATA_TAIL)
TRAILER_LAYOUT = _layout(("data_type", "N", 1, "データ区分"), ("count", "N", 6, "合計件数"),
                         ("total_minor", "N", 12, "合計金額"), ("dummy", "C", 101, "ダミー"))
END_LAYOUT = _layout(("data_type", "N", 1, "データ区分"), ("dummy", "C", 119, "ダミー"))


# --- the Zengin character set -------------------------------------------------------------


def _half_width_table() -> dict[str, str]:
    """Full-width katakana → half-width, from the half-width block itself (no hand table)."""
    table = {unicodedata.normalize("NFKC", chr(cp)): chr(cp) for cp in range(0xFF66, 0xFF9E)}
    small_to_large = dict(zip("ｧｨｩｪｫｬｭｮｯ", "ｱｲｳｴｵﾔﾕﾖﾂ"))
    table = {full: small_to_large.get(half, half) for full, half in table.items()}
    table.update({"ヮ": "ﾜ", "ヵ": "ｶ", "ヶ": "ｹ", "\u3099": "ﾞ", "\u309a": "ﾟ"})
    # The prolonged sound mark and dash look-alikes are registered as a hyphen.
    table.update({c: "-" for c in "ー\uff70\u2010\u2011\u2012\u2013\u2212"})
    return table


_HALF_WIDTH = _half_width_table()
_ALLOWED = frozenset("ｦｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝﾞﾟ"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ()-./¥,｢｣")
ALLOWED_DESCRIPTION = "half-width kana, A–Z, 0–9, space and ( ) - . / ¥ , ｢ ｣"


def _convert_char(char: str) -> str | None:
    """One normalised character in the Zengin set, or ``None`` if it has no form there."""
    if "ぁ" <= char <= "ゖ":
        char = chr(ord(char) + 0x60)  # hiragana → katakana
    if "a" <= char <= "z":
        return char.upper()
    if char in ("\\", "¥"):
        return "¥"
    if char in "「」":
        return "｢" if char == "「" else "｣"
    if char in _ALLOWED:
        return char
    if char in _HALF_WIDTH:
        return _HALF_WIDTH[char]
    decomposed = unicodedata.normalize("NFD", char)
    base, marks = decomposed[0], decomposed[1:]
    if marks and base in _HALF_WIDTH and all(m in _HALF_WIDTH for m in marks):
        return _HALF_WIDTH[base] + "".join(_HALF_WIDTH[m] for m in marks)  # ガ → ｶﾞ
    return None


def zengin_text(text: str) -> tuple[str, list[str]]:
    """``text`` in the Zengin character set, and the characters that have no form there.

    The text is first NFKC-normalised (full-width ASCII becomes ASCII, half-width kana become
    full-width so that every kana takes one path), then converted character by character.
    """
    converted: list[str] = []
    refused: list[str] = []
    for char in unicodedata.normalize("NFKC", text):
        half = _convert_char(char)
        if half is None:
            refused.append(char)
        else:
            converted.append(half)
    return "".join(converted), refused


def to_zengin_kana(text: str) -> str:
    """``text`` converted to the Zengin character set, or a refusal naming the characters."""
    converted, refused = zengin_text(text)
    if refused:
        raise SibError(_refusal_message(text, refused, "text"), "ZENGIN_CHARACTER_NOT_ALLOWED")
    return converted


def _refusal_message(text: str, refused: list[str], what: str) -> str:
    shown = ", ".join(f"'{c}'" for c in dict.fromkeys(refused))
    return (f"{what} '{text}' contains {shown}, which cannot be written in a Zengin file "
            f"({ALLOWED_DESCRIPTION}): give it in kana as registered at the bank")


def truncate_zengin(text: str, width: int) -> str:
    """At most ``width`` characters of converted text, never leaving a voiced mark (ﾞ ﾟ)
    without its kana or a kana without its mark."""
    cut = text[:width]
    while len(cut) < len(text) and cut and text[len(cut)] in "ﾞﾟ":
        cut = cut[:-1]
    return cut


# --- validation into field values ----------------------------------------------------------


@dataclass
class _Fields:
    """Collects the text of each field of one record, and the problems met on the way."""

    who: str
    path: str
    problems: Problems
    profile: BankProfile
    values: dict[str, str]

    def digits(self, name: str, value: object, width: int, label: str,
               exact: bool = False, allowed: Sequence[str] = ()) -> None:
        """A code of digits: at most (or, if ``exact``, exactly) ``width`` of them."""
        text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
        fits = len(text) == width if exact else 0 < len(text) <= width
        if not (text.isascii() and text.isdigit() and fits):
            size = f"exactly {width}" if exact else f"1 to {width}"
            self.problems.add("ZENGIN_CODE_INVALID", f"{self.who}: {label} {value!r} must be "
                              f"{size} digits", f"{self.path}.{name}")
        elif allowed and text not in allowed:
            self.problems.add("ZENGIN_CODE_INVALID", f"{self.who}: {label} {value!r} must be "
                              f"one of {', '.join(allowed)}", f"{self.path}.{name}")
        else:
            self.values[name] = text

    def optional_digits(self, name: str, value: str, width: int, label: str) -> None:
        """An optional code: empty is written as zeros."""
        if value == "":
            self.values[name] = ""
        else:
            self.digits(name, value, width, label)

    def text(self, name: str, value: str, width: int, label: str,
             may_truncate: bool = True, required: bool = False) -> None:
        """A text field converted to the Zengin set; too long is refused or truncated."""
        if not isinstance(value, str) or (required and not value.strip()):
            self.problems.add("ZENGIN_TEXT_INVALID", f"{self.who}: {label} must be non-empty "
                              f"text, got {value!r}", f"{self.path}.{name}")
            return
        converted, refused = zengin_text(value)
        if refused:
            self.problems.add("ZENGIN_CHARACTER_NOT_ALLOWED", f"{self.who}: " +
                              _refusal_message(value, refused, label), f"{self.path}.{name}")
            return
        if len(converted) > width:
            if not (may_truncate and self.profile.truncate_names):
                self.problems.add("ZENGIN_FIELD_TOO_LONG",
                                  f"{self.who}: {label} '{converted}' has {len(converted)} "
                                  f"characters, the field holds {width}", f"{self.path}.{name}")
                return
            converted = truncate_zengin(converted, width)
        self.values[name] = converted


def _header_fields(header: TransferHeader, profile: BankProfile,
                   problems: Problems) -> dict[str, str]:
    f = _Fields(f"requester {header.requester_name!r}", "header", problems, profile,
                {"data_type": "1"})
    f.digits("kind_code", header.kind_code, 2, "種別コード (kind code)", exact=True,
             allowed=("21",))
    f.digits("code_section", header.code_section, 1, "コード区分", exact=True, allowed=("0",))
    f.digits("requester_code", header.requester_code, 10, "振込依頼人コード (requester code)")
    f.text("requester_name", header.requester_name, 40, "振込依頼人名 (requester name)",
           required=True)
    if not isinstance(header.transfer_on, date) or not is_business_day(header.transfer_on):
        problems.add("ZENGIN_TRANSFER_DATE_INVALID", f"requester {header.requester_name!r}: "
                     f"the transfer date {header.transfer_on} is not a bank business day",
                     "header.transfer_on")
    else:
        f.values["transfer_mmdd"] = header.transfer_on.strftime("%m%d")
    f.digits("bank_code", header.bank_code, 4, "仕向銀行番号 (bank code)", exact=True)
    f.text("bank_name", header.bank_name, 15, "仕向銀行名 (bank name)")
    f.digits("branch_code", header.branch_code, 3, "仕向支店番号 (branch code)", exact=True)
    f.text("branch_name", header.branch_name, 15, "仕向支店名 (branch name)")
    f.digits("account_type", header.account_type, 1, "預金種目 (account type)", exact=True,
             allowed=_HEADER_ACCOUNT_TYPES)
    f.digits("account_number", header.account_number, 7, "口座番号 (account number)")
    return f.values


def _amount(transfer: Transfer, f: _Fields) -> None:
    amount = transfer.amount_minor
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        f.problems.add("ZENGIN_AMOUNT_INVALID", f"{f.who}: the amount must be a positive "
                       f"integer of yen, got {amount!r}", f"{f.path}.amount_minor")
    elif amount > MAX_AMOUNT_MINOR:
        f.problems.add("ZENGIN_AMOUNT_TOO_LARGE", f"{f.who}: the amount {amount:,} has more "
                       f"than 10 digits (at most {MAX_AMOUNT_MINOR:,} per transfer)",
                       f"{f.path}.amount_minor")
    else:
        f.values["amount_minor"] = str(amount)


def _customer_codes(transfer: Transfer, f: _Fields) -> None:
    if transfer.edi_info is None:
        f.optional_digits("customer_code_1", transfer.customer_code_1, 10, "顧客コード1")
        f.optional_digits("customer_code_2", transfer.customer_code_2, 10, "顧客コード2")
        f.values["identification"] = ""
    else:
        f.text("edi_info", transfer.edi_info, 20, "EDI情報 (EDI information)",
               may_truncate=False)
        f.values["identification"] = "Y"


def _data_fields(index: int, transfer: Transfer, profile: BankProfile,
                 problems: Problems) -> dict[str, str]:
    f = _Fields(f"transfer {index + 1} to {transfer.party}", f"transfers[{index}]", problems,
                profile, {"data_type": "2"})
    f.digits("bank_code", transfer.bank_code, 4, "被仕向銀行番号 (bank code)", exact=True)
    f.text("bank_name", transfer.bank_name, 15, "被仕向銀行名 (bank name)")
    f.digits("branch_code", transfer.branch_code, 3, "被仕向支店番号 (branch code)", exact=True)
    f.text("branch_name", transfer.branch_name, 15, "被仕向支店名 (branch name)")
    f.digits("clearing_house_code", transfer.clearing_house_code, 4, "手形交換所番号",
             exact=True)
    f.digits("account_type", transfer.account_type, 1, "預金種目 (account type)", exact=True,
             allowed=_PAYEE_ACCOUNT_TYPES)
    f.digits("account_number", transfer.account_number, 7, "口座番号 (account number)")
    f.text("payee_name", transfer.payee_name, 30, "受取人名 (payee name)", required=True)
    _amount(transfer, f)
    f.digits("new_code", transfer.new_code, 1, "新規コード (new code)", exact=True,
             allowed=_NEW_CODES)
    _customer_codes(transfer, f)
    f.digits("transfer_kind", transfer.transfer_kind, 1, "振込指定区分 (transfer kind)",
             exact=True, allowed=_TRANSFER_KINDS)
    return f.values


def _check_totals(transfers: Sequence[Transfer], problems: Problems) -> None:
    if not transfers:
        problems.add("ZENGIN_NO_TRANSFERS", "a transfer file needs at least one transfer",
                     "transfers")
    if len(transfers) > MAX_COUNT:
        problems.add("ZENGIN_TOO_MANY_TRANSFERS", f"{len(transfers):,} transfers exceed the "
                     f"trailer's 6 digits", "transfers")
    amounts = [t.amount_minor for t in transfers
               if isinstance(t.amount_minor, int) and not isinstance(t.amount_minor, bool)]
    if sum(amounts) > MAX_TOTAL_MINOR:
        problems.add("ZENGIN_TOTAL_TOO_LARGE", f"the total {sum(amounts):,} exceeds the "
                     f"trailer's 12 digits", "transfers")


# --- records as bytes ---------------------------------------------------------------------


def _field_bytes(spec: FieldSpec, value: str) -> bytes:
    """N: right-aligned, zero-filled; C: left-aligned, space-filled. Values are validated."""
    if spec.kind == "N":
        return value.rjust(spec.width, "0").encode("ascii")
    # cp932 writes the yen sign of JIS X 0201 as 0x5C, the code point of a backslash.
    return value.replace("¥", "\\").encode(ENCODING).ljust(spec.width, b" ")


def _record(layout: tuple[FieldSpec, ...], values: Mapping[str, str]) -> bytes:
    record = b"".join(_field_bytes(spec, values.get(spec.name, "")) for spec in layout)
    assert len(record) == RECORD_LENGTH, len(record)
    return record


def _trailer_values(transfers: Sequence[Transfer]) -> dict[str, str]:
    return {"data_type": "8", "count": str(len(transfers)),
            "total_minor": str(sum(t.amount_minor for t in transfers))}


def build_transfer_file(header: TransferHeader, transfers: Sequence[Transfer],
                        profile: BankProfile = BankProfile()) -> bytes:
    """The 総合振込 file for ``transfers`` from the account in ``header``, as bytes.

    Every problem (with the header or any transfer) is collected first and raised together
    in one :class:`SibError`; each names the party and the field. Nothing is written
    partially.
    """
    problems = Problems()
    separator = profile.separator_bytes
    header_values = _header_fields(header, profile, problems)
    data_values = [_data_fields(i, t, profile, problems) for i, t in enumerate(transfers)]
    _check_totals(transfers, problems)
    problems.raise_if_any()
    records = [_record(HEADER_LAYOUT, header_values)]
    records += [_record(DATA_LAYOUT_EDI if v["identification"] == "Y" else DATA_LAYOUT, v)
                for v in data_values]
    records.append(_record(TRAILER_LAYOUT, _trailer_values(transfers)))
    records.append(_record(END_LAYOUT, {"data_type": "9"}))
    body = b"".join(record + separator for record in records)
    return body + (EOF_MARK if profile.eof_mark else b"")


# --- reading a file back ------------------------------------------------------------------


def _split_records(data: bytes, profile: BankProfile) -> list[bytes]:
    """The 120-byte records of a file laid out as the profile says, or a refusal."""
    if profile.eof_mark:
        if not data.endswith(EOF_MARK):
            raise SibError(f"the file does not end with the EOF mark 0x1A that profile "
                           f"{profile.name!r} requires", "ZENGIN_EOF_MARK_MISSING", "data")
        data = data[:-1]
    separator = profile.separator_bytes
    if separator:
        if not data.endswith(separator):
            raise SibError(f"the last record is not followed by {profile.record_separator}",
                           "ZENGIN_RECORD_LENGTH", "data")
        records = data[:-len(separator)].split(separator)
    else:
        if len(data) % RECORD_LENGTH:
            raise SibError(f"the file is {len(data)} bytes, not a multiple of "
                           f"{RECORD_LENGTH}", "ZENGIN_RECORD_LENGTH", "data")
        records = [data[i:i + RECORD_LENGTH] for i in range(0, len(data), RECORD_LENGTH)]
    for number, record in enumerate(records, 1):
        if len(record) != RECORD_LENGTH:
            raise SibError(f"record {number} is {len(record)} bytes, not {RECORD_LENGTH}",
                           "ZENGIN_RECORD_LENGTH", f"records[{number - 1}]")
    return records


def _check_order(records: list[bytes]) -> None:
    """One header, one or more data records, one trailer, one end record, in that order."""
    types = bytes(record[0] for record in records).decode("ascii", errors="replace")
    middle = types[1:-2]
    if len(types) < 4 or types[0] != "1" or types[-2:] != "89" or set(middle) != {"2"}:
        raise SibError(f"the records' data types are {types!r}: a 総合振込 file is 1, 2…2, "
                       f"8, 9", "ZENGIN_RECORD_ORDER", "data")


def _read_fields(layout: tuple[FieldSpec, ...], record: bytes, number: int) -> dict[str, str]:
    """Each field's text: numbers as written (leading zeros kept), text without padding."""
    values: dict[str, str] = {}
    offset = 0
    for spec in layout:
        raw = record[offset:offset + spec.width]
        offset += spec.width
        try:
            text = raw.decode(ENCODING)
        except UnicodeDecodeError as exc:
            raise SibError(f"record {number}, {spec.label}: bytes {raw!r} are not cp932",
                           "ZENGIN_FIELD_INVALID", f"records[{number - 1}].{spec.name}") from exc
        if spec.kind == "N" and not (text.isascii() and text.isdigit()):
            raise SibError(f"record {number}, {spec.label}: {text!r} is not numeric",
                           "ZENGIN_FIELD_INVALID", f"records[{number - 1}].{spec.name}")
        values[spec.name] = text if spec.kind == "N" else text.rstrip(" ").replace("\\", "¥")
    return values


def _header_record(record: bytes) -> HeaderRecord:
    v = _read_fields(HEADER_LAYOUT, record, 1)
    if v["kind_code"] != "21":
        raise SibError(f"種別コード {v['kind_code']} is not 21 (総合振込)",
                       "ZENGIN_NOT_SOGO_FURIKOMI", "records[0].kind_code")
    return HeaderRecord(**{f.name: v[f.name] for f in fields(HeaderRecord)})


def _offset(layout: tuple[FieldSpec, ...], name: str) -> int:
    """Where field ``name`` starts in a record (0-based)."""
    offset = 0
    for spec in layout:
        if spec.name == name:
            return offset
        offset += spec.width
    raise KeyError(name)


def _data_record(record: bytes, number: int) -> DataRecord:
    at = _offset(DATA_LAYOUT, "identification")
    edi = record[at:at + 1] == b"Y"
    v = _read_fields(DATA_LAYOUT_EDI if edi else DATA_LAYOUT, record, number)
    return DataRecord(
        bank_code=v["bank_code"], bank_name=v["bank_name"], branch_code=v["branch_code"],
        branch_name=v["branch_name"], clearing_house_code=v["clearing_house_code"],
        account_type=v["account_type"], account_number=v["account_number"],
        payee_name=v["payee_name"], amount_minor=int(v["amount_minor"]),
        new_code=v["new_code"], customer_code_1=v.get("customer_code_1", ""),
        customer_code_2=v.get("customer_code_2", ""), edi_info=v.get("edi_info") if edi else None,
        transfer_kind=v["transfer_kind"], identification=v["identification"])


def _trailer_record(record: bytes, number: int, records: tuple[DataRecord, ...]
                    ) -> TrailerRecord:
    v = _read_fields(TRAILER_LAYOUT, record, number)
    trailer = TrailerRecord(int(v["count"]), int(v["total_minor"]))
    total = sum(r.amount_minor for r in records)
    if (trailer.count, trailer.total_minor) != (len(records), total):
        raise SibError(f"the trailer says {trailer.count:,} transfers for "
                       f"{trailer.total_minor:,} yen, the data records are {len(records):,} "
                       f"for {total:,} yen", "ZENGIN_TRAILER_MISMATCH", "trailer")
    return trailer


def parse_transfer_file(data: bytes, profile: BankProfile = BankProfile()) -> ParsedFile:
    """Read a 総合振込 file back field by field, checking it against ``profile`` and checking
    the trailer's count and total against the data records.

    Refusals: ``ZENGIN_RECORD_LENGTH``, ``ZENGIN_EOF_MARK_MISSING``, ``ZENGIN_RECORD_ORDER``,
    ``ZENGIN_FIELD_INVALID``, ``ZENGIN_NOT_SOGO_FURIKOMI``, ``ZENGIN_TRAILER_MISMATCH``.
    """
    records = _split_records(data, profile)
    _check_order(records)
    header = _header_record(records[0])
    data_records = tuple(_data_record(r, n) for n, r in enumerate(records[1:-2], 2))
    trailer = _trailer_record(records[-2], len(records) - 1, data_records)
    _read_fields(END_LAYOUT, records[-1], len(records))
    return ParsedFile(header, data_records, trailer)


__all__ = ["ALLOWED_DESCRIPTION", "DATA_LAYOUT", "DATA_LAYOUT_EDI", "END_LAYOUT", "EOF_MARK",
           "HEADER_LAYOUT", "RECORD_LENGTH", "TRAILER_LAYOUT", "BankProfile", "DataRecord",
           "FieldSpec", "HeaderRecord", "ParsedFile", "TrailerRecord", "Transfer",
           "TransferHeader", "build_transfer_file", "parse_transfer_file", "to_zengin_kana",
           "truncate_zengin", "zengin_text"]
