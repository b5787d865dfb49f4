"""The destruction certificate (档案销毁证明书): a Chinese PDF that says what was destroyed, by whom, when.

Built once when a disposal batch has been executed: ``store_certificate`` (called by
``disposal.execute``) stores it in the blob store under ``certificates/<batch_no>.pdf`` with a far
retention date: it is kept permanently. Drawn in the embedded CJK font (``printing.fonts``: it prints
the same on any printer, and its text stays extractable) and made PDF/A-2b-like by
``printing.pdfa``; it is dated when the destruction finished (the caller's clock), and the same
inputs at the same moment give the same bytes.
"""
from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from archive_app.i18n import _, _l
from archive_app.printing import pdfa
from archive_app.printing.fonts import cjk_font
from archive_app.retention.locks import HORIZON_YEARS
from storage.base import BlobStore, RetentionViolation

TITLE = _l("档案销毁证明书")
SHA_PREFIX = 16


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    if value is None:
        return "—"
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _name(user: Any) -> str:
    return getattr(user, "display_name", None) or "—"


def _sha_cell(sha256s: str) -> str:
    hashes = [h for h in (sha256s or "").split() if h]
    if not hashes:
        return "—"
    cell = "<br/>".join(h[:SHA_PREFIX] + "…" for h in hashes[:3])
    if len(hashes) > 3:
        cell += _("<br/>等 %(count)s 个文件", count=len(hashes))
    return cell


def certificate_pdf(batch: Any, entries: Sequence[Any], supervisors: Sequence[Any], timezone: str, *,
                    finished_at: datetime | None = None) -> bytes:
    """The certificate of ``batch`` (a DisposalBatch) listing ``entries`` (its DestructionEntry rows).

    ``supervisors`` are the batch's DisposalSupervisor rows (``.user``, ``.signed_at``);
    ``finished_at`` stands in for ``batch.finished_at`` while the execution is being completed;
    the document is dated then.
    """
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = cjk_font()
    zone = ZoneInfo(timezone)
    base = ParagraphStyle("base", fontName=font, fontSize=10, leading=14, wordWrap="CJK")
    small = ParagraphStyle("small", parent=base, fontSize=8.5, leading=11)
    title = ParagraphStyle("title", parent=base, fontSize=20, leading=26, alignment=TA_CENTER, spaceAfter=4 * mm)
    head = ParagraphStyle("head", parent=base, fontSize=12, leading=16, spaceBefore=4 * mm, spaceAfter=2 * mm)

    def p(text: str, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(text, style)

    def t(text: Any) -> str:
        return escape(str(text if text not in (None, "") else "—"))

    finished = finished_at or batch.finished_at
    signed = "<br/>".join(_("%(t)s（确认于 %(local)s）", t=t(_name(s.user)), local=_local(s.signed_at, zone)) for s in supervisors) or "—"
    approved = (_("%(t)s（批准于 %(local)s）", t=t(_name(batch.approved_by)), local=_local(batch.approved_at, zone))
                if batch.approved_by is not None else "—")
    facts = [
        (_("销毁批次号"), t(batch.batch_no)),
        (_("鉴定截止日期"), t(batch.due_by.isoformat() if batch.due_by else "")),
        (_("发起鉴定"), f"{t(_name(batch.created_by))}（{_local(batch.created_at, zone)}）"),
        (_("总经理批准"), approved),
        (_("审批意见"), t(batch.decision_note)),
        (_("监销人"), signed),
        (_("执行人"), t(_name(batch.executed_by))),
        (_("开始时间"), _local(batch.started_at, zone)),
        (_("完成时间"), _local(finished, zone)),
        (_("销毁方式"), t(batch.method)),
    ]
    width = A4[0] - 36 * mm
    grid = TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                       ("VALIGN", (0, 0), (-1, -1), "TOP"), ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke)])
    facts_table = Table([[p(k), p(v)] for k, v in facts], colWidths=[32 * mm, width - 32 * mm])
    facts_table.setStyle(grid)

    rows: list[list[Any]] = [[p(_("序号"), small), p(_("档号"), small), p(_("题名"), small), p(_("页数"), small),
                              p(_("SHA-256（前16位）"), small)]]
    pages = files = size = 0
    for i, e in enumerate(entries, start=1):
        rows.append([p(str(i), small), p(t(e.archival_code), small), p(t(e.title), small),
                     p(str(e.page_count or 0), small), p(_sha_cell(e.sha256s), small)])
        pages += e.page_count or 0
        files += e.file_count or 0
        size += e.total_bytes or 0
    list_table = Table(rows, colWidths=[12 * mm, 58 * mm, width - 12 * mm - 58 * mm - 14 * mm - 40 * mm,
                                        14 * mm, 40 * mm], repeatRows=1)
    list_table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font),
                                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                    ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)]))

    story: list[Any] = [
        p(str(TITLE), title),
        facts_table,
        p(_("销毁档案清单"), head),
        list_table,
        Spacer(1, 3 * mm),
        p(_("合计：销毁档案 %(count)s 件，文件 %(files)s 个，共 %(pages)s 页，%(size)s 字节。", count=len(entries), files=files, pages=pages, size=size)),
        Spacer(1, 3 * mm),
        p(_("上列档案经鉴定小组鉴定、总经理批准，已在监销人监督下采用上述方式彻底销毁"
          "（原件全部存储版本、提取文本、缩略图、检索索引），详细记录见同批次销毁清册。"
          "本证明书永久保存。")),
        Spacer(1, 10 * mm),
    ]
    sign_rows = [[p(_("执行人（签字）：______________")), p(_("日期：______________"))]]
    for s in list(supervisors) or [None, None]:
        label = _("监销人 %(t)s（签字）：", t=t(_name(s.user))) if s is not None else _("监销人（签字）：")
        sign_rows.append([p(label + "______________"), p(_("日期：______________"))])
    sign_rows.append([p(_("总经理（签字）：______________")), p(_("日期：______________"))])
    signatures = Table(sign_rows, colWidths=[width * 0.6, width * 0.4], rowHeights=12 * mm)
    signatures.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]))
    story.append(signatures)

    batch_no = str(batch.batch_no or "")

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawString(18 * mm, 10 * mm, f"{TITLE} {batch_no}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, _("第 %(page)s 页", page=doc.page))
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=f"{TITLE} {batch_no}", author=_("客户档案管理系统"),
                            subject=batch_no, creator=_("客户档案管理系统"), invariant=1,
                            # Each page starts in the CJK font: reportlab's default Helvetica would be
                            # named in it and not embedded.
                            initialFontName=font)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    created = (finished or datetime.now(UTC)).astimezone(zone)
    return pdfa.archival_bytes(buf.getvalue(), title=f"{TITLE} {batch_no}", subject=batch_no, created=created)


def certificate_key(batch: Any) -> str:
    """Where the certificate of ``batch`` is stored."""
    return f"certificates/{batch.batch_no}.pdf"


def store_certificate(store: BlobStore, batch: Any, entries: Sequence[Any], supervisors: Sequence[Any], *,
                      now: datetime, tz: str) -> tuple[str, str]:
    """Build, store and lock the certificate of an executed ``batch``; returns (key, SHA-256).

    Write-once: if an earlier run stored it and stopped before recording it, that one is kept.
    It is locked as far ahead as records without a disposal date (it is kept permanently).
    """
    key = certificate_key(batch)
    if store.exists(key):
        with store.open(key) as fh:
            sha = hashlib.sha256(fh.read()).hexdigest()
    else:
        pdf = certificate_pdf(batch, entries, supervisors, tz, finished_at=now)
        sha = store.put(key, io.BytesIO(pdf), content_type="application/pdf").sha256
    if store.lock_supported():
        try:
            store.set_retention(key, datetime(now.year + HORIZON_YEARS, 1, 1, tzinfo=UTC))
        except RetentionViolation:
            pass  # already locked at least as long
    return key, sha
