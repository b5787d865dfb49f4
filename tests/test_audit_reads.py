"""Every read is in the audit log with the reader's name; refusals too, bounded per user; the log speaks Chinese."""
from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from archive_app.audit import denials
from archive_app.audit.models import AuditEntry
from archive_app.borrowing.loans import TRANSITIONS
from archive_app.extensions import db
from archive_app.jobs import run_pending
from archive_app.vocabulary import AUDIT_ACTION_LABELS

from .factories import make_customer, make_record, user
from .generated import pdfs
from .helpers import login

ROOT = Path(__file__).resolve().parents[1]
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_number(first17: str) -> str:
    """A 居民身份证号码 with its correct check digit."""
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def _last_seq(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(AuditEntry.seq))) or 0


def _since(app, seq: int, action: str | None = None) -> list[AuditEntry]:
    with app.app_context():
        stmt = select(AuditEntry).where(AuditEntry.seq > seq).order_by(AuditEntry.seq)
        if action:
            stmt = stmt.where(AuditEntry.action.in_(action.split("|")))
        return list(db.session.scalars(stmt))


def _filed_record(app, *, pages: int = 1, title: str = "认购书 王小明", **customer):
    """A filed record of a 销售一部 customer, its text read; returns (record id, file id, customer id)."""
    with app.app_context():
        c = make_customer(**customer)
        r = make_record(c, title=title, files=[(pdfs.text_pdf(pages=pages, marker=title), "认购书.pdf")])
        ids = r.id, r.files[0].id, c.id
        assert run_pending() >= 1
    return ids


# ------------------------------------------------------------------------------------------------ reads


def test_page_text_images_and_thumbnails_are_audited_with_the_reader(app, client, users):
    rid, fid, _ = _filed_record(app, pages=3)
    login(client, "archivist")
    seq = _last_seq(app)
    viewer = client.get(f"/records/{rid}/files/{fid}/pages/2")
    assert viewer.status_code == 200 and "识别文字" in viewer.text
    api = client.get(f"/api/v1/records/{rid}/files/{fid}/pages")
    assert api.status_code == 200 and len(api.json["pages"]) == 3
    assert client.get(f"/records/{rid}/files/{fid}/pages/2/image").status_code == 200
    web_text, api_text = _since(app, seq, "page.text")
    for entry in (web_text, api_text):
        assert (entry.actor_name, entry.object_type, entry.object_id) == ("archivist", "record", str(rid))
    assert json.loads(web_text.details)["pages"] == [2] and json.loads(web_text.details)["file_id"] == fid
    assert json.loads(api_text.details)["pages"] == [1, 2, 3]
    assert [json.loads(e.details)["page"] for e in _since(app, seq, "page.view")] == [2]

    # A record page's thumbnails: one entry for the lot, not one per thumbnail, per window.
    start = datetime.now(UTC)
    app.config["CLOCK"] = lambda: start
    seq = _last_seq(app)
    for _ in range(2):
        for page in (1, 2, 3):
            assert client.get(f"/records/{rid}/files/{fid}/pages/{page}/thumb").status_code == 200
    (thumbs,) = _since(app, seq, "page.thumbnails")
    assert thumbs.actor_name == "archivist" and thumbs.object_id == str(rid)
    assert json.loads(thumbs.details)["first_page"] == 1
    app.config["CLOCK"] = lambda: start + timedelta(minutes=11)
    assert client.get(f"/records/{rid}/files/{fid}/pages/3/thumb").status_code == 200
    assert len(_since(app, seq, "page.thumbnails")) == 2


def test_searches_are_audited_with_query_and_hit_count(app, client, users):
    rid, _, cid = _filed_record(app, name="欧阳明华", phones="13812345678")
    login(client, "archivist")
    seq = _last_seq(app)
    assert client.get("/search", query_string={"q": "欧阳明华"}).status_code == 200
    found = client.get("/api/v1/search", query_string={"q": "欧阳明华", "part": "3"}).json
    assert found["total"] == 1
    web, api = _since(app, seq, "search.run")
    for entry in (web, api):
        details = json.loads(entry.details)
        assert entry.actor_name == "archivist"
        assert (entry.personal_data["query"], details["total"], details["records"]) == ("欧阳明华", 1, [rid])
        assert "欧阳明华" not in entry.details  # the words stay out of the chained bytes
    assert json.loads(api.details)["filters"] == {"part": 3}

    seq = _last_seq(app)
    assert client.get("/", query_string={"q": "5678"}).status_code == 200
    listed = client.get("/api/v1/customers", query_string={"q": "欧阳", "grade": ""}).json
    assert listed["total"] == 1
    assert client.get("/api/v1/customers", query_string={"q": "没有这个人"}).json["total"] == 0
    web, api, nothing = _since(app, seq, "customer.search")
    assert [e.personal_data["query"] for e in (web, api, nothing)] == ["5678", "欧阳", "没有这个人"]
    assert [json.loads(e.details)["total"] for e in (web, api, nothing)] == [1, 1, 0]
    assert json.loads(web.details)["customers"] == [cid] and web.actor_name == "archivist"

    # The records of a customer's file, through the API, are a look into the file.
    seq = _last_seq(app)
    assert client.get(f"/api/v1/customers/{cid}/records").status_code == 200
    (view,) = _since(app, seq, "customer.view")
    assert view.object_id == str(cid)


def test_the_audit_log_speaks_chinese_filters_and_is_itself_audited(app, client, users):
    rid, _, _ = _filed_record(app)
    login(client, "archivist")
    client.get(f"/records/{rid}")
    client.post("/logout")
    login(client, "auditor")
    seq = _last_seq(app)
    page = client.get("/audit", query_string={"action": "record.view"})
    assert page.status_code == 200
    assert "查看档案" in page.text and "审核归档" not in page.text.split("<tbody>")[1]
    assert ">record.view<" not in page.text
    api = client.get("/api/v1/audit-log", query_string={"user": "archivist", "action": "record"}).json
    assert api["total"] >= 2 and {i["actor_name"] for i in api["items"]} == {"archivist"}
    assert {i["action"] for i in api["items"]} >= {"record.create", "record.view"}
    assert all(i["action"].startswith("record.") for i in api["items"])
    assert next(i for i in api["items"] if i["action"] == "record.view")["action_label"] == "查看档案"
    today = datetime.now(UTC).date()
    empty = client.get("/api/v1/audit-log", query_string={"date_to": (today - timedelta(days=3)).isoformat()}).json
    assert empty["total"] == 0
    bad = client.get("/api/v1/audit-log", query_string={"date_from": "昨天"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_date"
    looks = _since(app, seq, "audit.view")
    assert [e.actor_name for e in looks] == ["auditor"] * 3
    assert json.loads(looks[0].details)["filters"] == {"action": "record.view"}


# --------------------------------------------------------------------------------------------- refusals


def test_a_refused_page_text_is_audited_with_its_reason(app, client, users):
    rid, fid, _ = _filed_record(app)
    login(client, "staff")  # sees the catalogue of 销售一部, but holds no loan
    seq = _last_seq(app)
    refused = client.get(f"/api/v1/records/{rid}/files/{fid}/pages")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "no_loan"
    assert client.get(f"/records/{rid}/files/{fid}/pages/1").status_code == 403
    api, web = _since(app, seq)
    assert [api.action, web.action] == ["access.denied"] * 2
    assert (api.actor_name, api.object_type, api.object_id) == ("staff", "record", str(rid))
    details = json.loads(api.details)
    assert details["reason"] == "no_loan" and details["method"] == "GET"
    assert details["path"] == f"/api/v1/records/{rid}/files/{fid}/pages"
    assert json.loads(web.details)["path"] == f"/records/{rid}/files/{fid}/pages/1"
    client.post("/logout")

    # Someone who may not know the record exists is told "not found", exactly as for a missing one;
    # the log knows better. A record that really is missing is no refusal.
    login(client, "staff_other")
    seq = _last_seq(app)
    hidden = client.get(f"/api/v1/records/{rid}")
    missing = client.get("/api/v1/records/987654")
    assert hidden.status_code == missing.status_code == 404 and hidden.json == missing.json
    (entry,) = _since(app, seq)
    assert (entry.action, entry.actor_name, entry.object_id) == ("access.denied", "staff_other", str(rid))
    assert json.loads(entry.details) | {"path": ""} == {"reason": "not_found", "method": "GET", "path": "",
                                                       "action": "record.view", "hidden": True,
                                                       "args": {"record_id": rid}}
    # A page refused by role alone names the policy action.
    assert client.get("/audit").status_code == 403
    assert json.loads(_since(app, seq)[-1].details)["action"] == "audit.view"


def test_a_refusal_a_page_answers_with_a_redirect_is_audited_too(app, client, users):
    """Form pages catch refusals themselves (http.attempt: flash and go back); the log still gets them."""
    rid, _, _ = _filed_record(app)
    login(client, "staff")
    loan = client.post("/api/v1/loans", json={"kind": "view", "purpose": "核对", "record_ids": [rid]}).json
    client.post("/logout")
    login(client, "gm")  # the department head decides first
    seq = _last_seq(app)
    assert client.post(f"/loans/{loan['id']}/approve").status_code == 302
    (entry,) = _since(app, seq)
    assert (entry.action, entry.actor_name, entry.object_type, entry.object_id) == (
        "access.denied", "gm", "loan_request", str(loan["id"]))
    assert json.loads(entry.details)["reason"] == "not_an_approver"
    with app.app_context():
        from archive_app.borrowing.models import LoanRequest

        assert db.session.get(LoanRequest, loan["id"]).status == "pending_head"


def test_a_loop_of_refusals_writes_a_bounded_number_of_entries(app, client, users):
    rid, fid, _ = _filed_record(app)
    start = datetime.now(UTC)
    app.config["CLOCK"] = lambda: start
    login(client, "staff")
    seq = _last_seq(app)
    for _ in range(50):
        assert client.get(f"/api/v1/records/{rid}/files/{fid}/pages").status_code == 403
    entries = _since(app, seq)
    assert [e.action for e in entries] == ["access.denied"] * 20 + ["access.denials_suppressed"]
    assert "不再逐条记录" in json.loads(entries[-1].details)["note"]
    # Another user's refusals have their own allowance.
    client.post("/logout")
    login(client, "auditor")
    assert client.get(f"/api/v1/records/{rid}/files/{fid}/pages").status_code == 403
    assert _since(app, seq)[-1].actor_name == "auditor"
    client.post("/logout")
    # A minute later the user's refusals are written again.
    app.config["CLOCK"] = lambda: start + timedelta(seconds=61)
    login(client, "staff")
    seq = _last_seq(app)
    assert client.get(f"/records/{rid}/files/{fid}/pages/1").status_code == 403
    assert [e.action for e in _since(app, seq)] == ["access.denied"]


def test_the_refusal_limit_is_counted_in_the_database_not_in_one_process(app, client, users):
    """Refusals written by other server processes count: the limit is read from the log itself."""
    rid, _, _ = _filed_record(app)
    now = datetime.now(UTC)
    app.config["CLOCK"] = lambda: now
    with app.app_context():
        staff = user("staff")
        for _ in range(20):  # what another worker process wrote a moment ago
            denials.record_denial(db.session, staff, denials.Refusal("no_loan", "GET", "/elsewhere"), limit=20,
                                  now=now - timedelta(seconds=5))
        db.session.commit()
    login(client, "staff")
    seq = _last_seq(app)
    assert client.get(f"/api/v1/records/{rid}/files/1/content").status_code == 403
    assert client.get(f"/api/v1/records/{rid}/files/1/content").status_code == 403
    assert [e.action for e in _since(app, seq)] == ["access.denials_suppressed"]


# -------------------------------------------------------------------------------------- personal data


def test_phones_and_id_numbers_are_whole_for_who_handles_the_customer_masked_for_others(app, client, users):
    idn = _id_number("11010519900307123")
    masked_id = f"110105********{idn[-4:]}"
    with app.app_context():
        # staff_secret is the customer's consultant; staff, of the same department, does not serve them
        cid = make_customer(phones="13912345678,02088886666", id_number=idn, consultant_id=users["staff_secret"]).id
    login(client, "staff")
    page = client.get(f"/customers/{cid}").text
    assert "139****5678" in page and masked_id in page and 'id="reveal-pii"' in page
    assert "13912345678" not in page and idn not in page and "02088886666" not in page
    assert "13912345678" not in client.get("/").text and "139****5678" in client.get("/").text
    body = client.get(f"/api/v1/customers/{cid}").json
    assert body["phones"] == "139****5678,020****6666" and body["id_number"] == masked_id
    assert client.get("/api/v1/customers").json["items"][0]["phones"] == "139****5678,020****6666"

    seq = _last_seq(app)
    shown = client.post(f"/customers/{cid}/reveal")
    assert shown.status_code == 200 and "13912345678" in shown.text and idn in shown.text
    revealed = client.post(f"/api/v1/customers/{cid}/reveal").json
    assert (revealed["phones"], revealed["id_number"]) == ("13912345678,02088886666", idn)
    web, api = _since(app, seq, "customer.pii_reveal")
    assert (web.actor_name, web.object_id, json.loads(web.details)["via"]) == ("staff", str(cid), "page")
    assert json.loads(api.details)["via"] == "api"
    client.post("/logout")

    # Who handles the customer (their consultant, the department's head, the archivists) sees the whole
    # values at once: no click to offer, no reveal to log (the view itself is logged).
    for username in ("staff_secret", "head", "archivist"):
        login(client, username)
        seq = _last_seq(app)
        page = client.get(f"/customers/{cid}").text
        assert "13912345678，02088886666" in page and idn in page and 'id="reveal-pii"' not in page, username
        assert client.get(f"/api/v1/customers/{cid}").json["id_number"] == idn, username
        assert _since(app, seq, "customer.pii_reveal") == [] and _since(app, seq, "customer.view"), username
        client.post("/logout")

    # Auditors read the log, not customers' numbers; the refusal is logged.
    login(client, "auditor")
    seq = _last_seq(app)
    refused = client.post(f"/api/v1/customers/{cid}/reveal")
    assert refused.status_code == 403
    (denied,) = _since(app, seq)
    assert denied.action == "access.denied" and json.loads(denied.details)["action"] == "customer.pii_reveal"
    page = client.get(f"/customers/{cid}").text
    assert "显示</button>" not in page and "139****5678" in page
    client.post("/logout")

    # The edit form must hold the real values to save them: the archivist has them; for the administrator,
    # who keeps the system and not the customers, opening it is a reveal.
    login(client, "archivist")
    seq = _last_seq(app)
    form = client.get(f"/customers/{cid}/edit").text
    assert "13912345678" in form and idn in form and _since(app, seq, "customer.pii_reveal") == []
    assert client.patch(f"/api/v1/customers/{cid}", json={"phones": "13700001111", "reason": "客户换号"}).status_code == 200
    assert client.get(f"/api/v1/customers/{cid}/history").json["items"][0]["before"] == "13912345678,02088886666"
    client.post("/logout")
    login(client, "admin")
    seq = _last_seq(app)
    form = client.get(f"/customers/{cid}/edit").text
    assert "13700001111" in form and idn in form
    (edit,) = _since(app, seq, "customer.pii_reveal")
    assert json.loads(edit.details)["via"] == "edit" and edit.actor_name == "admin"
    client.post("/logout")
    # the change history follows the same rule
    login(client, "staff")
    (line,) = client.get(f"/api/v1/customers/{cid}/history").json["items"]
    assert (line["before"], line["after"]) == ("139****5678,020****6666", "137****1111")


# ------------------------------------------------------------------------------------------------ labels


def _passed_for(tree: ast.Module, call: ast.Call, name: str) -> set[str]:
    """The string constants the callers in ``tree`` pass for parameter ``name`` of the function
    that holds ``call``; empty when ``name`` is no parameter of it or a caller passes anything else."""
    holder = next((f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                   and any(n is call for n in ast.walk(f))), None)
    params = [a.arg for a in holder.args.args] if holder else []
    if name not in params:
        return set()
    index, passed = params.index(name), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == holder.name:
            arg = node.args[index] if len(node.args) > index else None
            if not isinstance(arg, ast.Constant):
                return set()
            passed.add(arg.value)
    return passed


def _written_actions() -> set[str]:
    """Every action string passed to record_event or record_read anywhere in archive_app/."""
    found: set[str] = set()
    for path in (ROOT / "archive_app").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # Module constants naming an action (``ERASE_ACTION = "customer.erase"``).
        constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                     and isinstance(n.value, ast.Constant) for t in n.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
                    in ("record_event", "record_read")) or len(node.args) < 2:
                continue
            arg = node.args[1]
            if isinstance(arg, ast.Constant):
                found.add(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in constants:
                found.add(constants[arg.id])
            elif isinstance(arg, ast.JoinedStr) and ast.unparse(arg) == "f'loan.{action}'":
                # loans._transition: one action per state-machine step that changes the status
                found |= {f"loan.{a}" for (before, a), after in TRANSITIONS.items() if before != after}
            elif path.name == "denials.py":
                found |= {denials.DENIED, denials.SUPPRESSED}
            elif isinstance(arg, ast.Name) and (passed := _passed_for(tree, node, arg.id)):
                # a helper's parameter (records._serve_copy's ``action``): what its callers pass
                found |= passed
            else:
                raise AssertionError(f"{path}:{node.lineno}: an action this test cannot read; teach it")
    return found


def test_every_action_the_code_writes_has_a_chinese_label():
    written = _written_actions()
    assert {"page.text", "search.run", "access.denied", "customer.pii_reveal", "loan.approve_final"} <= written
    assert sorted(written - AUDIT_ACTION_LABELS.keys()) == []
    assert sorted(AUDIT_ACTION_LABELS.keys() - written) == []  # no label for an action nobody writes
