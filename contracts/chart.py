"""The chart of accounts a contract opens in the ledger, derived from its terms.

Two books per contract: the SPV's (code = contract id), where the intermediary's money lives,
and the payers' (``<id>:payers``), where each municipality's cost, grant and payments are kept
as its finance office records them. Every party-specific account carries a party reference
(``payer:ube``, ``lender:yamaguchi-bank``…) so that each user sees only its own.

Payee routing (issue 12, item 4). A tranche is paid to the SPV unless it names another party
as payee (a service provider the municipality pays directly on outcomes, as in seed 000). An
amount earned on such a tranche is the provider's, not the SPV's: it is never the SPV's
receivable or income, and the SPV book holds no commitment for it. It is kept in the payers'
book, where the municipality owes it: its cost ``outcome-cost:<payer>`` (the same account as
its cost of the SPV's tranches, so budgets and the grant count its whole cost) against a
payable to that provider, ``payable:<payer>:<provider>`` (未払金, one account per payer and
provider, apart from ``payable:<payer>``, which is what it owes the SPV). The provider's
receivable is that payable seen from the provider's side (``settlement.payer_ledger``).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from contracts.instruments import Donation
from contracts.model import Contract, Tranche
from ledger.accounts import AccountSpec


class Kind(StrEnum):
    """Why an entry exists: every kind the settlement, money and investor services post.

    Defined once here and compared as strings (a ``StrEnum``), so a kind is never typed twice.
    """

    TRANCHE_COMMITMENT = "tranche_commitment"
    OUTCOME_EARNED = "outcome_earned"
    OUTCOME_NOT_EARNED = "outcome_not_earned"
    OUTCOME_TAX = "outcome_tax"
    OUTCOME_COST = "outcome_cost"
    GRANT_RECOGNISED = "grant_recognised"
    LOAN_DRAWDOWN = "loan_drawdown"
    GRANT_RECEIPT = "grant_receipt"
    OUTCOME_PAYMENT = "outcome_payment"
    OUTCOME_RECEIPT = "outcome_receipt"
    SERVICE_FEE = "service_fee"
    INTEREST_ACCRUAL = "interest_accrual"
    PROVIDER_FEE = "provider_fee"
    INTEREST_PAYMENT = "interest_payment"
    PRINCIPAL_REPAYMENT = "principal_repayment"
    # Debt service on due dates (settlement.debt_service): 遅延損害金 accrued on an overdue
    # amount and paid, and the fee on a prepayment (期限前弁済手数料).
    DEFAULT_INTEREST_ACCRUAL = "default_interest_accrual"
    DEFAULT_INTEREST_PAYMENT = "default_interest_payment"
    PREPAYMENT_FEE = "prepayment_fee"
    INVESTOR_DISTRIBUTION = "investor_distribution"
    CAPITAL_RETURN = "capital_return"
    GUARANTEE_DRAW = "guarantee_draw"
    WRITE_DOWN = "write_down"
    UNIT_SUBSCRIPTION = "unit_subscription"
    HOLDER_PAYMENT = "holder_payment"
    CONTRIBUTION = "contribution"
    # Payers' book: a donation made to a municipality for the programme (寄附（自治体経由）).
    DONATION = "donation"
    TAX_REMITTANCE = "tax_remittance"  # withholding paid over to the tax office (翌月10日)
    # Payers' book: an outcome earned on a tranche paid to a provider (cost / payable to it),
    # and the consumption tax added on top of that provider's invoice (once per invoice).
    PROVIDER_OUTCOME_OWED = "provider_outcome_owed"
    PROVIDER_OUTCOME_TAX = "provider_outcome_tax"
    # The final distribution's surplus returned to a payer (contract term ``residual``).
    RESIDUAL_REFUND = "residual_refund"


class Code:
    """Account codes of the two books, built in one place (``Code.loan("loan-kyoto")`` is
    ``loan:loan-kyoto``). Parents and single accounts are constants; per-party accounts are
    functions of the party or instrument id."""

    CASH = "cash"
    RECEIVABLE = "receivable"
    OUTCOME_INCOME = "outcome-income"
    WRITE_DOWN_GAIN = "write-down-gain"
    WITHHOLDING_PAYABLE = "withholding-payable"
    TAX_PAYABLE = "tax-payable"
    CONTRIBUTION_INCOME = "contribution-income"

    @staticmethod
    def receivable(payer: str) -> str:
        return f"receivable:{payer}"

    @staticmethod
    def outcome_income(payer: str) -> str:
        return f"outcome-income:{payer}"

    @staticmethod
    def loan(loan_id: str) -> str:
        return f"loan:{loan_id}"

    @staticmethod
    def interest_expense(loan_id: str) -> str:
        return f"interest-expense:{loan_id}"

    @staticmethod
    def interest_payable(loan_id: str) -> str:
        return f"interest-payable:{loan_id}"

    @staticmethod
    def fees(provider: str) -> str:
        return f"fees:{provider}"

    @staticmethod
    def units(class_id: str) -> str:
        return f"units:{class_id}"

    @staticmethod
    def distributions(class_id: str) -> str:
        return f"distributions:{class_id}"

    @staticmethod
    def distributions_payable(class_id: str) -> str:
        return f"distributions-payable:{class_id}"

    @staticmethod
    def guarantor_claim(guarantee_id: str) -> str:
        return f"guarantor-claim:{guarantee_id}"

    # The payers' book.
    @staticmethod
    def outcome_cost(payer: str) -> str:
        return f"outcome-cost:{payer}"

    @staticmethod
    def donations(payer: str) -> str:
        return f"donations:{payer}"

    @staticmethod
    def payable(party: str) -> str:
        return f"payable:{party}"

    @staticmethod
    def payable_to(payer: str, provider: str) -> str:
        """What ``payer`` owes ``provider`` for outcomes paid to it directly (the provider's
        receivable)."""
        return f"payable:{payer}:{provider}"

    @staticmethod
    def grant_receivable(payer: str) -> str:
        return f"grant-receivable:{payer}"

    @staticmethod
    def fixed_fees(payer: str) -> str:
        return f"fixed-fees:{payer}"

    @staticmethod
    def grant_income(payer: str) -> str:
        return f"grant-income:{payer}"

    @staticmethod
    def bank(payer: str) -> str:
        return f"bank:{payer}"


def provider_payee(contract: Contract, tranche: Tranche) -> str | None:
    """The provider a tranche's earned amount is owed to; None when it is the SPV's (no payee,
    or the intermediary named as payee)."""
    if tranche.payee is None:
        return None
    intermediaries = {p.id for p in contract.parties_with_role("intermediary")}
    return None if tranche.payee in intermediaries else tranche.payee


def provider_payees(contract: Contract) -> list[tuple[str, str]]:
    """(payer, provider) pairs some tranche routes to a provider, in the contract's order."""
    pairs: dict[tuple[str, str], None] = {}
    for tranche in contract.tranches:
        provider = provider_payee(contract, tranche)
        if provider is not None:
            for payer in tranche.payers or contract.payer_ids:
                pairs[(payer, provider)] = None
    return list(pairs)


def notice_payees(contract: Contract, payer: str) -> list[str | None]:
    """Who sends ``payer`` a payment notice each year: the SPV (None) for the tranches it is
    paid, and each provider some tranche routes the payer's payment to — one notice per
    (payer, payee)."""
    mine = [t for t in contract.tranches if not t.payers or payer in t.payers]
    spv: list[str | None] = [None] if not mine or any(
        provider_payee(contract, t) is None for t in mine) else []
    return spv + [prov for pay, prov in provider_payees(contract) if pay == payer]


def payers_book_code(contract_id: str) -> str:
    """Code of the payers' book of a contract."""
    return f"{contract_id}:payers"


def opened_on(contract: Contract) -> date:
    """Accounts open on the first day of the contract's first fiscal year."""
    return contract.fiscal_year_bounds(contract.first_fiscal_year)[0]


def _party_names(contract: Contract) -> dict[str, tuple[str, str]]:
    return {p.id: (p.name_ja or p.name_en or p.id, p.name_en or p.name_ja or p.id)
            for p in contract.parties}


def spv_accounts(contract: Contract) -> list[AccountSpec]:
    """The SPV book: cash, per payer receivable and outcome income, per loan principal and
    interest, per provider fees and payables, per investor class capital and distributions."""
    day, names = opened_on(contract), _party_names(contract)
    specs = [
        AccountSpec("cash", "asset", "現金預金", "Cash at bank", opened_on=day,
                    credits_must_not_exceed_debits=True),
        AccountSpec("receivable", "asset", "未収金", "Receivables", opened_on=day),
        AccountSpec("outcome-income", "income", "成果連動支払収入", "Outcome payment income",
                    opened_on=day),
        AccountSpec("grant-income", "income", "補助金・交付金収入", "Grant income", opened_on=day),
        AccountSpec("contribution-income", "income", "寄附金収入", "Contributions",
                    opened_on=day),
        AccountSpec("write-down-gain", "income", "債務減免益", "Principal written down",
                    opened_on=day),
        AccountSpec("withholding-payable", "liability", "預り金（源泉所得税）",
                    "Withholding tax payable", opened_on=day),
        AccountSpec("tax-payable", "liability", "仮受消費税", "Consumption tax received",
                    opened_on=day),
    ]
    for payer in contract.payers:
        ja, en = names.get(payer.party, (payer.party, payer.party))
        ref = f"payer:{payer.party}"
        specs += [AccountSpec(f"receivable:{payer.party}", "asset", f"未収金 {ja}",
                              f"Receivable — {en}", parent="receivable", opened_on=day,
                              party_ref=ref),
                  AccountSpec(f"outcome-income:{payer.party}", "income", f"成果連動支払収入 {ja}",
                              f"Outcome income — {en}", parent="outcome-income", opened_on=day,
                              party_ref=ref)]
    for loan in contract.loans:
        ja, en = names.get(loan.lender, (loan.lender, loan.lender))
        ref = f"lender:{loan.lender}"
        specs += [AccountSpec(f"loan:{loan.id}", "liability", f"借入金 {ja}", f"Loan — {en}",
                              opened_on=day, party_ref=ref),
                  AccountSpec(f"interest-expense:{loan.id}", "expense", f"支払利息 {ja}",
                              f"Interest — {en}", opened_on=day, party_ref=ref),
                  AccountSpec(f"interest-payable:{loan.id}", "liability", f"未払利息 {ja}",
                              f"Interest payable — {en}", opened_on=day, party_ref=ref)]
    for provider in contract.providers:
        ja, en = names.get(provider.party, (provider.party, provider.party))
        ref = f"provider:{provider.party}"
        specs += [AccountSpec(f"fees:{provider.party}", "expense", f"業務委託費 {ja}",
                              f"Service fees — {en}", opened_on=day, party_ref=ref),
                  AccountSpec(f"payable:{provider.party}", "liability", f"未払金 {ja}",
                              f"Payable — {en}", opened_on=day, party_ref=ref)]
    for unit_class in contract.unit_classes:
        ja, en = unit_class.name_ja or unit_class.id, unit_class.name_en or unit_class.id
        # 匿名組合 (TK) units as the operator (営業者) books them under Japanese GAAP: the
        # investors' contributions are a liability (預り匿名組合出資金), their share of the
        # profit an expense (匿名組合損益分配額) — not equity.
        specs += [AccountSpec(f"units:{unit_class.id}", "liability", f"預り匿名組合出資金 {ja}",
                              f"Silent-partnership contributions — {en}", opened_on=day),
                  AccountSpec(f"distributions:{unit_class.id}", "expense",
                              f"匿名組合損益分配額 {ja}",
                              f"Silent-partnership profit distributions — {en}",
                              opened_on=day),
                  AccountSpec(f"distributions-payable:{unit_class.id}", "liability",
                              f"未払分配金 {ja}", f"Distributions payable — {en}",
                              opened_on=day)]
    for guarantee in contract.guarantees:
        ja, en = names.get(guarantee.guarantor, (guarantee.guarantor, guarantee.guarantor))
        specs.append(AccountSpec(f"guarantor-claim:{guarantee.id}", "liability",
                                 f"保証履行求償債務 {ja}", f"Owed to guarantor — {en}",
                                 opened_on=day, party_ref=f"guarantor:{guarantee.guarantor}"))
    return specs


def payer_accounts(contract: Contract) -> list[AccountSpec]:
    """The payers' book: per payer, the outcome cost, what it owes the SPV, its grant, its
    bank account (payments out)."""
    day, names = opened_on(contract), _party_names(contract)
    specs = []
    for payer in contract.payers:
        ja, en = names.get(payer.party, (payer.party, payer.party))
        ref, p = f"payer:{payer.party}", payer.party
        specs += [AccountSpec(f"outcome-cost:{p}", "expense", f"成果連動委託料 {ja}",
                              f"Outcome payments — {en}", opened_on=day, party_ref=ref),
                  AccountSpec(f"fixed-fees:{p}", "expense", f"委託料（固定） {ja}",
                              f"Fixed fees — {en}", opened_on=day, party_ref=ref),
                  AccountSpec(f"payable:{p}", "liability", f"未払金 {ja}", f"Payable — {en}",
                              opened_on=day, party_ref=ref),
                  AccountSpec(f"grant-receivable:{p}", "asset", f"交付金未収 {ja}",
                              f"Grant receivable — {en}", opened_on=day, party_ref=ref),
                  AccountSpec(f"grant-income:{p}", "income", f"交付金収入 {ja}",
                              f"Grant income — {en}", opened_on=day, party_ref=ref),
                  AccountSpec(f"bank:{p}", "asset", f"歳計現金 {ja}", f"Treasury — {en}",
                              opened_on=day, party_ref=ref)]
    donated = {p for i in contract.instruments if isinstance(i, Donation) for p in i.via}
    for payer in contract.payers:
        if payer.party in donated:
            ja, en = names.get(payer.party, (payer.party, payer.party))
            specs.append(AccountSpec(Code.donations(payer.party), "income",
                                     f"寄附金収入（事業指定） {ja}",
                                     f"Donations for the programme — {en}", opened_on=day,
                                     party_ref=f"payer:{payer.party}"))
    for payer_id, provider in provider_payees(contract):
        ja, en = names.get(payer_id, (payer_id, payer_id))
        pja, pen = names.get(provider, (provider, provider))
        specs.append(AccountSpec(Code.payable_to(payer_id, provider), "liability",
                                 f"未払金 {ja}→{pja}", f"Payable — {en} to {pen}",
                                 opened_on=day, party_ref=f"payer:{payer_id}"))
    return specs
