"""The investor statement: a holder's units, capital account, distributions (gross, withheld,
net) and returns for the fiscal year — the high-volume document, one page each."""

from __future__ import annotations

from investors.formatting import format_multiple, format_period, format_rate, format_units
from investors.pdf_layout import (
    Block,
    Column,
    Table,
    fields,
    gap,
    heading,
    table,
    text_lines,
    title_rows,
)
from investors.pdf_pages import render_blocks, shared_texts
from investors.pdf_parts import DocumentFormat, contract_rows, document_format
from investors.statement_data import InvestorStatement


def _holder_fields(data: InvestorStatement, fmt: DocumentFormat) -> list[tuple[str, str]]:
    holder = data.holder
    name = holder.name.get(fmt.lang)
    if fmt.lang == "ja" and holder.name_kana:
        name = f"{name}（{holder.name_kana}）"
    elif fmt.lang == "en" and holder.name.ja != holder.name.en:
        name = f"{holder.name.en} ({holder.name.ja})"
    return [(fmt.label("holder"), name), (fmt.label("holder_id"), holder.holder_id),
            (fmt.label("class"), fmt.name(data.class_name)),
            (fmt.label("tax_category"), fmt.label(f"tax_{holder.tax_category}")),
            (fmt.label("units"), format_units(data.units, fmt.lang)),
            (fmt.label("unit_price"), fmt.amount(data.unit_price_minor)),
            (fmt.label("issuer"), fmt.name(data.issuer.name)),
            (fmt.label("period"), format_period(data.capital_account.start_on,
                                                data.capital_account.end_on, fmt.lang))]


def _capital_table(data: InvestorStatement, fmt: DocumentFormat) -> Table:
    account = data.capital_account
    rows = [[fmt.label("opening"), fmt.amount(account.opening_minor)],
            [fmt.label("contributions"), fmt.amount(account.contributions_minor)]]
    if account.income_minor:
        rows.append([fmt.label("income"), fmt.amount(account.income_minor)])
    rows.append([fmt.label("distributions_gross"), fmt.amount(-account.distributions_gross_minor)])
    if account.recoveries_minor:  # paid by a guarantor: received, shown apart from any loss
        rows.append([fmt.label("recovered_from_guarantee"),
                     fmt.amount(-account.recoveries_minor)])
    rows.append([fmt.label("write_downs"), fmt.amount(-account.write_downs_minor)])
    return table([Column(fmt.label("capital_account"), 3), Column(fmt.label("amount"), 1.4,
                                                                    "right")],
                 rows, [fmt.label("closing"), fmt.amount(account.closing_minor)], size=8.5)


def _distribution_table(data: InvestorStatement, fmt: DocumentFormat) -> Table:
    columns = [Column(fmt.label("paid_on"), 1.6), Column(fmt.label("income_type"), 2.2),
               Column(fmt.label("distributions_gross"), 1.3, "right"),
               Column(fmt.label("withheld"), 1.2, "right"),
               Column(fmt.label("net_paid"), 1.3, "right")]
    rows = [[fmt.day(d.paid_on), fmt.label(f"income_{d.income_type}"), fmt.amount(d.gross_minor),
             fmt.amount(d.withheld_minor), fmt.amount(d.net_minor)] for d in data.distributions]
    account = data.capital_account
    total = [fmt.label("total"), "", fmt.amount(account.distributions_gross_minor),
             fmt.amount(account.distributions_withheld_minor),
             fmt.amount(account.distributions_net_minor)]
    return table(columns, rows, total, size=8.0)


def _returns_fields(data: InvestorStatement, fmt: DocumentFormat) -> list[tuple[str, str]]:
    returns = data.returns
    return [(fmt.label("contributed_total"), fmt.amount(returns.contributed_minor)),
            (fmt.label("as_of"), fmt.day(returns.as_of)),
            (fmt.label("distributed_total"), fmt.amount(returns.distributed_minor)),
            (fmt.label("moic"), format_multiple(returns.moic, fmt.lang)),
            (fmt.label("residual_value"), fmt.amount(returns.residual_minor)),
            (fmt.label("irr"), format_rate(returns.irr, fmt.lang))]


def investor_statement_blocks(data: InvestorStatement, lang: str) -> list[Block]:
    """The investor statement's rows, in reading order."""
    fmt = document_format(data.header, lang)
    blocks: list[Block] = title_rows(fmt.label("investor_statement"),
                                     fmt.fiscal_year(data.header.fiscal_year))
    blocks += fields(_holder_fields(data, fmt)) + contract_rows(data.header, fmt)
    blocks += [gap(), _capital_table(data, fmt), gap(10),
               heading(fmt.label("distributions"))]
    if data.distributions:
        blocks.append(_distribution_table(data, fmt))
    else:
        blocks += text_lines([fmt.label("no_distributions")], 8, 0)
    blocks += [gap(10), heading(fmt.label("returns"))]
    blocks += fields(_returns_fields(data, fmt), label_width=130)
    blocks += [gap(6)] + text_lines([fmt.label("tax_note")], 7, 0)
    return blocks


def render_investor_statement(data: InvestorStatement, lang: str = "ja") -> bytes:
    """The investor statement as PDF bytes (the high-volume document: one page, plain canvas)."""
    return render_blocks(investor_statement_blocks(data, lang), data.header, data.kind, lang,
                         shared_texts(data.header, data.issuer.name, data.class_name))

