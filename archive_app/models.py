"""Every room's models in one import: the mapper registry (and Alembic) need them all loaded."""
from archive_app.accounts.models import ApiToken, Department, LoginFailure, Role, User  # noqa: F401
from archive_app.audit.models import AuditEntry, AuditHead  # noqa: F401
from archive_app.borrowing.models import Handover, LoanApproval, LoanItem, LoanRequest, PaperLoan  # noqa: F401
from archive_app.corrections.models import ChangeRequest, CustomerChange, CustomerVerification  # noqa: F401
from archive_app.fixity.models import FixityResult, FixityRun  # noqa: F401
from archive_app.intake.models import AdmissionCheck, Customer, FilePage, Record, RecordFile  # noqa: F401
from archive_app.registers.models import RegisterImport  # noqa: F401
from archive_app.visits.models import CardVisit, FollowUp, GradeChange, VisitorCard  # noqa: F401
