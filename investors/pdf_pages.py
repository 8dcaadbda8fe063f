"""Blocks laid out on A4 pages and drawn to PDF bytes.

Every page carries the same furniture: the running title, the page number, the generation
timestamp taken from the data (never the clock) and the ledger state hash with the instruction
to check it with ``sib ledger verify``. The document language sets the PDF's ``/Lang``.
reportlab's invariant mode makes the bytes depend on the data alone, so rendering the same
ledger state twice gives identical files.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from reportlab import rl_config
from reportlab.graphics import renderPDF
from reportlab.lib.pagesizes import A4
from reportlab.lib.rl_accel import escapePDF
from reportlab.pdfgen.canvas import Canvas

from investors.fonts import japanese_font, printable, register_japanese_font, seed_alphabet
from investors.formatting import LABELS, format_timestamp, label, page_number
from investors.pdf_layout import (
    CONTENT_BOTTOM,
    CONTENT_TOP,
    CONTENT_WIDTH,
    MARGIN,
    PAGE_HEIGHT,
    Block,
    Cell,
    Row,
    Table,
    fit_size,
    text_width,
)
from investors.statement_data import DocumentHeader, Text

# The colours of rows and furniture as PDF operators, written straight into the content stream.
_GREY_OPERATOR = "0.349 0.349 0.349 rg"  # #595959
_SHADE_OPERATOR = "0.91 0.933 0.961 rg"
_RULE_OPERATOR = "0.549 0.549 0.549 RG"


@dataclass
class _Page:
    rows: list[tuple[float, Row]] = field(default_factory=list)


def _first_height(block: Block) -> float:  # float-ok: page geometry
    """Height of a block's first unbreakable part: a row, or a table's header and first row."""
    if isinstance(block, Table):
        return block.header.height + (block.rows[0].height if block.rows else 0.0)
    return block.height


def _keep_height(blocks: Sequence[Block], index: int) -> float:  # float-ok: page geometry
    """Height that must fit for block ``index`` to start here: itself and what it keeps."""
    block = blocks[index]
    height = _first_height(block)
    if isinstance(block, Row):
        height += sum(_first_height(b) for b in blocks[index + 1:index + 1 + block.keep])
    return height


def _paginate(blocks: Sequence[Block]) -> list[_Page]:
    """Place every row on a page, top to bottom, breaking where the next row does not fit."""
    pages, y = [_Page()], CONTENT_TOP

    def place(row: Row) -> None:
        nonlocal y
        pages[-1].rows.append((y, row))
        y -= row.height

    def new_page() -> None:
        nonlocal y
        pages.append(_Page())
        y = CONTENT_TOP

    for index, block in enumerate(blocks):
        if y - _keep_height(blocks, index) < CONTENT_BOTTOM and pages[-1].rows:
            new_page()
        if isinstance(block, Row):
            place(block)
            continue
        place(block.header)
        for row in block.rows:
            if y - row.height < CONTENT_BOTTOM:
                new_page()
                place(block.header)
            place(row)
    return pages


class _Pen:
    """Draws rows on a canvas.

    Text goes straight into the page's content stream as ``BT … Tj ET`` with the font's subset
    encoding, instead of through ``drawString``: one operator string per cell, figures printed
    with two decimals, the fill colour set only when it changes. That is most of what makes a
    full statement cost about as much as a bare page.
    """

    def __init__(self, canvas: Canvas, alphabet: str) -> None:
        self.canvas = canvas
        self.font = japanese_font()
        self.doc = canvas._doc  # reportlab's document: the key of the font's per-document state
        self.alphabet = alphabet
        self.seeded_name = self.font.getSubsetInternalName(0, self.doc)
        self.grey: bool | None = None

    def _colour(self, grey: bool) -> None:
        if grey is not self.grey:
            self.canvas.addLiteral(_GREY_OPERATOR if grey else "0 0 0 rg")
            self.grey = grey

    def text(self, cell: Cell, baseline: float) -> None:  # float-ok: page geometry
        if not cell.text:
            return
        self._colour(cell.grey)
        x = cell.x - text_width(cell.text, cell.size) if cell.align == "right" else cell.x
        text = printable(cell.text)
        seeded = _seeded_operand(self.alphabet, text)
        if seeded is not None:
            self.canvas.addLiteral(f"BT 1 0 0 1 {x:.2f} {baseline:.2f} Tm {self.seeded_name} "
                                   f"{cell.size:.2f} Tf {seeded} Tj ET")
            return
        operators = [f"BT 1 0 0 1 {x:.2f} {baseline:.2f} Tm"]
        for subset, codes in self.font.splitString(text, self.doc):
            name = self.font.getSubsetInternalName(subset, self.doc)
            operators.append(f"{name} {cell.size:.2f} Tf ({escapePDF(codes)}) Tj")
        operators.append("ET")
        self.canvas.addLiteral(" ".join(operators))

    def rule(self, y: float, width: float) -> None:  # float-ok: page geometry
        """A horizontal line across the text width."""
        self.canvas.addLiteral(f"{width:.2f} w {MARGIN:.2f} {y:.2f} m "
                               f"{MARGIN + CONTENT_WIDTH:.2f} {y:.2f} l S")

    def row(self, top: float, row: Row) -> None:  # float-ok: page geometry
        bottom = top - row.height
        if row.shade:
            self.canvas.addLiteral(f"{_SHADE_OPERATOR} {MARGIN:.2f} {bottom:.2f} "
                                   f"{CONTENT_WIDTH:.2f} {row.height:.2f} re f")
            self.grey = None
        if row.drawing is not None:
            renderPDF.draw(row.drawing, self.canvas, MARGIN, bottom + 3)
            self.grey = None
        baseline = bottom + row.height * 0.3
        for cell in row.cells:
            self.text(cell, baseline + cell.dy)
        if row.rule:
            self.rule(bottom, row.rule)


@dataclass(frozen=True)
class _Furniture:
    """What every page repeats: running title, timestamp, hash and verification hint."""

    running_title: str
    generated: str
    hash_line: str
    hint: str


def _furniture(header: DocumentHeader, title: str, lang: str) -> _Furniture:
    contract = header.contract_name.get(lang)
    return _Furniture(
        running_title=f"{title}　{contract}",
        generated=f"{label('generated_at', lang)}: {format_timestamp(header.generated_at, lang)}"
                  f"　{label('document_id', lang)}: {header.document_id}",
        hash_line=f"{label('ledger_state', lang)}: {header.ledger_state_hash}",
        hint=label("verify_hint", lang))


def _draw_furniture(pen: _Pen, furniture: _Furniture, page: int, pages: int) -> None:
    pen.canvas.addLiteral(_RULE_OPERATOR)
    pen.rule(PAGE_HEIGHT - 34, 0.4)
    pen.rule(50, 0.4)
    pen.text(Cell(MARGIN, furniture.running_title,
                  fit_size(furniture.running_title, 7.5, CONTENT_WIDTH), grey=True),
             PAGE_HEIGHT - 30)
    pen.text(Cell(MARGIN, furniture.generated,
                  fit_size(furniture.generated, 7, CONTENT_WIDTH - 50), grey=True), 40)
    pen.text(Cell(MARGIN + CONTENT_WIDTH, page_number(page, pages), 8, "right"), 40)
    pen.text(Cell(MARGIN, furniture.hash_line,
                  fit_size(furniture.hash_line, 6.5, CONTENT_WIDTH), grey=True), 30)
    pen.text(Cell(MARGIN, furniture.hint, 6.5, grey=True), 21)
    pen.canvas.addLiteral("0 0 0 RG")


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Write page streams Flate-compressed only, without the ASCII85 layer reportlab adds by
    default: it makes files larger and costs as much as the rest of a page. reportlab reads
    this setting when the document is saved, so it is set around the save and restored."""
    previous = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = previous


_FURNITURE_LABELS = ("generated_at", "document_id", "ledger_state", "verify_hint", "contract",
                     "fiscal_year", "period", "total", "amount")
_KPI_LABELS = ("kpi_results", "kpi", "payer", "target", "result", "achievement", "maximum",
               "earned", "evaluation_interim")
_LOAN_LABELS = ("loan_name", "loan_id", "lender", "borrower", "interest_rate",
                "default_interest_rate", "day_count", "none", "end_mark", "principal",
                "interest", "default_interest", "paid_on", "not_paid", "issued_on")
# The loan documents (investors.pdf_loan_documents).
LOAN_KIND_LABELS: dict[str, tuple[str, ...]] = {
    "loan_confirmation": _FURNITURE_LABELS + _LOAN_LABELS + (
        "loan_confirmation", "addressee", "confirmed_by", "confirmation_intro", "as_of",
        "as_of_end", "balances", "item", "principal_outstanding", "of_which_overdue_principal",
        "overdue_interest", "default_interest_owed", "interest_running", "commitment",
        "drawn", "undrawn", "next_due", "due_date", "principal_scheduled",
        "interest_scheduled", "scheduled_total", "arrears", "no_arrears", "days_late",
        "default_interest_paid", "default_interest_unpaid", "booked", "interest_payable_booked",
        "of_which_default_interest", "booked_note"),
    "interest_statement": _FURNITURE_LABELS + _LOAN_LABELS + (
        "interest_statement", "addressee", "confirmed_by", "as_of", "as_of_end", "item",
        "instalment", "due_date",
        "interest_period", "period_from", "period_to", "principal_balance", "days", "rate",
        "interest_exact", "rounding", "rounding_dropped", "interest_due", "interest_paid",
        "interest_unpaid", "payments", "interest_note", "trace", "default_interest_paid"),
    "repayment_notice": _FURNITURE_LABELS + _LOAN_LABELS + (
        "repayment_notice", "addressee", "notified_by", "notice_intro", "notice_on", "item",
        "repayment_date", "instalment", "component", "due_date", "this_instalment",
        "in_arrears", "total_due", "principal_after", "notice_note"),
}
# The labels each kind of document prints (a test keeps these lists complete): their
# characters are seeded into the document's first font subset.
KIND_LABELS: dict[str, tuple[str, ...]] = {
    "investor_statement": _FURNITURE_LABELS + (
        "investor_statement", "holder", "holder_id", "class", "tax_category", "tax_individual",
        "tax_corporate", "tax_tax_exempt", "units", "unit_price", "issuer", "capital_account",
        "opening", "contributions", "income", "distributions_gross", "write_downs", "closing",
        "distributions", "paid_on", "income_type", "income_tokumei_kumiai", "income_interest",
        "income_dividend", "income_none",
        "withheld", "net_paid", "no_distributions", "returns", "contributed_total", "as_of",
        "distributed_total", "moic", "residual_value", "irr", "tax_note",
        "recovered_from_guarantee"),
    "lender_statement": _FURNITURE_LABELS + _KPI_LABELS + (
        "lender_statement", "lender", "borrower", "loan", "commitment", "interest_rate",
        "opening_balance", "day_count", "drawn", "interest_accrued", "principal_repaid",
        "interest_paid", "written_down", "recovered_from_guarantee", "closing_balance",
        "draw_date", "schedule_vs_actual",
        "due_date", "principal_scheduled", "interest_scheduled", "principal_paid", "paid_on",
        "not_paid", "balance_chart", "overdue_amount", "default_interest_column",
        "instalment_status", "overdue_at_end", "default_interest_accrued",
        "status_paid_on_time", "status_paid_late", "status_prepaid", "status_overdue",
        "status_written_down", "status_recovered", "status_part_recovered", "status_not_due"),
    "payment_notice": _FURNITURE_LABELS + _KPI_LABELS + (
        "payment_notice", "payee", "amount_due", "due_on", "remit_to", "earned_lines", "trace",
        "earned_total", "consumption_tax", "grant_covered", "authorisation", "name",
        "authorisation_period", "limit", "paid_to_date", "this_notice", "paid_after",
        "remaining", "planned", "paid", "earned_total_included", "consumption_tax_included",
        "qualified_invoice", "invoice_request", "invoice_issuer", "registration_number",
        "not_registered", "issued_on", "subject", "outcome_payment", "by_tax_rate",
        "tax_included_mark", "bank", "branch", "account_number", "account_holder",
        "account_type_1", "account_type_2", "account_type_4", "account_type_9",
        "no_bank_account", "kpi_audit", "evaluator", "audited_by", "audited_on",
        "audited_results", "all_results"),
    "year_end_report": _FURNITURE_LABELS + _KPI_LABELS + (
        "year_end_report", "intermediary", "payers", "authorised", "paid", "outstanding",
        "grant_covered", "lenders", "lender", "opening_balance", "drawn", "principal_repaid",
        "written_down", "recovered_from_guarantee", "closing_balance", "interest_accrued",
        "interest_paid", "providers",
        "provider", "fixed_fees", "outcome_fees", "investor_classes", "class", "holders_count",
        "units", "opening", "contributions", "distributions_gross", "withheld", "write_downs",
        "closing", "kpi_chart", "trial_balance", "account_code", "account", "debit", "credit"),
    **LOAN_KIND_LABELS,
}


@lru_cache(maxsize=64)
def _alphabet(kind: str, lang: str, shared: tuple[str, ...] = ()) -> str:
    """The characters seeded into every document of ``kind`` in ``lang``: its labels, then
    ``shared`` texts that every document of a batch repeats (the contract's and the operator's
    names). See ``investors.fonts``."""
    return seed_alphabet(tuple(LABELS[key][lang] for key in KIND_LABELS[kind]) + shared)


def shared_texts(header: DocumentHeader, *names: Text) -> tuple[str, ...]:
    """Texts a whole batch of documents repeats, in both scripts (English documents show the
    Japanese legal name too)."""
    return tuple(t for name in (header.contract_name, *names) for t in (name.ja, name.en))


@lru_cache(maxsize=8192)
def _seeded_operand(alphabet: str, text: str) -> str | None:
    """``(…)`` operand of ``text`` in the seeded subset, or None if a character is not seeded.
    Labels, dates and most figures repeat across a batch, so their encoding is cached."""
    codes = japanese_font().seeded_codes(alphabet)
    try:
        return f"({escapePDF(bytes(codes[char] for char in text))})"
    except KeyError:
        return None


def render_blocks(blocks: Sequence[Block], header: DocumentHeader, kind: str, lang: str,
                  shared: tuple[str, ...]) -> bytes:
    """Lay ``blocks`` out on A4 pages and return the PDF bytes."""
    title = label(kind, lang)
    alphabet = _alphabet(kind, lang, shared)
    font = register_japanese_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, initialFontName=font, initialFontSize=9,
                    lang=lang, pageCompression=1)
    canvas.setTitle(f"{title} {header.document_id}")
    canvas.setSubject(header.contract_name.get(lang))
    canvas.setCreator("sib-settlement")
    japanese_font().seed(canvas._doc, alphabet)
    pages = _paginate(blocks)
    furniture = _furniture(header, title, lang)
    for number, page in enumerate(pages, start=1):
        pen = _Pen(canvas, alphabet)
        _draw_furniture(pen, furniture, number, len(pages))
        for top, row in page.rows:
            pen.row(top, row)
        canvas.showPage()
    with _binary_streams():
        canvas.save()
    return buffer.getvalue()


def page_count(blocks: Sequence[Block]) -> int:
    """How many pages ``blocks`` take (for batch progress and tests)."""
    return len(_paginate(blocks))

