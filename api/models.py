"""Every table of the project, imported in one place so Alembic sees one metadata."""

from api.job_tables import Job, JobTask  # noqa: F401,E402
from api.tables import ApiToken, AuditRecord, IdempotentResponse, User  # noqa: F401,E402
from contracts.tables import ContractVersion, TrancheCommitment  # noqa: F401,E402
from investors.tables import Holder, HolderPayment, Subscription  # noqa: F401,E402
from ledger.schema import (  # noqa: F401
                           Account,
                           AccountBalance,
                           Book,
                           Entry,
                           Period,
                           PeriodEvent,
                           PeriodSnapshot,
                           Posting,
)
from ledger.seals import RecordSeal  # noqa: F401
from settlement.tables import (  # noqa: F401
                           ChangeRequest,
                           KpiResult,
                           NoticeApproval,
                           PartyBankAccount,
                           ReceiptApplication,
                           SettlementLine,
                           SettlementRun,
                           TransferFilePayee,
)
