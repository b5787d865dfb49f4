"""Visitor cards (温馨卡) and their visit dates, grade history, follow-ups (回访): only the rows.

The rules that write them live in ``cards.py``, ``grades.py`` and ``follow_ups.py``.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive_app.accounts.models import User
from archive_app.clock import utcnow
from archive_app.dbtypes import UTCDateTime, in_values
from archive_app.extensions import db
from archive_app.intake.models import Customer, Record
from archive_app.visits.choices import CARD_CHOICES, FOLLOW_UP_WAYS, GRADE_ORDER


def _choice(field: str) -> CheckConstraint:
    return CheckConstraint(f"{field} IS NULL OR " + in_values(field, CARD_CHOICES[field][1]), name=field)


class VisitorCard(db.Model):
    """One paper 温馨卡 as data; a customer gets a new card when they come back after a long time."""

    __tablename__ = "visitor_cards"
    __table_args__ = (
        *(_choice(f) for f in CARD_CHOICES),
        CheckConstraint("grade IS NULL OR " + in_values("grade", GRADE_ORDER), name="grade"),
        # A counted visit's card (踩盘, consultant, customer) without reading the card's row.
        Index("ix_visitor_cards_report", "id", "scouting", "consultant_id", "customer_id"),
        # The few 踩盘 cards, whose visits the company's weekly counts subtract from all visits.
        Index("ix_visitor_cards_scouting", "scouting", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # The record (a 温馨卡 in part 1) holding the card's scan, when it was filed.
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"), nullable=True, index=True)
    unit_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    age_band: Mapped[str | None] = mapped_column(String(16), nullable=True)
    housing: Mapped[str | None] = mapped_column(String(16), nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(16), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    area_band: Mapped[str | None] = mapped_column(String(16), nullable=True)
    price_band: Mapped[str | None] = mapped_column(String(16), nullable=True)
    income_band: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # 接待置业顾问: who received the visitor (an account that may serve customers).
    consultant_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    grade: Mapped[str | None] = mapped_column(String(1), nullable=True)
    # 踩盘: a competitor who only came to look; told to the 现场主管 and kept apart in counts.
    scouting: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    customer: Mapped[Customer] = relationship()
    record: Mapped[Record | None] = relationship()
    consultant: Mapped[User | None] = relationship(foreign_keys=[consultant_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    visits: Mapped[list["CardVisit"]] = relationship(back_populates="card", order_by="CardVisit.visit_no",
                                                     cascade="all, delete-orphan")

    @property
    def first_visit_on(self) -> date | None:
        """The card's first visit date (一次到访)."""
        return self.visits[0].visited_on if self.visits else None


class CardVisit(db.Model):
    """One visit date on a card: the first, second, third and more (一次、二次、三次及以后到访)."""

    __tablename__ = "visitor_card_visits"
    __table_args__ = (UniqueConstraint("card_id", "visit_no"), CheckConstraint("visit_no >= 1", name="visit_no"),
                      # Visits per day (reports.sales): the period's visits from the index alone, then their cards.
                      Index("ix_visitor_card_visits_day", "visited_on", "card_id", "visit_no"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("visitor_cards.id"), index=True)
    visit_no: Mapped[int] = mapped_column(Integer)
    visited_on: Mapped[date] = mapped_column(Date)

    card: Mapped[VisitorCard] = relationship(back_populates="visits")


class GradeChange(db.Model):
    """One change of a customer's grade: from, to, when, who and why. ``customers.grade`` is the latest ``to``."""

    __tablename__ = "grade_changes"
    __table_args__ = (
        CheckConstraint("from_grade IS NULL OR " + in_values("from_grade", GRADE_ORDER), name="from_grade"),
        CheckConstraint(in_values("to_grade", GRADE_ORDER), name="to_grade"),
        Index("ix_grade_changes_customer", "customer_id", "changed_at"),
        # The weekly grade report's moves per week and grade, read from the index alone.
        Index("ix_grade_changes_week", "changed_on", "to_grade", "from_grade"),
        # The same for a department (the customer's, carried on the change), one range of the index.
        Index("ix_grade_changes_department_day", "department_id", "changed_on", "from_grade", "to_grade"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # The customer's department, carried here so that a department's grade report reads one range of
    # its own index instead of reaching the department through every change's customer. Kept in step
    # by intake.record_departments (a new change; a customer moved to another department).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True)
    from_grade: Mapped[str | None] = mapped_column(String(1), nullable=True)
    to_grade: Mapped[str] = mapped_column(String(1))
    # The day the change counts for (the card's visit day, or the day it was told), and when it was written.
    changed_on: Mapped[date] = mapped_column(Date, index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    # The card that set it, when a card did.
    card_id: Mapped[int | None] = mapped_column(ForeignKey("visitor_cards.id"), nullable=True)

    changed_by: Mapped[User] = relationship()

    @property
    def downgrade(self) -> bool:
        """A move to a lower grade (退化), e.g. A→B."""
        return self.from_grade is not None and GRADE_ORDER[self.to_grade] > GRADE_ORDER[self.from_grade]


class FollowUp(db.Model):
    """A follow-up (回访): due on a day for a consultant, then made (date, way, result).

    Open while ``done_on`` is empty; a follow-up recorded with no open one due is written done.
    """

    __tablename__ = "follow_ups"
    __table_args__ = (
        CheckConstraint("way IS NULL OR " + in_values("way", FOLLOW_UP_WAYS), name="way"),
        # The inbox's question: a consultant's open follow-ups due by a day.
        Index("ix_follow_ups_open", "assignee_id", "done_on", "due_on"),
        # The reports' follow-ups due and made per week, and the overdue count of a whole department.
        Index("ix_follow_ups_due", "due_on", "done_on"),
        # Made per day and open per consultant; with the customer, a department's count needs no row.
        Index("ix_follow_ups_done_report", "done_on", "due_on", "assignee_id", "customer_id"),
        # A department's follow-ups (by the department carried on each) due and made, from the index alone,
        # reading only the department's range: by day due (and open, overdue), by day made.
        Index("ix_follow_ups_department_due", "department_id", "due_on", "done_on", "assignee_id"),
        Index("ix_follow_ups_department_done", "department_id", "done_on", "due_on", "assignee_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # The customer's department, carried for the department's report counts (as on grade changes).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True)
    # Whose follow-up it is (the card's consultant, else the customer's).
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    done_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    way: Mapped[str | None] = mapped_column(String(16), nullable=True)
    result: Mapped[str] = mapped_column(Text, default="")
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    # The card whose first visit set the first follow-up.
    card_id: Mapped[int | None] = mapped_column(ForeignKey("visitor_cards.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    customer: Mapped[Customer] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])
