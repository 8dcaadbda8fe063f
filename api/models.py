"""Every table of the project, imported in one place so Alembic sees one metadata."""

from ledger.schema import (Account, AccountBalance, Book, Entry, Period, PeriodEvent,  # noqa: F401
                           PeriodSnapshot, Posting)
from api.tables import ApiToken, AuditRecord, IdempotentResponse, User  # noqa: F401,E402
from contracts.tables import ContractVersion, TrancheCommitment  # noqa: F401,E402
from settlement.tables import (KpiResult, PartyBankAccount, SettlementLine,  # noqa: F401,E402
                               SettlementRun)
from investors.tables import Holder, HolderPayment, Subscription  # noqa: F401,E402
