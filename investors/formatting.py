"""How each document language writes amounts, dates, rates and labels.

Japanese: ``1,234,567円`` (or ``￥1,234,567``), dates in 和暦 and Western forms
(``令和2年3月31日`` / ``2020年3月31日``), fiscal years ``令和元年度``. English: ``JPY 1,234,567``,
``£12.50``, ``31 Mar 2020``, ``FY2019``. English month names come from a table here, not from
``strftime``, so the output never depends on the machine's locale.

Every label a document prints is in :data:`LABELS` in both languages; a Japanese document takes
only the Japanese forms. Display rounding of rates goes through ``ledger.rounding`` like every
other rounding.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from ledger.calendar import wareki_date, wareki_fiscal_year
from ledger.errors import SibError
from ledger.money import HOME_CURRENCY, SYMBOLS_EN, exponent
from ledger.rounding import RoundingMode, round_minor

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec")


def check_lang(lang: str) -> str:
    """``lang`` if it is a document language, else a named refusal."""
    if lang not in ("ja", "en"):
        raise SibError(f"documents are written in 'ja' or 'en', not {lang!r}", "LANG_UNKNOWN",
                       "lang")
    return lang


def format_number(value: int) -> str:
    """An integer with thousands separators: ``1,234,567``."""
    return f"{value:,}"


def _plain(amount_minor: int, currency: str) -> str:
    """The unsigned amount with thousands separators and the currency's decimals."""
    places = exponent(currency)
    units, fraction = divmod(abs(amount_minor), 10**places)
    return f"{units:,}.{fraction:0{places}d}" if places else f"{units:,}"


def format_amount(amount_minor: int, currency: str, lang: str, style: str = "default") -> str:
    """An amount as the language writes it.

    ``style="default"``: ``1,234,567円`` (ja, yen), ``JPY 1,234,567`` (en, yen), ``£12.50``
    (en, pounds), ``GBP 12.50`` (ja, other currencies). ``style="symbol"``: ``￥1,234,567``
    (ja) / ``¥1,234,567`` (en). A negative amount carries a leading minus sign.
    """
    check_lang(lang)
    sign = "-" if amount_minor < 0 else ""
    body = _plain(amount_minor, currency)
    if currency == "JPY" and lang == "ja":
        return f"{sign}￥{body}" if style == "symbol" else f"{sign}{body}円"
    symbol = SYMBOLS_EN.get(currency) if lang == "en" else None
    if symbol and (currency != "JPY" or style == "symbol"):
        return f"{sign}{symbol}{body}"
    return f"{currency} {sign}{body}"


def _decimal_text(value: Decimal | Fraction | int, places: int) -> str:
    """``value`` with exactly ``places`` decimals, rounded half up through ledger.rounding."""
    if isinstance(value, float):
        raise TypeError("floats are refused: pass Decimal, Fraction or int")
    scaled = round_minor(Fraction(value) * 10**places, RoundingMode.HALF_UP)
    sign = "-" if scaled < 0 else ""
    units, fraction = divmod(abs(scaled), 10**places)
    return f"{sign}{units:,}.{fraction:0{places}d}" if places else f"{sign}{units:,}"


def format_percent(percent: Decimal | Fraction | int, places: int = 2) -> str:
    """A value already in percent: ``20.42%``."""
    return f"{_decimal_text(percent, places)}%"


def format_rate(rate: Decimal | Fraction | None, lang: str, places: int = 2) -> str:
    """A rate held as a fraction (``0.0425``) in percent (``4.25%``); a dash when undefined."""
    if rate is None:
        return "—" if lang == "en" else "－"
    return format_percent(Fraction(rate) * 100, places)


def format_decimal(value: Decimal | int, places: int = 2) -> str:
    """A plain figure (a multiple, a KPI value) with thousands separators: ``1.05``."""
    return _decimal_text(value, places)


def format_multiple(value: Decimal | None, lang: str) -> str:
    """A multiple on invested capital: ``1.05x`` (en) / ``1.05倍`` (ja)."""
    if value is None:
        return "—" if lang == "en" else "－"
    return f"{_decimal_text(value, 2)}{'倍' if lang == 'ja' else 'x'}"


def format_units(units: int, lang: str) -> str:
    """Units of a class: ``1,000口`` / ``1,000 units``."""
    return f"{units:,}口" if lang == "ja" else f"{units:,} units"


def english_date(day: date) -> str:
    """``31 Mar 2020``, independent of the machine's locale."""
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def format_date(day: date, lang: str, calendar: str = "wareki") -> str:
    """A date as the language writes it.

    Japanese: ``calendar="wareki"`` → ``令和2年3月31日``; ``"western"`` → ``2020年3月31日``;
    ``"both"`` → ``令和2年3月31日（2020年3月31日）``. English: always ``31 Mar 2020``.
    """
    check_lang(lang)
    if lang == "en":
        return english_date(day)
    western = f"{day.year}年{day.month}月{day.day}日"
    if calendar == "western":
        return western
    if calendar == "both":
        return f"{wareki_date(day)}（{western}）"
    return wareki_date(day)


def format_fiscal_year(fiscal_year: int, lang: str, start_month: int = 4,
                       with_western: bool = False, currency: str | None = None) -> str:
    """``令和元年度`` (ja; with ``with_western`` ``令和元年度（2019年度）``) or ``FY2019`` (en).
    A contract abroad (``currency`` other than the yen) keeps its own name for the year in
    Japanese too, ``2026会計年度``: 令和8年度 would read as April 2026 – March 2027 to a
    Japanese reader, whatever the contract's year is."""
    check_lang(lang)
    if lang == "en":
        return f"FY{fiscal_year}"
    if currency is not None and currency != HOME_CURRENCY:
        return f"{fiscal_year}会計年度"
    wareki = wareki_fiscal_year(fiscal_year, start_month)
    return f"{wareki}（{fiscal_year}年度）" if with_western else wareki


def format_period(start_on: date, end_on: date, lang: str) -> str:
    """A date range: ``令和元年7月1日～令和2年3月31日`` / ``1 Jul 2019 – 31 Mar 2020``."""
    if lang == "ja":
        return f"{format_date(start_on, lang)}～{format_date(end_on, lang)}"
    return f"{format_date(start_on, lang)} – {format_date(end_on, lang)}"


def _offset_text(moment: datetime) -> str:
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def format_timestamp(moment: datetime, lang: str) -> str:
    """``令和2年4月30日 10:00（UTC+09:00）`` / ``30 Apr 2020 10:00 UTC+09:00``."""
    clock = f"{moment.hour:02d}:{moment.minute:02d}"
    if lang == "ja":
        return f"{format_date(moment.date(), lang)} {clock}（{_offset_text(moment)}）"
    return f"{format_date(moment.date(), lang)} {clock} {_offset_text(moment)}"


def format_kpi_value(value: Decimal, unit: str, lang: str) -> str:
    """A KPI value with its unit: ``83.50%``, ``7,200人`` / ``7,200 people``, ``8,000歩``."""
    if unit == "percent":
        return format_percent(value)
    places = 0 if value == value.to_integral_value() else 2
    number = _decimal_text(value, places)
    suffix = {"people": ("人", " people"), "steps": ("歩", " steps")}.get(unit)
    if suffix is None:
        return number
    return f"{number}{suffix[0]}" if lang == "ja" else f"{number}{suffix[1]}"


def format_tax_rate(rate: Decimal) -> str:
    """A tax rate held as a fraction as an invoice prints it: ``10%``, ``8%``, ``7.5%`` (no
    trailing zeros: the rate is the law's, not a measured figure)."""
    percent = (Decimal(rate) * 100).normalize()
    places = max(0, -int(percent.as_tuple().exponent))
    return format_percent(percent, places)


def format_tax_by_rate(rate: Decimal, taxable_minor: int, tax_minor: int, included: bool,
                       currency: str, lang: str) -> str:
    """The amount subject to one tax rate and its tax, as a qualified invoice states them
    (once per rate): ``10%対象 22,042,451円（うち消費税額 2,003,859円）`` when the amount includes
    the tax, ``10%対象 5,625,000円 消費税額 562,500円`` when the tax is added on top;
    ``Subject to 10%: JPY 22,042,451 (of which consumption tax JPY 2,003,859)`` /
    ``Subject to 10%: JPY 5,625,000, consumption tax JPY 562,500``."""
    rate_text = format_tax_rate(rate)
    base = format_amount(taxable_minor, currency, lang)
    tax = format_amount(tax_minor, currency, lang)
    if check_lang(lang) == "ja":
        return f"{rate_text}対象 {base}（うち消費税額 {tax}）" if included \
            else f"{rate_text}対象 {base} 消費税額 {tax}"
    return f"Subject to {rate_text}: {base} (of which consumption tax {tax})" if included \
        else f"Subject to {rate_text}: {base}, consumption tax {tax}"


def page_number(page: int, pages: int) -> str:
    """``1 / 3``: the same in both languages."""
    return f"{page} / {pages}"


# Every label the documents print. Keys are stable; add both languages or neither.
LABELS: dict[str, dict[str, str]] = {
    # Document titles
    "lender_statement": {"ja": "融資残高報告書", "en": "Lender statement"},
    "investor_statement": {"ja": "出資者取引報告書", "en": "Investor statement"},
    "payment_notice": {"ja": "成果連動支払額通知書", "en": "Outcome payment notice"},
    "year_end_report": {"ja": "年度末精算報告書", "en": "Year-end settlement report"},
    # Header and footer
    "contract": {"ja": "契約", "en": "Contract"},
    "fiscal_year": {"ja": "会計年度", "en": "Fiscal year"},
    "period": {"ja": "対象期間", "en": "Period"},
    "document_id": {"ja": "文書番号", "en": "Document"},
    "generated_at": {"ja": "作成日時", "en": "Generated"},
    "ledger_state": {"ja": "台帳状態ハッシュ", "en": "Ledger state hash"},
    "verify_hint": {"ja": "`sib ledger verify` で台帳と照合できます",
                    "en": "check it against the ledger with `sib ledger verify`"},
    # Parties
    "lender": {"ja": "貸付人", "en": "Lender"},
    "borrower": {"ja": "借入人", "en": "Borrower"},
    "issuer": {"ja": "営業者", "en": "Operator"},
    "holder": {"ja": "出資者", "en": "Holder"},
    "holder_id": {"ja": "出資者番号", "en": "Holder number"},
    "payer": {"ja": "支払者", "en": "Payer"},
    "payee": {"ja": "受領者", "en": "Payee"},
    "intermediary": {"ja": "中間支援組織", "en": "Intermediary"},
    # Loans
    "loan": {"ja": "貸付", "en": "Loan"},
    "commitment": {"ja": "融資枠", "en": "Commitment"},
    "interest_rate": {"ja": "年利率", "en": "Interest rate (annual)"},
    "day_count": {"ja": "利息計算方法", "en": "Day count"},
    "opening_balance": {"ja": "期首残高", "en": "Opening balance"},
    "drawn": {"ja": "実行額", "en": "Drawn"},
    "draw_date": {"ja": "実行日", "en": "Drawn on"},
    "principal_repaid": {"ja": "元金返済額", "en": "Principal repaid"},
    "written_down": {"ja": "元本減額", "en": "Written down"},
    # A guarantor's payment (保証履行) is money received, shown apart from the loss.
    "recovered_from_guarantee": {"ja": "保証履行による回収", "en": "Guarantee recovery"},
    "closing_balance": {"ja": "期末残高", "en": "Closing balance"},
    "interest_accrued": {"ja": "発生利息", "en": "Interest accrued"},
    "interest_paid": {"ja": "支払利息", "en": "Interest paid"},
    "schedule_vs_actual": {"ja": "返済予定と実績", "en": "Schedule against actual"},
    "due_date": {"ja": "約定日", "en": "Due"},
    "principal_scheduled": {"ja": "元金（予定）", "en": "Principal due"},
    "interest_scheduled": {"ja": "利息（予定）", "en": "Interest due"},
    "principal_paid": {"ja": "元金（実績）", "en": "Principal paid"},
    "paid_on": {"ja": "支払日", "en": "Paid on"},
    "difference": {"ja": "差異", "en": "Difference"},
    "not_paid": {"ja": "未払", "en": "unpaid"},
    # Each instalment's standing, as the ledger records it (settlement.servicing.Status).
    "overdue_amount": {"ja": "延滞額", "en": "Overdue"},
    "default_interest_column": {"ja": "遅延損害金", "en": "Default int."},
    "instalment_status": {"ja": "状況", "en": "Status"},
    "status_paid_on_time": {"ja": "期日支払", "en": "On time"},
    "status_paid_late": {"ja": "遅延支払", "en": "Paid late"},
    "status_prepaid": {"ja": "期限前支払", "en": "Prepaid"},
    "status_overdue": {"ja": "延滞中", "en": "Overdue"},
    "status_written_down": {"ja": "元本減額", "en": "Written down"},
    "status_recovered": {"ja": "保証履行", "en": "Guarantor paid"},
    "status_part_recovered": {"ja": "一部保証履行", "en": "Part recovered"},
    "status_not_due": {"ja": "期日未到来", "en": "Not yet due"},
    "overdue_at_end": {"ja": "期末延滞額（元利金）", "en": "Overdue at the end"},
    "default_interest_accrued": {"ja": "遅延損害金（期中発生）",
                                 "en": "Default interest accrued"},
    "balance_chart": {"ja": "貸付残高の推移", "en": "Loan balance over time"},
    "amount": {"ja": "金額", "en": "Amount"},
    # KPIs
    "kpi_results": {"ja": "評価済み成果指標（KPI）", "en": "Audited KPI results"},
    "kpi": {"ja": "成果指標", "en": "KPI"},
    "target": {"ja": "目標値", "en": "Target"},
    "result": {"ja": "実績値", "en": "Result"},
    "achievement": {"ja": "達成率", "en": "Achievement"},
    "maximum": {"ja": "上限額", "en": "Maximum"},
    "earned": {"ja": "成果額", "en": "Earned"},
    "evaluation_interim": {"ja": "中間評価", "en": "interim"},
    "kpi_chart": {"ja": "成果指標の達成率", "en": "KPI achievement"},
    # Investor statement
    "class": {"ja": "出資区分", "en": "Class"},
    "units": {"ja": "保有口数", "en": "Units held"},
    "unit_price": {"ja": "1口当たり出資額", "en": "Price per unit"},
    "tax_category": {"ja": "課税区分", "en": "Tax category"},
    "tax_individual": {"ja": "個人", "en": "individual"},
    "tax_corporate": {"ja": "法人", "en": "corporate"},
    "tax_tax_exempt": {"ja": "非課税", "en": "tax-exempt"},
    "capital_account": {"ja": "出資金勘定の推移", "en": "Capital account"},
    "opening": {"ja": "期首残高", "en": "Opening balance"},
    "contributions": {"ja": "出資払込", "en": "Contributions"},
    "income": {"ja": "利益分配（損益配分）", "en": "Income allocated"},
    "distributions": {"ja": "分配金", "en": "Distributions"},
    "distributions_gross": {"ja": "分配金（税引前）", "en": "Distributions (gross)"},
    "withheld": {"ja": "源泉徴収税額", "en": "Tax withheld"},
    "net_paid": {"ja": "差引支払額", "en": "Net paid"},
    "write_downs": {"ja": "損失負担（元本毀損）", "en": "Write-downs"},
    "closing": {"ja": "期末残高", "en": "Closing balance"},
    "income_type": {"ja": "所得区分", "en": "Income type"},
    "income_tokumei_kumiai": {"ja": "匿名組合契約の利益の分配",
                              "en": "Silent-partnership distribution"},
    "income_interest": {"ja": "利子", "en": "Interest"},
    "income_dividend": {"ja": "配当", "en": "Dividend"},
    "income_none": {"ja": "分配金（源泉徴収なし）", "en": "Distribution (no withholding)"},
    "income_capital_return": {"ja": "出資金の返還", "en": "Return of capital"},
    "returns": {"ja": "投資成果（累計）", "en": "Returns since inception"},
    "contributed_total": {"ja": "払込累計額", "en": "Contributed to date"},
    "distributed_total": {"ja": "分配累計額（税引前）", "en": "Distributed to date (gross)"},
    "residual_value": {"ja": "評価額（出資金残高）", "en": "Residual value"},
    "irr": {"ja": "内部収益率（年率・XIRR）", "en": "IRR to date (XIRR, annual)"},
    "moic": {"ja": "投下資本倍率", "en": "Multiple on invested capital"},
    "as_of": {"ja": "基準日", "en": "As of"},
    "no_distributions": {"ja": "当期の分配はありません", "en": "No distributions in the period"},
    "tax_note": {"ja": "源泉徴収税額は支払調書に記載されます",
                 "en": "Tax withheld is reported on the payment record"},
    # Payment notice
    "earned_lines": {"ja": "成果連動支払額の内訳", "en": "Earned amounts"},
    "trace": {"ja": "算定根拠", "en": "Calculation"},
    "earned_total": {"ja": "成果額合計", "en": "Total earned"},
    # The tax labels name no rate: the rate is the contract's, printed beside them.
    "consumption_tax": {"ja": "消費税額", "en": "Consumption tax"},
    "earned_total_included": {"ja": "成果額合計（税込）", "en": "Total earned (tax included)"},
    "consumption_tax_included": {"ja": "うち消費税額", "en": "of which consumption tax"},
    "amount_due": {"ja": "請求額", "en": "Amount due"},
    "grant_covered": {"ja": "うち交付金対象額", "en": "of which grant-covered"},
    "due_on": {"ja": "支払期日", "en": "Due date"},
    "remit_to": {"ja": "振込先", "en": "Pay to"},
    # Payment notice as a qualified invoice (適格請求書) and payment request
    "qualified_invoice": {"ja": "適格請求書", "en": "Qualified invoice (適格請求書)"},
    "invoice_request": {"ja": "下記のとおり成果連動支払額を通知し、ご請求申し上げます。",
                        "en": "We notify you of the outcome payment below and request its "
                              "payment."},
    "invoice_issuer": {"ja": "請求者", "en": "Issued by"},
    "registration_number": {"ja": "登録番号", "en": "Registration number"},
    "not_registered": {"ja": "未登録（本書は適格請求書ではありません）",
                       "en": "none (this notice is not a qualified invoice)"},
    "issued_on": {"ja": "発行日", "en": "Date of issue"},
    "subject": {"ja": "件名", "en": "For"},
    "outcome_payment": {"ja": "成果連動支払額", "en": "outcome payment"},
    "by_tax_rate": {"ja": "税率別内訳", "en": "By tax rate"},
    "tax_included_mark": {"ja": "（税込）", "en": "(tax included)"},
    "bank": {"ja": "金融機関", "en": "Bank"},
    "branch": {"ja": "支店", "en": "Branch"},
    "account_number": {"ja": "預金種目・口座番号", "en": "Account"},
    "account_holder": {"ja": "口座名義（カナ）", "en": "Account holder (kana)"},
    "account_type_1": {"ja": "普通", "en": "Ordinary"},
    "account_type_2": {"ja": "当座", "en": "Current"},
    "account_type_4": {"ja": "貯蓄", "en": "Savings"},
    "account_type_9": {"ja": "その他", "en": "Other"},
    "no_bank_account": {"ja": "受領者の振込先口座が登録されていません。お支払いの前に受領者へ"
                              "ご確認ください。",
                        "en": "No bank account is registered for the payee: confirm the account "
                              "with the payee before paying."},
    "kpi_audit": {"ja": "評価結果の監査", "en": "Audit of the results"},
    "evaluator": {"ja": "評価機関", "en": "Evaluator"},
    "audited_by": {"ja": "監査者", "en": "Audited by"},
    "audited_on": {"ja": "監査日", "en": "Audited on"},
    "audited_results": {"ja": "対象", "en": "Results"},
    "all_results": {"ja": "上記の全指標", "en": "all results above"},
    "authorisation": {"ja": "債務負担行為の状況", "en": "Budget authorisation (債務負担行為)"},
    "authorisation_period": {"ja": "期間", "en": "Period"},
    "limit": {"ja": "限度額", "en": "Limit"},
    "paid_to_date": {"ja": "支払済額", "en": "Paid to date"},
    "this_notice": {"ja": "本通知額", "en": "This notice"},
    "paid_after": {"ja": "本通知支払後累計", "en": "Paid after this notice"},
    "remaining": {"ja": "残額", "en": "Remaining"},
    "planned": {"ja": "支出予定額", "en": "Planned"},
    "paid": {"ja": "支出済額", "en": "Paid"},
    # Year-end report
    "payers": {"ja": "支払自治体", "en": "Outcome payers"},
    "authorised": {"ja": "予算額", "en": "Authorised"},
    "outstanding": {"ja": "未収額", "en": "Outstanding"},
    "lenders": {"ja": "金融機関", "en": "Lenders"},
    "providers": {"ja": "サービス提供者", "en": "Service providers"},
    "provider": {"ja": "事業者", "en": "Provider"},
    "fixed_fees": {"ja": "固定報酬", "en": "Fixed fees"},
    "outcome_fees": {"ja": "成果報酬", "en": "Outcome fees"},
    "investor_classes": {"ja": "出資区分別", "en": "Investor classes"},
    "holders_count": {"ja": "出資者数", "en": "Holders"},
    "trial_balance": {"ja": "試算表", "en": "Trial balance"},
    "account_code": {"ja": "科目コード", "en": "Code"},
    "account": {"ja": "勘定科目", "en": "Account"},
    "debit": {"ja": "借方", "en": "Debit"},
    "credit": {"ja": "貸方", "en": "Credit"},
    "total": {"ja": "合計", "en": "Total"},
    "name": {"ja": "名称", "en": "Name"},
    # Loan documents: balance confirmation, interest statement, repayment notice (issue 11)
    "loan_confirmation": {"ja": "残高証明書", "en": "Balance confirmation"},
    "interest_statement": {"ja": "利息計算書", "en": "Interest statement"},
    "repayment_notice": {"ja": "返済予定通知書", "en": "Repayment notice"},
    "addressee": {"ja": "御中", "en": "To"},
    "confirmed_by": {"ja": "証明者（貸付人）", "en": "Confirmed by (lender)"},
    "notified_by": {"ja": "通知者（借入人）", "en": "From (borrower)"},
    "confirmation_intro": {"ja": "下記の貸付金の基準日現在の残高を、下記のとおり証明いたします。",
                           "en": "We confirm the balances of the loan below at the end of the "
                                 "date stated."},
    "as_of_end": {"ja": "現在", "en": "at the end of"},
    "loan_name": {"ja": "貸付の名称", "en": "Loan"},
    "loan_id": {"ja": "貸付番号", "en": "Loan id"},
    "default_interest_rate": {"ja": "遅延損害金利率（年）", "en": "Default interest rate"},
    "none": {"ja": "なし", "en": "none"},
    "balances": {"ja": "残高", "en": "Balances"},
    "item": {"ja": "科目", "en": "Item"},
    "principal_outstanding": {"ja": "貸付金残高（元金）", "en": "Principal outstanding"},
    "of_which_overdue_principal": {"ja": "うち延滞元金", "en": "of which overdue"},
    "overdue_interest": {"ja": "延滞利息（約定日到来・未払）",
                         "en": "Overdue interest (fallen due, unpaid)"},
    "default_interest_owed": {"ja": "遅延損害金（基準日までの発生額・未払）",
                              "en": "Default interest (遅延損害金) to date, unpaid"},
    "interest_running": {"ja": "経過利息（前回約定日から基準日まで・期日未到来）",
                         "en": "Interest since the last due date, not yet due"},
    "undrawn": {"ja": "未実行額", "en": "Undrawn"},
    "next_due": {"ja": "次回約定日", "en": "Next due date"},
    "scheduled_total": {"ja": "合計（予定）", "en": "Total due"},
    "arrears": {"ja": "延滞明細", "en": "Arrears"},
    "no_arrears": {"ja": "延滞はありません", "en": "Nothing is overdue"},
    "days_late": {"ja": "延滞日数", "en": "Days late"},
    "default_interest": {"ja": "遅延損害金", "en": "Default interest"},
    "default_interest_paid": {"ja": "うち支払済", "en": "of which paid"},
    "default_interest_unpaid": {"ja": "うち未払", "en": "unpaid"},
    "booked": {"ja": "帳簿上の未払利息", "en": "Interest payable in the books"},
    "interest_payable_booked": {"ja": "未払利息計上額", "en": "Interest payable booked"},
    "of_which_default_interest": {"ja": "うち遅延損害金", "en": "of which default interest"},
    "booked_note": {"ja": "利息及び遅延損害金は約定日及び返済日に計上されます。上記の経過利息及び"
                          "遅延損害金のうち未計上の額は、次回の約定日又は返済日に計上されます。",
                    "en": "Interest and default interest are booked on due dates and on the "
                          "dates paid; what of the figures above is not booked yet is booked on "
                          "the next due date or payment date."},
    "end_mark": {"ja": "以上", "en": "End"},
    "instalment": {"ja": "返済回数", "en": "Instalment"},
    "interest_period": {"ja": "利息計算期間", "en": "Interest period"},
    "period_from": {"ja": "自", "en": "From"},
    "period_to": {"ja": "至", "en": "To"},
    "principal_balance": {"ja": "元金残高", "en": "Principal"},
    "days": {"ja": "日数", "en": "Days"},
    "rate": {"ja": "利率", "en": "Rate"},
    "interest_exact": {"ja": "利息（端数処理前）", "en": "Interest before rounding"},
    "rounding": {"ja": "端数処理", "en": "Rounding"},
    "rounding_dropped": {"ja": "端数", "en": "Fraction dropped"},
    "interest_due": {"ja": "約定利息", "en": "Interest due"},
    "interest_unpaid": {"ja": "未払利息", "en": "Interest unpaid"},
    "payments": {"ja": "お支払い", "en": "Payments"},
    "interest_note": {"ja": "期間は初日を算入し末日（約定日）を算入しない片端計算です。",
                      "en": "The period counts its first day and not its last (the due date)."},
    "notice_intro": {"ja": "下記の返済期日における返済予定額をご通知申し上げます。",
                     "en": "We notify you of the amounts due on the date below."},
    "notice_on": {"ja": "通知日", "en": "Notice date"},
    "repayment_date": {"ja": "返済期日", "en": "Repayment date"},
    "component": {"ja": "内訳", "en": "Component"},
    "principal": {"ja": "元金", "en": "Principal"},
    "interest": {"ja": "利息", "en": "Interest"},
    "this_instalment": {"ja": "今回約定分", "en": "This instalment"},
    "in_arrears": {"ja": "延滞分", "en": "In arrears"},
    "total_due": {"ja": "返済予定額合計", "en": "Total due"},
    "principal_after": {"ja": "返済後の元金残高", "en": "Principal after payment"},
    "notice_note": {"ja": "通知日現在の記録による金額です。通知日以降のお支払いは反映されていま"
                          "せん。遅延損害金は返済期日までの日割り額です。",
                    "en": "Amounts as recorded at the notice date; payments after it are not "
                          "reflected. Default interest is counted to the repayment date."},
}


def label(key: str, lang: str) -> str:
    """The label ``key`` in ``lang``; an unknown key is a programming error, named as such."""
    check_lang(lang)
    try:
        return LABELS[key][lang]
    except KeyError as exc:
        raise SibError(f"no label {key!r} in {lang!r}", "LABEL_UNKNOWN", "key") from exc
