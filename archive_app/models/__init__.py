"""SQLAlchemy models, one module per domain. Importing this package registers them all."""
from .people import ApiToken, Department, Role, User  # noqa: F401
from .records import Customer, FilePage, Record, RecordFile  # noqa: F401
from .audit import AuditEntry, AuditHead  # noqa: F401
from .loans import Handover, LoanApproval, LoanItem, LoanRequest, PaperLoan  # noqa: F401
from .retention import (  # noqa: F401
    DestructionEntry,
    DisposalBatch,
    DisposalItem,
    DisposalSupervisor,
    LegalHold,
    RetentionRule,
    ScheduleVersion,
)
