"""Donations made through the municipalities for the programme (寄附（自治体経由）): a
resident's ふるさと納税 or a company's 企業版ふるさと納税 received by a payer and designated
for the programme (issue 12, item 4).

A contract states the scheme and the municipalities that may receive them (instrument
``type: donation``); amounts are not known in advance, so each donation is recorded when it
arrives, with its donor and date. It is the municipality's revenue, designated as a funding
source of what the municipality pays under the contract — it does not pass to the vehicle, and
the vehicle's books do not change. In the payers' book: its treasury (``bank:<payer>``) is
debited and its designated donations (``donations:<payer>``, 寄附金収入（事業指定）) credited,
in the fiscal year of the day received, which is the budget year it is revenue of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from contracts.chart import Code, Kind, payers_book_code
from contracts.instruments import Donation
from contracts.model import Contract
from contracts.store import get_contract
from ledger import read
from ledger.entries import CREDIT, EntryDraft, credit, debit
from ledger.errors import NotFound, SibError
from ledger.inputs import check_text
from ledger.money import from_minor
from ledger.service import EntryRecord, post_entry

SCHEME_JA = {"kigyo_furusato": "企業版ふるさと納税", "furusato": "ふるさと納税",
             "other": "寄附"}
SCHEME_EN = {"kigyo_furusato": "corporate hometown tax donation",
             "furusato": "hometown tax donation", "other": "donation"}


def donation_terms(contract: Contract, donation_id: str) -> Donation:
    """The contract's donation instrument ``donation_id`` (``DONATION_NOT_FOUND``)."""
    for instrument in contract.instruments:
        if isinstance(instrument, Donation) and instrument.id == donation_id:
            return instrument
    names = [i.id for i in contract.instruments if isinstance(i, Donation)]
    raise NotFound(f"{contract.id} has no donation {donation_id!r}; its donations: "
                   f"{', '.join(names) or 'none (the contract names none)'}",
                   "DONATION_NOT_FOUND", "donation")


def record_donation(session: Session, contract_id: str, donation_id: str, payer: str,
                    amount_minor: int, on: date, reference: str, donor: str) -> EntryRecord:
    """A donation received by ``payer`` for the programme, once per (donation, payer,
    reference): the same again is the same entry; the same reference with other figures is
    refused (``IDEMPOTENCY_CONFLICT``)."""
    contract = get_contract(session, contract_id)
    terms = donation_terms(contract, donation_id)
    contract.require_payer(payer)
    if payer not in terms.via:
        raise SibError(f"{donation_id} is received by {', '.join(terms.via)}, not {payer}",
                       "DONATION_NOT_VIA", "payer")
    if amount_minor <= 0:
        raise SibError("a donation must be positive", "AMOUNT_NOT_POSITIVE", "amount")
    donor = check_text(donor, "donor")
    reference = check_text(reference, "reference")
    if not donor or not reference:
        raise SibError("name the donor and the receipt's reference (the 受領証 number)",
                       "DONATION_INCOMPLETE", "donor" if not donor else "reference")
    first_day = contract.fiscal_year_bounds(contract.first_fiscal_year)[0]
    last_day = contract.fiscal_year_bounds(contract.last_fiscal_year)[1]
    if not first_day <= on <= last_day:
        raise SibError(f"a donation for the programme is received within its term "
                       f"({first_day} to {last_day}), not on {on}", "DATE_OUTSIDE_TERM", "on")
    money = from_minor(amount_minor, contract.currency)
    year = contract.fiscal_year_of(on)
    return post_entry(session, EntryDraft(
        payers_book_code(contract.id),
        f"{contract.id}:donation:{donation_id}:{payer}:{reference}", Kind.DONATION, on,
        [debit(Code.bank(payer), money), credit(Code.donations(payer), money)],
        f"{SCHEME_JA[terms.scheme]}（事業指定） {payer} FY{year} — {donor} ({reference})",
        {"contract": contract.id, "donation": donation_id, "payer": payer, "donor": donor,
         "reference": reference, "fiscal_year": year, "scheme": terms.scheme}))


@dataclass(frozen=True)
class DonationsReceived:
    """What a payer has received in donations for the programme in one fiscal year."""

    payer: str
    fiscal_year: int
    amount_minor: int
    count: int


def donations_by_year(session: Session, contract: Contract) -> list[DonationsReceived]:
    """Donations received for the programme, by payer and fiscal year (from the ledger)."""
    totals: dict[tuple[str, int], list[int]] = {}
    book = payers_book_code(contract.id)
    for entry in read.entries(session, book, kinds=[Kind.DONATION]):
        key = (str(entry.links["payer"]), int(entry.links["fiscal_year"]))
        amount = entry.amount_on(Code.donations(key[0]), CREDIT)
        totals.setdefault(key, []).append(amount)
    return [DonationsReceived(payer, year, sum(amounts), len(amounts))
            for (payer, year), amounts in sorted(totals.items())]
