"""What of a customer's visits is personal data, blanked with the rest when destruction erases the customer."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from archive_app.visits.models import FollowUp, VisitorCard


def erase_visit_notes(session: Session, customer_id: int) -> None:
    """Blank the cards' notes (相貌特征、性格…) and the follow-ups' results (what the customer said).

    The choices, dates and grades stay: they are counts for reports, naming no one once the
    customer's name, phones and ID number are gone.
    """
    session.execute(update(VisitorCard).where(VisitorCard.customer_id == customer_id).values(notes="")
                    .execution_options(synchronize_session="fetch"))
    session.execute(update(FollowUp).where(FollowUp.customer_id == customer_id).values(result="")
                    .execution_options(synchronize_session="fetch"))
