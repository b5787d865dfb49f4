"""Retention, legal holds, disposal review and destruction (services; time injected, never slept).

The disposal date is a pure function, tested by table; the rest runs on both stacks. The
destruction test proves that no byte of a destroyed record can be read back from storage, the
search index or the database (including SQLite's file and the index's segment files).
"""
from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archive_app.accounts.models import User
from archive_app.errors import DomainError
from archive_app.extensions import db
from archive_app.intake import customers
from archive_app.intake import records as records_svc
from archive_app.intake.models import AdmissionCheck, Customer, FilePage, Record, RecordFile
from archive_app.jobs import run_pending
from archive_app.retention import disposal, holds
from archive_app.retention import locks as object_lock
from archive_app.retention import schedule as retention
from archive_app.retention.models import DestructionEntry, DisposalItem, LegalHold
from archive_app.retention.schedule import CustomerEvents, HoldSpan, RecordFacts, Rule, disposal_for
from archive_app.wiring import archive_settings, get_index
from storage.base import ObjectLocked

from .helpers import login, new_customer, upload

TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
MARKER = "Zqxjmarker7781"


# ------------------------------------------------------------------------------- the pure function

CONTRACT = RecordFacts("购房合同", 2020)
DEAL = CustomerEvents(deal_closed_on=date(2020, 5, 1))


def test_period_counts_from_the_event_with_cut_off_at_year_end():
    d = disposal_for(CONTRACT, DEAL, Rule(30, "deal_closed", 3), [], TODAY)
    assert (d.date, d.state) == (date(2051, 1, 1), "scheduled")
    assert "成交日期 2020-05-01" in d.basis and "30年" in d.basis and "第3版" in d.basis
    # a deal on 31 December is due the same day as one on 1 January of that year
    late = disposal_for(CONTRACT, CustomerEvents(deal_closed_on=date(2020, 12, 31)), Rule(30, "deal_closed"), [], TODAY)
    assert late.date == date(2051, 1, 1)
    assert not d.due(TODAY) and d.due(date(2051, 1, 1))


def test_no_event_yet_means_no_date():
    d = disposal_for(CONTRACT, CustomerEvents(), Rule(30, "deal_closed"), [], TODAY)
    assert (d.date, d.state) == (None, "awaiting_event") and "成交日期" in d.basis


def test_permanent_rules_and_decisions():
    assert disposal_for(CONTRACT, DEAL, Rule(None, "deal_closed"), [], TODAY).state == "permanent"
    assert disposal_for(CONTRACT, DEAL, None, [], TODAY).state == "permanent"  # a type the schedule misses
    kept = RecordFacts("购房合同", 2020, keep_permanent=True)
    assert disposal_for(kept, DEAL, Rule(30, "deal_closed"), [], TODAY) .state == "permanent"


def test_review_can_keep_longer_but_never_shorter():
    longer = RecordFacts("购房合同", 2020, keep_until=date(2060, 1, 1))
    assert disposal_for(longer, DEAL, Rule(30, "deal_closed"), [], TODAY).date == date(2060, 1, 1)
    shorter = RecordFacts("购房合同", 2020, keep_until=date(2030, 1, 1))
    assert disposal_for(shorter, DEAL, Rule(30, "deal_closed"), [], TODAY).date == date(2051, 1, 1)


def test_a_hold_stops_the_clock():
    rule = Rule(3, "last_contact")
    card = RecordFacts("温馨卡", 2019)
    events = CustomerEvents(last_contact_on=date(2019, 3, 1))
    assert disposal_for(card, events, rule, [], TODAY).date == date(2023, 1, 1)
    held = disposal_for(card, events, rule, [HoldSpan(date(2022, 6, 1))], TODAY)
    assert (held.date, held.state) == (None, "held")
    # lifted after 61 days: those days are added
    lifted = disposal_for(card, events, rule, [HoldSpan(date(2022, 6, 1), date(2022, 8, 1))], TODAY)
    assert lifted.date == date(2023, 1, 1) + timedelta(days=61) and "61 天" in lifted.basis
    # a hold lifted before the clock started pauses nothing
    early = disposal_for(card, events, rule, [HoldSpan(date(2018, 1, 1), date(2018, 3, 1))], TODAY)
    assert early.date == date(2023, 1, 1)
    # a hold that ends in the future is still in force
    assert disposal_for(card, events, rule, [HoldSpan(date(2026, 1, 1), date(2027, 1, 1))], TODAY).state == "held"


def test_id_copies_follow_their_contract_and_visitors_follow_the_last_contact():
    rule = Rule(30, "follow_contract")
    id_copy = RecordFacts("身份证复印件", 2020)
    with_contract = CustomerEvents(last_contact_on=date(2019, 1, 1), contract_dates=(date(2051, 1, 1), date(2041, 1, 1)))
    assert disposal_for(id_copy, with_contract, rule, [], TODAY).date == date(2051, 1, 1)
    visitor = CustomerEvents(last_contact_on=date(2019, 1, 1))
    assert disposal_for(id_copy, visitor, rule, [], TODAY).date == date(2050, 1, 1)
    assert disposal_for(id_copy, CustomerEvents(), rule, [], TODAY).state == "awaiting_event"


def test_document_date_falls_back_to_the_records_year():
    letter = RecordFacts("往来函件", 2015)
    assert disposal_for(letter, CustomerEvents(), Rule(10, "doc_date"), [], TODAY).date == date(2026, 1, 1)
    dated = RecordFacts("往来函件", 2015, doc_date=date(2016, 2, 1))
    assert disposal_for(dated, CustomerEvents(), Rule(10, "doc_date"), [], TODAY).date == date(2027, 1, 1)


# ------------------------------------------------------------------------------- on the stacks


def text_pdf(text: str) -> bytes:
    """A one-page PDF whose text layer holds ``text`` (read without OCR)."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, text)
    c.save()
    return buf.getvalue()


def _users(users) -> dict[str, User]:
    return {name: db.session.get(User, uid) for name, uid in users.items()}


def _visitor_card(app, client, name="林小红", marker=MARKER, last_contact="2019-03-01") -> tuple[int, int]:
    """A customer who never bought, with one processed 温馨卡 record; returns (customer id, record id)."""
    login(client, "archivist")
    c = new_customer(client, name=name, last_contact_on=last_contact)
    resp = upload(client, c["id"], [(text_pdf(f"visitor card {marker}"), "card.pdf")], record_type="温馨卡")
    assert resp.status_code == 201, resp.json
    with app.app_context():
        run_pending()
        # only filed (checked) records come up for disposal
        records_svc.review_record(db.session, db.session.scalar(select(User).where(User.username == "reviewer")),
                                  resp.json["id"], now=datetime.now(UTC))
        db.session.commit()
    client.post("/logout")
    return c["id"], resp.json["id"]


def test_records_get_their_date_when_filed_and_when_events_change(app, client, users):
    cid, rid = _visitor_card(app, client, last_contact="")
    with app.app_context():
        r = db.session.get(Record, rid)
        assert (r.disposal_state, r.disposal_date) == ("awaiting_event", None)
        u = _users(users)
        store = app.extensions["blob_store"]
        key = r.files[0].object_key
        far = store.retention(key).until
        customers.update_customer(db.session, u["archivist"], cid, {"last_contact_on": "2019-03-01", "reason": "更正"}, now=datetime.now(UTC))
        db.session.refresh(r)
        assert (r.disposal_state, r.disposal_date) == ("scheduled", date(2023, 1, 1))
        assert "最后联系日期 2019-03-01" in r.disposal_basis
        # a later event moves the date beyond the lock: given the store, the lock follows at once
        customers.update_customer(db.session, u["archivist"], cid, {"last_contact_on": "2026-01-01", "reason": "更正"}, store=store, now=datetime.now(UTC))
        assert db.session.get(Record, rid).disposal_date == date(2030, 1, 1)
        assert far.year >= 2100 and store.retention(key).until == far  # already longer: kept, never shortened


def test_schedule_changes_are_versioned_audited_and_move_dates(app, client, users):
    _, rid = _visitor_card(app, client)
    with app.app_context():
        u = _users(users)
        first = retention.current_schedule(db.session)
        db.session.commit()
        with pytest.raises(DomainError) as exc:
            retention.update_schedule(db.session, u["archivist"], {"温馨卡": (5, "last_contact")}, note="x", now=NOW)
        assert exc.value.code == "forbidden"
        new = retention.update_schedule(db.session, u["admin"], {"温馨卡": (5, "last_contact")},
                                        note="公司制度调整", now=NOW)
        assert new.version == first.version + 1
        retention.recompute_all(db.session, TODAY)
        r = db.session.get(Record, rid)
        assert r.disposal_date == date(2025, 1, 1) and f"第{new.version}版" in r.disposal_basis
        # the old version is kept as it was
        assert retention.rules_of(first)["温馨卡"].years == 3
        with pytest.raises(DomainError) as exc:
            retention.update_schedule(db.session, u["admin"], {"温馨卡": (5, "last_contact")}, note="again", now=NOW)
        assert exc.value.code == "no_change"


def test_parse_rules_refuses_nonsense():
    assert retention.parse_rules({"温馨卡": {"years": "", "trigger": "last_contact"}}) == {"温馨卡": (None, "last_contact")}
    for bad, code in (({"不存在": {"years": "3", "trigger": "doc_date"}}, "invalid_record_type"),
                      ({"温馨卡": {"years": "-1", "trigger": "doc_date"}}, "invalid_years"),
                      ({"温馨卡": {"years": "三", "trigger": "doc_date"}}, "invalid_years"),
                      ({"温馨卡": {"years": "3", "trigger": "upload"}}, "invalid_trigger")):
        with pytest.raises(DomainError) as exc:
            retention.parse_rules(bad)
        assert exc.value.code == code


def _approved_batch(u, record_ids: list[int], due_by=TODAY):
    s = db.session
    batch = disposal.create_batch(s, u["archivist"], due_by, now=NOW)
    items = {i.record_id: i.id for i in batch.items}
    assert set(record_ids) <= set(items)
    disposal.decide(s, u["archivist"], batch.id, list(items.values()), "destroy", reason="保管期满，无保存价值", now=NOW)
    disposal.submit(s, u["archivist"], batch.id, now=NOW)
    disposal.approve(s, u["gm"], batch.id, now=NOW, note="同意销毁")
    disposal.sign_as_supervisor(s, u["auditor"], batch.id, now=NOW)
    disposal.sign_as_supervisor(s, u["head"], batch.id, now=NOW)
    s.commit()
    return batch


def _execute(app, u, batch, **kw):
    return disposal.execute(db.session, app.extensions["blob_store"], u["archivist"], batch.id, now=NOW,
                            index=get_index(), **kw)


def _index_bytes(app) -> bytes:
    """What the search index holds: the Whoosh folder's files, or on the PostgreSQL backend the
    search tables' rows (their dead versions are the database's, vacuumed as every table's)."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT array_to_string(keys, ' ') || array_to_string(fkeys, ' ') || skeys::text || runs "
                "|| name || title || content FROM search_records UNION ALL SELECT "
                "array_to_string(keys, ' ') || array_to_string(fkeys, ' ') || skeys::text || runs || name "
                "FROM search_customers").scalars()
            return "".join(rows).encode()
    path = Path(app.config["INDEX_DIR"])
    return b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())


def test_holds_keep_records_out_of_batches_and_away_from_storage_deletes(app, client, users):
    cid, rid = _visitor_card(app, client)
    store = app.extensions["blob_store"]
    with app.app_context():
        u = _users(users)
        s = db.session
        assert disposal.due_list(s, TODAY)[0] == 1
        with pytest.raises(DomainError) as exc:
            holds.place_hold(s, u["staff"], kind="litigation", reason="x", mandate="y", now=NOW, customer_id=cid)
        assert exc.value.code == "forbidden"
        hold = holds.place_hold(s, u["archivist"], kind="litigation", reason="购房合同纠纷诉讼",
                                mandate="(2026)粤0106民初1234号", now=NOW, customer_id=cid).hold
        r = s.get(Record, rid)
        assert (r.on_hold, r.disposal_state, r.disposal_date) == (True, "held", None)
        assert disposal.due_list(s, TODAY)[0] == 0
        with pytest.raises(DomainError) as exc:
            disposal.create_batch(s, u["archivist"], TODAY, now=NOW)
        assert exc.value.code == "nothing_due"
        # the storage itself refuses: the hold is mirrored onto the object
        object_lock.apply_locks(s, store, holds.hold_record_ids(s, hold), NOW)
        key = s.scalar(select(RecordFile.object_key).where(RecordFile.record_id == rid))
        assert store.retention(key).legal_hold
        with pytest.raises(ObjectLocked):
            store.destroy(key, bypass_governance=True)
        # a held record cannot be edited either (the record services ask this before any change)
        with pytest.raises(DomainError) as exc:
            holds.require_not_held(s, r, "修改")
        assert exc.value.code == "record_on_hold" and "冻结" in exc.value.message
        # lifting it (one year later) pauses the clock by the time held
        later = NOW + timedelta(days=365)
        holds.lift_hold(s, u["archivist"], hold.id, reason="案件已审结", now=later)
        s.refresh(r)
        assert r.on_hold is False and r.disposal_date == date(2023, 1, 1) + timedelta(days=365)
        assert "冻结期顺延 365 天" in r.disposal_basis
        object_lock.apply_locks(s, store, [rid], later)
        assert not store.retention(key).legal_hold
        lifted = s.get(LegalHold, hold.id)
        assert lifted.lifted_by_id == u["archivist"].id and lifted.lift_reason == "案件已审结"


def test_the_review_needs_every_step_in_order(app, client, users):
    _, rid = _visitor_card(app, client)
    with app.app_context():
        u = _users(users)
        s = db.session

        def refused(code, fn, *a, **kw):
            with pytest.raises(DomainError) as exc:
                fn(*a, **kw)
            assert exc.value.code == code, (exc.value.code, exc.value.message)

        refused("forbidden", disposal.create_batch, s, u["staff"], TODAY, now=NOW)
        batch = disposal.create_batch(s, u["archivist"], TODAY, now=NOW)
        assert batch.batch_no.startswith("XH-2026-") and [i.record_id for i in batch.items] == [rid]
        # a record in an open batch is not offered again
        refused("nothing_due", disposal.create_batch, s, u["archivist"], TODAY, now=NOW)
        item = batch.items[0].id
        refused("undecided_items", disposal.submit, s, u["archivist"], batch.id, now=NOW)
        refused("reason_required", disposal.decide, s, u["archivist"], batch.id, [item], "destroy", reason=" ", now=NOW)
        refused("invalid_years", disposal.decide, s, u["archivist"], batch.id, [item], "extend", reason="x", now=NOW)
        refused("illegal_transition", disposal.approve, s, u["gm"], batch.id, now=NOW)
        disposal.decide(s, u["auditor"], batch.id, [item], "destroy", reason="保管期满", now=NOW)
        disposal.submit(s, u["archivist"], batch.id, now=NOW)
        refused("forbidden", disposal.approve, s, u["head"], batch.id, now=NOW)
        disposal.send_back(s, u["gm"], batch.id, note="请补充鉴定理由", now=NOW)
        disposal.submit(s, u["archivist"], batch.id, now=NOW)
        disposal.approve(s, u["gm"], batch.id, now=NOW)
        refused("supervisors_required", _execute, app, u, batch)
        refused("forbidden", disposal.sign_as_supervisor, s, u["staff"], batch.id, now=NOW)
        disposal.sign_as_supervisor(s, u["auditor"], batch.id, now=NOW)
        refused("already_signed", disposal.sign_as_supervisor, s, u["auditor"], batch.id, now=NOW)
        refused("supervisors_required", _execute, app, u, batch)
        disposal.sign_as_supervisor(s, u["gm"], batch.id, now=NOW)
        refused("supervisors_complete", disposal.sign_as_supervisor, s, u["head"], batch.id, now=NOW)
        refused("forbidden", disposal.execute, s, app.extensions["blob_store"], u["staff"], batch.id, now=NOW,
                index=get_index())
        assert s.get(Record, rid).status == "filed"  # nothing happened on any refusal


def test_keep_decisions_take_effect_on_approval(app, client, users):
    _, r1 = _visitor_card(app, client, name="甲", marker="m1")
    _, r2 = _visitor_card(app, client, name="乙", marker="m2")
    with app.app_context():
        u = _users(users)
        s = db.session
        batch = disposal.create_batch(s, u["archivist"], TODAY, now=NOW)
        items = {i.record_id: i.id for i in batch.items}
        disposal.decide(s, u["archivist"], batch.id, [items[r1]], "extend", keep_years=5, reason="客户仍有来往", now=NOW)
        disposal.decide(s, u["archivist"], batch.id, [items[r2]], "permanent", reason="重要客户", now=NOW)
        disposal.submit(s, u["archivist"], batch.id, now=NOW)
        disposal.approve(s, u["gm"], batch.id, now=NOW)
        a, b = s.get(Record, r1), s.get(Record, r2)
        assert a.disposal_date == date(2031, 11, 25) and "延长保管至 2031-11-25" in a.disposal_basis
        assert (b.disposal_state, b.disposal_date, b.keep_permanent) == ("permanent", None, True)
        assert {i.state for i in s.get(type(batch), batch.id).items} == {"kept"}
        assert disposal.due_list(s, TODAY)[0] == 0


def test_destruction_leaves_no_byte_behind(app, client, users):
    cid, rid = _visitor_card(app, client, name="林小红")
    _, other = _visitor_card(app, client, name="陈大文", marker="Keepmarker5521", last_contact="2025-06-01")
    store = app.extensions["blob_store"]
    with app.app_context():
        u = _users(users)
        s = db.session
        rec = s.get(Record, rid)
        keys = [f.object_key for f in rec.files] + [k for f in rec.files for p in f.pages for k in (p.thumb_key, p.view_key) if k]
        checks_of = select(func.count()).select_from(AdmissionCheck).where(AdmissionCheck.record_id == rid)
        assert s.scalar(checks_of) == 4  # 四性检测 at intake: the check below can fail
        shas = sorted(f.sha256 for f in rec.files)
        assert len(keys) >= 3 and all(store.exists(k) for k in keys)
        assert get_index().search(_req(MARKER), _everyone()).total == 1
        index = get_index()
        assert MARKER.lower().encode() in _index_bytes(app)  # the check below can fail
        assert index.search_customers("林小红", _everyone()) == [cid]  # the customer's own document
        assert b"linxiaohong" in _index_bytes(app)  # its pinyin key, as a term of the segment files
        # storage refuses to delete an original before its disposal date (2029 for the other record)
        with pytest.raises(ObjectLocked):
            store.delete(s.get(Record, other).files[0].object_key)
        batch = _approved_batch(u, [rid])
        result = _execute(app, u, batch)
        assert result.destroyed == 1 and result.finished
        # storage: every object and version gone
        assert not any(store.exists(k) for k in keys)
        # index: no hit, and no byte of the text in the segment files
        assert index.search(_req(MARKER), _everyone()).total == 0
        assert MARKER.lower().encode() not in _index_bytes(app) and MARKER.encode() not in _index_bytes(app)
        # database: files and pages gone; the record row is a tombstone; the register line stays
        assert s.scalar(select(func.count()).select_from(RecordFile).where(RecordFile.record_id == rid)) == 0
        assert s.scalar(select(func.count()).select_from(FilePage).where(FilePage.text.contains(MARKER))) == 0
        assert s.scalar(checks_of) == 0  # its 四性检测 results describe the files' content
        tomb = s.get(Record, rid)
        assert tomb.status == "destroyed" and tomb.destroyed_at == NOW
        [entry] = disposal.register_entries(s, batch.id)
        assert (entry.archival_code, entry.record_type, entry.sha256s.split()) == (tomb.archival_code, "温馨卡", shas)
        assert entry.supervisors == "auditor、head" and entry.approved_by == "gm" and entry.executed_by == "archivist"
        assert "最后联系日期" in entry.retention_basis and entry.decision_reason == "保管期满，无保存价值"
        # the customer had no other record: its personal data is erased
        c = s.get(Customer, cid)
        assert (c.name, c.phones, c.id_number) == (disposal.ERASED_NAME, "", None)
        assert index.search_customers("林小红", _everyone()) == []
        assert b"linxiaohong" not in _index_bytes(app)
        # the other customer's record is untouched
        assert s.get(Record, other).status == "filed"
        assert index.search(_req("Keepmarker5521"), _everyone()).total == 1
        if app.config["STACK"] == "sqlite-fs":
            db_file = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
            raw = db_file.read_bytes() + (db_file.with_name(db_file.name + "-wal").read_bytes()
                                          if db_file.with_name(db_file.name + "-wal").exists() else b"")
            assert MARKER.encode() not in raw
        # running it again destroys nothing twice
        again = _execute(app, u, batch)
        assert again.destroyed == 0 and s.scalar(select(func.count()).select_from(DestructionEntry)) == 1
        # the department whose customer it was is told
        from archive_app.borrowing import loans
        from archive_app.inbox import notices

        told = [n.text for n in notices.inbox(s, u["head"], loans.LoanSettings(), NOW)]
        assert f"销毁批次 {batch.batch_no} 已销毁本部门客户档案 1 件" in told
        assert not [t for t in notices.inbox(s, u["staff_other"], loans.LoanSettings(), NOW) if "销毁" in t.text]
        # nothing left to lend

        with pytest.raises(DomainError) as exc:
            loans.create_request(s, u["staff"], kind="view", purpose="核对", settings=loans.LoanSettings(), now=NOW,
                                 record_ids=[rid])
        assert exc.value.code == "record_destroyed"
    # over HTTP the record answers as destroyed, its file is gone
    login(client, "archivist")
    page = client.get(f"/records/{rid}")
    assert page.status_code == 200 and "已销毁" in page.text


def _req(q: str):
    from search_index import SearchRequest

    return SearchRequest(text=q)


def _everyone():
    from search_index import Access

    return Access(max_secrecy=3, department_ids=None)


class _Crash(Exception):
    pass


class _FlakyStore:
    """The real store, but the process 'dies' (raises) after ``n`` destroys, or refuses like S3 would."""

    def __init__(self, store, crash_after: int | None = None, refuse: bool = False):
        self._store, self._left, self._refuse = store, crash_after, refuse

    def destroy(self, key, *, bypass_governance):
        if self._refuse:
            raise ObjectLocked(key, "refused by storage")
        if self._left is not None:
            if self._left == 0:
                raise _Crash(key)
            self._left -= 1
        return self._store.destroy(key, bypass_governance=bypass_governance)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_a_crashed_run_resumes_and_storage_refusal_marks_nothing(app, client, users):
    _, r1 = _visitor_card(app, client, name="甲", marker="m1")
    _, r2 = _visitor_card(app, client, name="乙", marker="m2")
    store = app.extensions["blob_store"]
    with app.app_context():
        u = _users(users)
        s = db.session
        keys = list(s.scalars(select(RecordFile.object_key).where(RecordFile.record_id.in_([r1, r2]))))
        batch = _approved_batch(u, [r1, r2])
        # storage refuses: the run fails loudly, nothing is marked destroyed
        with pytest.raises(DomainError) as exc:
            disposal.execute(s, _FlakyStore(store, refuse=True), u["archivist"], batch.id, now=NOW,
                             index=get_index())
        assert exc.value.code == "storage_refused"
        assert {r.status for r in s.scalars(select(Record).where(Record.id.in_([r1, r2])))} == {"filed"}
        assert s.scalar(select(func.count()).select_from(DestructionEntry)) == 0
        # the process dies after removing one object of the first record
        with pytest.raises(_Crash):
            disposal.execute(s, _FlakyStore(store, crash_after=1), u["archivist"], batch.id, now=NOW,
                             index=get_index())
        s.rollback()
        states = dict(s.execute(select(DisposalItem.record_id, DisposalItem.state)
                                .where(DisposalItem.batch_id == batch.id)).all())
        assert states == {r1: "destroying", r2: "pending"}
        assert s.get(Record, r1).status == "filed"
        # resumed: both end destroyed, consistent, each once
        result = _execute(app, u, batch)
        assert result.destroyed == 2 and result.finished
        assert s.scalar(select(func.count()).select_from(DestructionEntry)) == 2
        assert s.scalar(select(func.count()).select_from(RecordFile).where(RecordFile.record_id.in_([r1, r2]))) == 0
        assert keys and not any(store.exists(k) for k in keys)


def test_a_hold_placed_before_execution_wins(app, client, users):
    cid, rid = _visitor_card(app, client)
    with app.app_context():
        u = _users(users)
        s = db.session
        batch = _approved_batch(u, [rid])
        holds.place_hold(s, u["auditor"], kind="dispute", reason="客户投诉处理中", mandate="投诉单 TS-88", now=NOW,
                         customer_id=cid)
        result = _execute(app, u, batch)
        assert (result.destroyed, result.skipped) == (0, 1)
        item = s.scalar(select(DisposalItem).where(DisposalItem.batch_id == batch.id))
        assert item.state == "skipped" and "冻结" in item.error
        assert s.get(Record, rid).status == "filed" and s.get(Record, rid).files


def test_retention_sync_recomputes_and_relocks(app, client, runner, users):
    cid, rid = _visitor_card(app, client, last_contact="2025-06-01")
    store = app.extensions["blob_store"]
    with app.app_context():
        # an event written behind the services' back (an import, say) is picked up by the sync
        db.session.get(Customer, cid).last_contact_on = date(2026, 6, 1)
        db.session.commit()
        key = db.session.scalar(select(RecordFile.object_key).where(RecordFile.record_id == rid))
    result = runner.invoke(args=["retention-sync"])
    assert result.exit_code == 0, result.output
    assert "1 disposal date(s) moved" in result.output
    with app.app_context():
        assert db.session.get(Record, rid).disposal_date == date(2030, 1, 1)
        assert store.retention(key).until == datetime(2030, 1, 1, tzinfo=UTC)


def test_a_held_file_keeps_its_data_and_an_erased_customer_takes_nothing(app, client, users):
    """Customer data under a hold cannot change (409 naming the hold); once destruction has erased the
    customer, no edit, upload or hold reaches it (409 ``customer_erased``). Refused in the service."""
    cid, rid = _visitor_card(app, client, name="林小红")
    with app.app_context():
        u = _users(users)
        s = db.session
        hold = holds.place_hold(s, u["archivist"], kind="litigation", reason="购房合同纠纷诉讼",
                                mandate="(2026)沪0101民初1号", now=NOW, customer_id=cid).hold
        s.commit()
        hold_id = hold.id
        with pytest.raises(DomainError) as refused:
            customers.update_customer(s, u["archivist"], cid, {"name": "林大红", "department": "销售二部", "reason": "更正"}, now=NOW)
        assert refused.value.code == "customer_on_hold" and refused.value.status == 409
        assert "诉讼" in refused.value.message and "购房合同纠纷诉讼" in refused.value.message
        s.rollback()
        assert s.get(Customer, cid).name == "林小红"
    login(client, "archivist")
    resp = client.patch(f"/api/v1/customers/{cid}", json={"name": "林大红", "reason": "更正"})
    assert resp.status_code == 409 and resp.json["error"]["code"] == "customer_on_hold"
    client.post("/logout")
    with app.app_context():
        u = _users(users)
        s = db.session
        holds.lift_hold(s, u["archivist"], hold_id, reason="已结案", now=NOW)
        customers.update_customer(s, u["archivist"], cid, {"unit": "3-1502", "reason": "更正"}, now=NOW)  # free again
        s.commit()
        _execute(app, u, _approved_batch(u, [rid]))
        assert s.get(Customer, cid).erased

        def code_of(fn) -> str:
            with pytest.raises(DomainError) as exc:
                fn()
            s.rollback()
            return exc.value.code

        assert code_of(lambda: customers.update_customer(s, u["archivist"], cid, {"unit": "x", "reason": "更正"}, now=NOW)) \
            == "customer_erased"
        assert code_of(lambda: holds.place_hold(s, u["archivist"], kind="dispute", reason="x", mandate="y", now=NOW,
                                                customer_id=cid)) == "customer_erased"
        incoming = [records_svc.IncomingFile(filename="a.pdf", stream=io.BytesIO(text_pdf("late")))]
        assert code_of(lambda: records_svc.create_record(
            s, app.extensions["blob_store"], archive_settings(), u["archivist"], cid, {"record_type": "温馨卡"},
            incoming, now=NOW)) == "customer_erased"
