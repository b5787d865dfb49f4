"""原件交接单: the hand-out slip printed when a paper original leaves the archive room.

The company's rule is that every hand-out has complete paperwork (交接记录): the slip names the
original (档号, 题名, where it is shelved, how many pages), the request it goes out under, when it
is due back, and has a signature line for each party (交出人, the archivist; 接收人, the borrower)
plus a return section both sign when it comes back. Drawn with the embedded CJK font and made
PDF/A-2b-like (``printing``), dated when it is printed. The slip is printed on demand from the
paper loan's row (no stored copy: the row is the record; the signed paper is filed with the
original); each printing is written to the audit log.
"""
from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.borrowing.models import PaperLoan
from archive_app.errors import NotFound
from archive_app.i18n import _, _l, ngettext
from archive_app.printing import pdfa
from archive_app.printing.fonts import cjk_font

TITLE = _l("档案原件交接单")
RULES = (_l("借阅人须妥善保管原件，不得拆卷、涂改、圈划、抽换或复制；"),
         _l("原件不得带出公司，不得转借他人，须在应还时间前交回档案室；"),
         _l("归还时档案管理员当面清点页数、检查原件状况，并在本单签字。"))


def slip_no(loan: PaperLoan) -> str:
    """交接单号: JJ-<year handed out>-<paper loan id>."""
    return f"JJ-{loan.out_at.year}-{loan.id:06d}"


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "—"


def slip_pdf(loan: PaperLoan, *, code: str, title: str, tz: str, printed_at: datetime) -> bytes:
    """The slip of ``loan`` as a PDF; ``code``/``title`` are what the printing user may see of the record."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = cjk_font()
    zone = ZoneInfo(tz)
    base = ParagraphStyle("base", fontName=font, fontSize=10.5, leading=15, wordWrap="CJK")
    small = ParagraphStyle("small", parent=base, fontSize=9, leading=12)
    head = ParagraphStyle("head", parent=base, fontSize=12, leading=16, spaceBefore=4 * mm, spaceAfter=2 * mm)
    big = ParagraphStyle("title", parent=base, fontSize=18, leading=24, alignment=TA_CENTER, spaceAfter=2 * mm)

    def p(text: Any, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(escape(str(text if text not in (None, "") else "—")), style)

    req, record = loan.request, loan.record
    number = slip_no(loan)
    width = A4[0] - 36 * mm
    facts = [
        (_("交接单号"), number, _("借阅单号"), req.request_no),
        (_("档号"), code, "", ""),
        (_("题名"), title, "", ""),
        (_("档案类型"), record.record_type, _("交出页数"), ngettext("%(num)s 页", "%(num)s 页", loan.pages_out)),
        (_("原件位置"), record.shelf_location or "—", "", ""),
        (_("借出时间"), _local(loan.out_at, zone), _("应还时间"), _local(loan.due_at, zone)),
        (_("借阅用途"), req.purpose, "", ""),
        (_("交出人（档案管理员）"), loan.handed_out_by.display_name, _("接收人（借阅人）"), loan.received_by.display_name),
    ]
    grid = [("FONTNAME", (0, 0), (-1, -1), font), ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke)]
    rows = []
    for i, (k1, v1, k2, v2) in enumerate(facts):
        if k2:
            rows.append([p(k1, small), p(v1), p(k2, small), p(v2)])
            grid.append(("BACKGROUND", (2, i), (2, i), colors.whitesmoke))
        else:  # a long value spans the row
            rows.append([p(k1, small), p(v1), "", ""])
            grid.append(("SPAN", (1, i), (3, i)))
    col = [30 * mm, width / 2 - 30 * mm, 30 * mm, width / 2 - 30 * mm]
    table = Table(rows, colWidths=col)
    table.setStyle(TableStyle(grid))

    def sign_row(left: str, right: str) -> list[Paragraph]:
        return [p(_("%(left)s（签字）：________________", left=left)), p(f"{right}：________________")]

    signing = Table([sign_row(_("交出人 ") + loan.handed_out_by.display_name, _("日期")),
                     sign_row(_("接收人 ") + loan.received_by.display_name, _("日期"))],
                    colWidths=[width * 0.6, width * 0.4], rowHeights=13 * mm)
    signing.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]))
    back = Table([[p(_("归还时间：________________")), p(_("归还页数：________ 页"))],
                  [p(_("原件状况（缺页、损坏）：______________________________________")), ""],
                  [p(_("归还人（签字）：________________")), p(_("档案管理员（签字）：____________"))]],
                 colWidths=[width * 0.6, width * 0.4], rowHeights=13 * mm)
    back.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                              ("SPAN", (0, 1), (1, 1))]))
    story = [p(str(TITLE), big), p(f"No. {number}", ParagraphStyle("no", parent=small, alignment=TA_CENTER)),
             Spacer(1, 4 * mm), table, p(_("借阅须知"), head)]
    story += [p(f"{i}. {rule}", small) for i, rule in enumerate(RULES, 1)]
    story += [p(_("借出交接"), head), signing, p(_("归还交接"), head), back, Spacer(1, 6 * mm),
              p(_("打印时间：%(local)s\u3000本单一式两份，档案室与借阅人各执一份。", local=_local(printed_at, zone)), small)]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=f"{TITLE} {number}", invariant=1, initialFontName=font)
    doc.build(story)
    return pdfa.archival_bytes(buf.getvalue(), title=f"{TITLE} {number}", subject=req.request_no or "",
                               created=printed_at.astimezone(zone))


def print_slip(session: Session, user: User, loan_id: int, *, tz: str, now: datetime, ip: str = "") -> tuple[bytes, str]:
    """The slip of paper loan ``loan_id`` for ``user`` (who manages paper originals); audited.

    Returns the PDF and its slip number.
    """
    policy.require(user, "paper.manage")
    loan = session.get(PaperLoan, loan_id)
    if loan is None:
        raise NotFound(_("没有这条原件借出记录"), code="paper_loan_not_found")
    shown = policy.record_code(user, loan.record)
    title = loan.record.title if policy.can(user, "record.view", loan.record) else str(policy.HIDDEN_RECORD)
    pdf = slip_pdf(loan, code=shown, title=title, tz=tz, printed_at=now)
    number = slip_no(loan)
    audit.record_read(session, "paper.slip_print", actor=user, object_type="paper_loan", object_id=loan.id, ip=ip,
                      details={"slip_no": number, "request_no": loan.request.request_no,
                               "archival_code": loan.record.archival_code})
    session.flush()
    return pdf, number
