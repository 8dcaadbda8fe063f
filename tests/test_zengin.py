"""The Zengin 総合振込 file, written for five municipal payees and read back field by field.

Field positions are checked against the published layout (1-based columns): header 取組日 at
55–58 and 仕向銀行番号 at 59–62; data 受取人名 at 51–80, 振込金額 at 81–90, 新規コード at 91,
顧客コード at 92–111, 振込指定区分 at 112, 識別表示 at 113; trailer 合計件数 at 2–7 and
合計金額 at 8–19.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from ledger.errors import SibError
from settlement.zengin import (
    EOF_MARK,
    BankProfile,
    DataRecord,
    HeaderRecord,
    Transfer,
    TransferHeader,
    build_transfer_file,
    parse_transfer_file,
    to_zengin_kana,
    truncate_zengin,
    zengin_text,
)

CRLF = BankProfile("CRLF bank", record_separator="CRLF")
PLAIN = BankProfile("plain stream", record_separator="none")

# Tsukuba Wellness Research pays from its Yamaguchi Bank account on Tuesday 10 June 2025.
HEADER = TransferHeader(
    requester_code="0012345678", requester_name="カ)ツクバウエルネスリサーチ",
    transfer_on=date(2025, 6, 10), bank_code="0170", bank_name="ヤマグチ",
    branch_code="001", branch_name="ホンテン", account_type="1", account_number="1234567")

# The five municipalities, each named as its account is registered (会計管理者), given in the
# forms people type: full-width katakana, hiragana, half-width kana.
PAYEES = [
    Transfer(party="Ube City", bank_code="0170", bank_name="ヤマグチ", branch_code="101",
             branch_name="ウベ", account_type="1", account_number="1111111",
             payee_name="ウベシカイケイカンリシャ", amount_minor=12_345_678, new_code="1",
             customer_code_1="352021"),
    Transfer(party="Tono City", bank_code="0124", bank_name="とうほく", branch_code="202",
             branch_name="とおの", account_type="1", account_number="222222",
             payee_name="とおのしかいけいかんりしゃ", amount_minor=2_100_000),
    Transfer(party="Yawata City", bank_code="0158", bank_name="ｷﾖｳﾄ", branch_code="303",
             branch_name="ﾔﾜﾀ", account_type="2", account_number="3333333",
             payee_name="ﾔﾜﾀｼｶｲｹｲｶﾝﾘｼﾔ", amount_minor=5_555_555,
             customer_code_1="262102", customer_code_2="2025"),
    Transfer(party="Ibusuki City", bank_code="0182", bank_name="カゴシマ", branch_code="404",
             branch_name="イブスキ", account_type="1", account_number="4444",
             payee_name="イブスキシカイケイカンリシャ", amount_minor=3_000_001,
             edi_info="FY2025 Q1"),
    Transfer(party="Misato Town", bank_code="0017", bank_name="サイタマリソナ",
             branch_code="505", branch_name="ミサト", account_type="1",
             account_number="5555555", payee_name="ミサトマチカイケイカンリシャ",
             amount_minor=999_999, transfer_kind="8"),
]
TOTAL = 12_345_678 + 2_100_000 + 5_555_555 + 3_000_001 + 999_999  # 24,001,233


def _records(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


# --- writing and reading back --------------------------------------------------------------


def test_every_record_is_exactly_120_bytes_in_order():
    records = _records(build_transfer_file(HEADER, PAYEES, CRLF))
    assert [len(r) for r in records] == [120] * 8
    assert [r[:1] for r in records] == [b"1", b"2", b"2", b"2", b"2", b"2", b"8", b"9"]


def test_header_is_read_back_field_by_field():
    parsed = parse_transfer_file(build_transfer_file(HEADER, PAYEES, CRLF), CRLF)
    assert parsed.header == HeaderRecord(
        kind_code="21", code_section="0", requester_code="0012345678",
        requester_name="ｶ)ﾂｸﾊﾞｳｴﾙﾈｽﾘｻ-ﾁ", transfer_mmdd="0610", bank_code="0170",
        bank_name="ﾔﾏｸﾞﾁ", branch_code="001", branch_name="ﾎﾝﾃﾝ", account_type="1",
        account_number="1234567")


def test_data_records_are_read_back_field_by_field():
    records = parse_transfer_file(build_transfer_file(HEADER, PAYEES, CRLF), CRLF).records
    assert records == (
        DataRecord(bank_code="0170", bank_name="ﾔﾏｸﾞﾁ", branch_code="101", branch_name="ｳﾍﾞ",
                   clearing_house_code="0000", account_type="1", account_number="1111111",
                   payee_name="ｳﾍﾞｼｶｲｹｲｶﾝﾘｼﾔ", amount_minor=12_345_678, new_code="1",
                   customer_code_1="0000352021", customer_code_2="0000000000", edi_info=None,
                   transfer_kind="7", identification=""),
        DataRecord(bank_code="0124", bank_name="ﾄｳﾎｸ", branch_code="202", branch_name="ﾄｵﾉ",
                   clearing_house_code="0000", account_type="1", account_number="0222222",
                   payee_name="ﾄｵﾉｼｶｲｹｲｶﾝﾘｼﾔ", amount_minor=2_100_000, new_code="0",
                   customer_code_1="0000000000", customer_code_2="0000000000", edi_info=None,
                   transfer_kind="7", identification=""),
        DataRecord(bank_code="0158", bank_name="ｷﾖｳﾄ", branch_code="303", branch_name="ﾔﾜﾀ",
                   clearing_house_code="0000", account_type="2", account_number="3333333",
                   payee_name="ﾔﾜﾀｼｶｲｹｲｶﾝﾘｼﾔ", amount_minor=5_555_555, new_code="0",
                   customer_code_1="0000262102", customer_code_2="0000002025", edi_info=None,
                   transfer_kind="7", identification=""),
        DataRecord(bank_code="0182", bank_name="ｶｺﾞｼﾏ", branch_code="404",
                   branch_name="ｲﾌﾞｽｷ", clearing_house_code="0000", account_type="1",
                   account_number="0004444", payee_name="ｲﾌﾞｽｷｼｶｲｹｲｶﾝﾘｼﾔ",
                   amount_minor=3_000_001, new_code="0", customer_code_1="",
                   customer_code_2="", edi_info="FY2025 Q1", transfer_kind="7",
                   identification="Y"),
        DataRecord(bank_code="0017", bank_name="ｻｲﾀﾏﾘｿﾅ", branch_code="505",
                   branch_name="ﾐｻﾄ", clearing_house_code="0000", account_type="1",
                   account_number="5555555", payee_name="ﾐｻﾄﾏﾁｶｲｹｲｶﾝﾘｼﾔ",
                   amount_minor=999_999, new_code="0", customer_code_1="0000000000",
                   customer_code_2="0000000000", edi_info=None, transfer_kind="8",
                   identification=""),
    )


def test_trailer_carries_the_count_and_total():
    data = build_transfer_file(HEADER, PAYEES, CRLF)
    trailer = parse_transfer_file(data, CRLF).trailer
    assert (trailer.count, trailer.total_minor) == (5, TOTAL) == (5, 24_001_233)
    assert _records(data)[6] == b"8" + b"000005" + b"000024001233" + b" " * 101
    assert _records(data)[7] == b"9" + b" " * 119


def test_fields_sit_at_their_published_columns():
    header, ube, *_ = _records(build_transfer_file(HEADER, PAYEES, CRLF))
    assert header[:14] == b"1210" + b"0012345678"
    assert header[54:58] == b"0610" and header[58:62] == b"0170"
    assert header[95:103] == b"1" + b"1234567" and header[103:] == b" " * 17
    assert ube[1:5] == b"0170" and ube[20:23] == b"101" and ube[38:42] == b"0000"
    assert ube[50:80] == "ｳﾍﾞｼｶｲｹｲｶﾝﾘｼﾔ".encode("cp932").ljust(30, b" ")
    assert ube[80:90] == b"0012345678"  # N: right-aligned, zero-filled
    assert ube[90:91] == b"1" and ube[91:111] == b"0000352021" + b"0000000000"
    assert ube[111:113] == b"7 " and ube[113:] == b" " * 7


def test_names_are_half_width_cp932_single_bytes():
    ube = _records(build_transfer_file(HEADER, PAYEES, CRLF))[1]
    # ｳ ﾍ ﾞ ｼ: one byte each in JIS X 0201, the voiced mark a character of its own.
    assert ube[50:54] == b"\xb3\xcd\xde\xbc"


# --- converting names ----------------------------------------------------------------------


@pytest.mark.parametrize("given, written", [
    ("ウベシ", "ｳﾍﾞｼ"), ("うべし", "ｳﾍﾞｼ"), ("ｳﾍﾞｼ", "ｳﾍﾞｼ"),
    ("タニタヘルスリンク", "ﾀﾆﾀﾍﾙｽﾘﾝｸ"), ("ぴーぷる", "ﾋﾟ-ﾌﾟﾙ"), ("ヴ", "ｳﾞ"),
    ("キャノン", "ｷﾔﾉﾝ"), ("Tanita Health Link", "TANITA HEALTH LINK"),
    ("ＡＢＣ１２３", "ABC123"), ("カ）タニタ", "ｶ)ﾀﾆﾀ"), ("￥１，０００．－／", "¥1,000.-/"),
    ("トウキョウドーム　スポーツ", "ﾄｳｷﾖｳﾄﾞ-ﾑ ｽﾎﾟ-ﾂ"),
])
def test_names_convert_to_the_zengin_character_set(given, written):
    assert to_zengin_kana(given) == written


def test_characters_without_a_zengin_form_are_listed():
    assert zengin_text("宇部市・ｳﾍﾞ") == ("ｳﾍﾞ", ["宇", "部", "市", "・"])


def test_yen_sign_is_written_as_the_jis_byte_and_read_back():
    payee = replace(PAYEES[0], payee_name="ｳﾍﾞｼ ¥")
    data = build_transfer_file(HEADER, [payee], PLAIN)
    assert data[120 + 50:120 + 56] == b"\xb3\xcd\xde\xbc \x5c"
    assert parse_transfer_file(data, PLAIN).records[0].payee_name == "ｳﾍﾞｼ ¥"


def test_truncation_never_separates_a_voiced_mark_from_its_kana():
    assert truncate_zengin("ｱｲｳｶﾞ", 4) == "ｱｲｳ"
    assert truncate_zengin("ｱｲｳｶﾞ", 5) == "ｱｲｳｶﾞ"
    assert truncate_zengin("ｱｲｳｶﾞｷ", 5) == "ｱｲｳｶﾞ"


# --- refusals ------------------------------------------------------------------------------


def _refusal(header: TransferHeader = HEADER, transfers: list[Transfer] = PAYEES,
             profile: BankProfile = CRLF) -> SibError:
    with pytest.raises(SibError) as error:
        build_transfer_file(header, transfers, profile)
    return error.value


def test_a_kanji_name_is_refused_naming_the_party():
    error = _refusal(transfers=[replace(PAYEES[0], payee_name="宇部市")] + PAYEES[1:])
    problem = error.problems[0]
    assert (error.code, problem.field) == ("ZENGIN_CHARACTER_NOT_ALLOWED",
                                           "transfers[0].payee_name")
    assert "transfer 1 to Ube City" in problem.message
    assert "'宇', '部', '市'" in problem.message


def test_a_name_too_long_is_refused_unless_the_profile_truncates():
    long_name = "ミサトマチカイケイカンリシャ" + "ア" * 16 + "ガ"  # 14 + 16 + 2 = 32 characters
    transfers = PAYEES[:4] + [replace(PAYEES[4], payee_name=long_name)]
    error = _refusal(transfers=transfers)
    assert error.code == "ZENGIN_FIELD_TOO_LONG"
    assert "transfer 5 to Misato Town" in error.problems[0].message
    assert "32 characters, the field holds 30" in error.problems[0].message
    truncating = replace(CRLF, truncate_names=True)
    parsed = parse_transfer_file(build_transfer_file(HEADER, transfers, truncating), truncating)
    # Character 30 would be the ｶ of ｶﾞ: the cut falls before it, leaving 29.
    assert parsed.records[4].payee_name == "ﾐｻﾄﾏﾁｶｲｹｲｶﾝﾘｼﾔ" + "ｱ" * 16


def test_an_amount_over_ten_digits_is_refused():
    error = _refusal(transfers=[replace(PAYEES[1], amount_minor=10_000_000_000)])
    assert error.code == "ZENGIN_AMOUNT_TOO_LARGE"
    assert "transfer 1 to Tono City" in error.problems[0].message
    assert error.problems[0].field == "transfers[0].amount_minor"
    assert build_transfer_file(HEADER, [replace(PAYEES[1], amount_minor=9_999_999_999)], CRLF)


@pytest.mark.parametrize("amount", [0, -1, 1.5])
def test_an_amount_that_is_not_a_positive_integer_is_refused(amount):
    error = _refusal(transfers=[replace(PAYEES[2], amount_minor=amount)])
    assert error.code == "ZENGIN_AMOUNT_INVALID"
    assert "Yawata City" in error.problems[0].message


@pytest.mark.parametrize("bank_code", ["170", "01700", "01A0", ""])
def test_a_bad_bank_code_is_refused(bank_code):
    error = _refusal(transfers=[replace(PAYEES[3], bank_code=bank_code)])
    assert (error.code, error.problems[0].field) == ("ZENGIN_CODE_INVALID",
                                                     "transfers[0].bank_code")
    assert "transfer 1 to Ibusuki City" in error.problems[0].message
    assert "exactly 4 digits" in error.problems[0].message


def test_every_problem_is_reported_together():
    transfers = [replace(PAYEES[0], payee_name="宇部市"),
                 replace(PAYEES[1], branch_code="22"),
                 replace(PAYEES[2], account_number="12345678", account_type="3")]
    error = _refusal(header=replace(HEADER, requester_name="筑波ウェルネス"),
                     transfers=transfers)
    assert [(p.code, p.field) for p in error.problems] == [
        ("ZENGIN_CHARACTER_NOT_ALLOWED", "header.requester_name"),
        ("ZENGIN_CHARACTER_NOT_ALLOWED", "transfers[0].payee_name"),
        ("ZENGIN_CODE_INVALID", "transfers[1].branch_code"),
        ("ZENGIN_CODE_INVALID", "transfers[2].account_type"),
        ("ZENGIN_CODE_INVALID", "transfers[2].account_number"),
    ]
    assert "requester '筑波ウェルネス'" in error.problems[0].message


def test_the_transfer_date_must_be_a_bank_business_day():
    error = _refusal(header=replace(HEADER, transfer_on=date(2025, 5, 5)))  # Children's Day
    assert (error.code, error.problems[0].field) == ("ZENGIN_TRANSFER_DATE_INVALID",
                                                     "header.transfer_on")


def test_a_file_needs_at_least_one_transfer():
    assert _refusal(transfers=[]).code == "ZENGIN_NO_TRANSFERS"


# --- bank profiles -------------------------------------------------------------------------


@pytest.mark.parametrize("profile, separator", [
    (CRLF, b"\r\n"), (BankProfile(record_separator="LF"), b"\n"), (PLAIN, b"")])
def test_record_separator_follows_the_profile(profile, separator):
    data = build_transfer_file(HEADER, PAYEES, profile)
    assert len(data) == 8 * (120 + len(separator))
    if separator:
        assert data.count(separator) == 8 and data.endswith(separator)
    assert parse_transfer_file(data, profile).trailer.total_minor == TOTAL


def test_end_of_file_mark_is_appended_when_the_profile_asks():
    with_mark = replace(PLAIN, eof_mark=True)
    data = build_transfer_file(HEADER, PAYEES, with_mark)
    assert data.endswith(b" " * 119 + EOF_MARK) and len(data) == 8 * 120 + 1
    assert parse_transfer_file(data, with_mark).trailer.count == 5
    assert not build_transfer_file(HEADER, PAYEES, PLAIN).endswith(EOF_MARK)
    with pytest.raises(SibError) as error:
        parse_transfer_file(build_transfer_file(HEADER, PAYEES, PLAIN), with_mark)
    assert error.value.code == "ZENGIN_EOF_MARK_MISSING"


def test_a_file_read_with_the_wrong_profile_is_refused():
    with pytest.raises(SibError) as error:
        parse_transfer_file(build_transfer_file(HEADER, PAYEES, CRLF), PLAIN)
    assert error.value.code in {"ZENGIN_RECORD_LENGTH", "ZENGIN_RECORD_ORDER"}


# --- reading damaged files -----------------------------------------------------------------


def test_a_trailer_that_disagrees_with_the_data_records_is_refused():
    records = _records(build_transfer_file(HEADER, PAYEES, CRLF))
    # Change the Ube City amount from 12,345,678 to 12,345,679: the trailer no longer adds up.
    records[1] = records[1][:80] + b"0012345679" + records[1][90:]
    with pytest.raises(SibError) as error:
        parse_transfer_file(b"\r\n".join(records) + b"\r\n", CRLF)
    assert error.value.code == "ZENGIN_TRAILER_MISMATCH"
    assert "24,001,233" in str(error.value) and "24,001,234" in str(error.value)


def test_a_missing_data_record_is_caught_by_the_trailer_count():
    records = _records(build_transfer_file(HEADER, PAYEES, CRLF))
    del records[3]
    with pytest.raises(SibError) as error:
        parse_transfer_file(b"\r\n".join(records) + b"\r\n", CRLF)
    assert error.value.code == "ZENGIN_TRAILER_MISMATCH"


def test_a_short_record_or_a_non_numeric_amount_is_refused():
    records = _records(build_transfer_file(HEADER, PAYEES, CRLF))
    short = records[:2] + [records[2][:119]] + records[3:]
    with pytest.raises(SibError) as error:
        parse_transfer_file(b"\r\n".join(short) + b"\r\n", CRLF)
    assert (error.value.code, error.value.problems[0].field) == ("ZENGIN_RECORD_LENGTH",
                                                                 "records[2]")
    records[1] = records[1][:80] + b"00123456 8" + records[1][90:]
    with pytest.raises(SibError) as error:
        parse_transfer_file(b"\r\n".join(records) + b"\r\n", CRLF)
    assert (error.value.code, error.value.problems[0].field) == (
        "ZENGIN_FIELD_INVALID", "records[1].amount_minor")


def test_records_out_of_order_are_refused():
    records = _records(build_transfer_file(HEADER, PAYEES, CRLF))
    swapped = [records[1], records[0]] + records[2:]
    with pytest.raises(SibError) as error:
        parse_transfer_file(b"\r\n".join(swapped) + b"\r\n", CRLF)
    assert error.value.code == "ZENGIN_RECORD_ORDER"
