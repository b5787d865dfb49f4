"""API: customers (一户一档), records, files, uploads, review."""
from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from archive_app import policy
from archive_app.api import json_body, optional_body, route
from archive_app.api.openapi import PAGE, text
from archive_app.errors import ValidationFailed
from archive_app.extensions import db
from archive_app.http import actor, client_ip, incoming_files, optional_int, page_arg, receives_files, stream_response
from archive_app.i18n import _
from archive_app.intake import bulk_intake
from archive_app.intake import customers as customer_svc
from archive_app.intake import records as record_svc
from archive_app.intake import review as review_svc
from archive_app.vocabulary import BUSINESS_TYPES, GRADES
from archive_app.wiring import archive_settings, get_store, now, read_session


@route("GET", "/customers", "Search customers (q, business_type, grade, project, page)",
       query={"q": text(200), "business_type": {"type": "string", "enum": list(BUSINESS_TYPES)},
              "grade": {"type": "string", "enum": list(GRADES)}, "project": text(200), "page": PAGE})
def list_customers():
    filters = {k: request.args.get(k, "") for k in ("q", "business_type", "grade", "project")}
    user = actor(current_user)
    rows, total = customer_svc.search_customers(db.session, user, page=page_arg(),
                                                ip=client_ip(), reads=read_session(user.id), **filters)
    return jsonify({"total": total, "page": page_arg(), "items": [customer_svc.customer_dict(c, user) for c in rows]})


@route("POST", "/customers", "Open a customer file", body="CustomerInput", responses={201: "created"})
def create_customer():
    user = actor(current_user)
    c = customer_svc.create_customer(db.session, user, json_body(), ip=client_ip())
    return jsonify(customer_svc.customer_dict(c, user)), 201


@route("GET", "/customers/<int:customer_id>", "One customer (the view is audited)")
def get_customer(customer_id: int):
    user = actor(current_user)
    customer = customer_svc.view_customer(db.session, user, customer_id, ip=client_ip())
    return jsonify(customer_svc.customer_dict(customer, user))


@route("POST", "/customers/<int:customer_id>/reveal", "One customer with full phone numbers and ID number "
       "(other answers mask them for whoever does not handle the customer: 139****5678, 110101********1234); "
       "allowed by customer.pii_reveal, audited")
def reveal_customer(customer_id: int):
    user = actor(current_user)
    customer = customer_svc.reveal_pii(db.session, user, customer_id, ip=client_ip(), via="api")
    return jsonify(customer_svc.customer_dict(customer, user, revealed=True))


@route("PATCH", "/customers/<int:customer_id>", "Change a customer (audited); kind and id_number go together",
       body="CustomerChange", responses={409: "customer_on_hold / customer_erased"})
def update_customer(customer_id: int):
    user = actor(current_user)
    c = customer_svc.update_customer(db.session, user, customer_id, json_body(), ip=client_ip(),
                                     store=get_store(), now=now())
    return jsonify(customer_svc.customer_dict(c, user))


@route("GET", "/customers/<int:customer_id>/records",
       "The records of a customer's file the caller may see (the view is audited)")
def list_records(customer_id: int):
    user = actor(current_user)
    customer = customer_svc.view_customer(db.session, user, customer_id, ip=client_ip())
    records = record_svc.customer_records(db.session, user, customer)
    return jsonify({"items": [record_svc.record_dict(r) for r in records]})


@route("POST", "/customers/<int:customer_id>/records", "Upload a record with one or more files",
       body="RecordUpload", responses={201: "created", 409: "duplicate_file", 413: "too_large",
                                    415: "unsupported_type", 422: "bad_file"})
@receives_files("record.upload")
def create_record(customer_id: int):
    values = {k: v for k, v in request.form.items() if k != "confirm_duplicate"}
    record = record_svc.create_record(db.session, get_store(), archive_settings(), actor(current_user), customer_id,
                                      values, incoming_files(),
                                      confirm_duplicate=request.form.get("confirm_duplicate") == "1", ip=client_ip(),
                                      now=now())
    return jsonify(record_svc.record_dict(record)), 201


@route("POST", "/intake/files", "File one scanned file as a new record of the customer numbered customer_no "
       "(the bulk upload page sends each dropped file on a request of its own)",
       body="IntakeFile", responses={201: "created", 404: "customer_not_found", 409: "duplicate_file / on hold",
                                     413: "too_large", 415: "unsupported_type", 422: "bad_file"})
@receives_files("record.upload")
def intake_file():
    policy.require(actor(current_user), "record.upload")  # before the body says anything about the request
    files = incoming_files("file")
    if len(files) != 1:
        raise ValidationFailed(_("请选择一个文件"), code="no_files")
    values = {k: v for k, v in request.form.items() if k not in ("customer_no", "confirm_duplicate")}
    record = bulk_intake.file_one(db.session, get_store(), archive_settings(), actor(current_user),
                                  request.form.get("customer_no", ""), values, files[0],
                                  confirm_duplicate=request.form.get("confirm_duplicate") == "1", ip=client_ip(),
                                  now=now())
    return jsonify(record_svc.record_dict(record)), 201


@route("GET", "/records/<int:record_id>", "One record with its files (the view is audited)")
def get_record(record_id: int):
    return jsonify(record_svc.record_dict(record_svc.view_record(db.session, actor(current_user), record_id,
                                                                 ip=client_ip())))


@route("GET", "/records/<int:record_id>/status", "Text-extraction status of a record's files (排队/处理中/完成/失败)")
def get_record_status(record_id: int):
    record = record_svc.get_record(db.session, actor(current_user), record_id)
    data = record_svc.record_dict(record)
    return jsonify({"id": record.id, "text_status": data["text_status"], "files": data["files"]})


@route("GET", "/records/<int:record_id>/files/<int:file_id>/pages", "Extracted text of each page of a file (audited)")
def get_pages(record_id: int, file_id: int):
    got = record_svc.open_page_text(db.session, actor(current_user), record_id, file_id, ip=client_ip(), now=now())
    return jsonify({"file_id": got.file.id, "text_status": got.file.extract_status, "pages": [
        {"page_no": p.page_no, "text": p.text, "source": p.source, "confidence": p.confidence} for p in got.pages]})


@route("PATCH", "/records/<int:record_id>", "Change a draft record's metadata (never its 档号)",
       body="RecordChange", responses={409: "on hold"})
def update_record(record_id: int):
    r = record_svc.update_record(db.session, actor(current_user), record_id, json_body(), ip=client_ip(),
                                 store=get_store(), now=now())
    return jsonify(record_svc.record_dict(r))


@route("POST", "/records/<int:record_id>/files", "Add files to a draft record", body="FilesUpload",
       responses={201: "created", 409: "duplicate_file / on hold", 413: "too_large", 415: "unsupported_type",
                  422: "bad_file"})
@receives_files("record.upload")
def add_files(record_id: int):
    record_svc.add_files(db.session, get_store(), archive_settings(), actor(current_user), record_id,
                         incoming_files(), confirm_duplicate=request.form.get("confirm_duplicate") == "1",
                         ip=client_ip(), now=now())
    record = record_svc.get_record(db.session, actor(current_user), record_id)
    return jsonify(record_svc.record_dict(record)), 201


@route("GET", "/records/<int:record_id>/files/<int:file_id>/content",
       "Download a file: the exact bytes for archive staff, a watermarked copy under a borrowing request")
def download(record_id: int, file_id: int):
    return stream_response(record_svc.open_file(db.session, get_store(), archive_settings(), actor(current_user),
                                                record_id, file_id, ip=client_ip(), now=now()))


@route("GET", "/records/<int:record_id>/files/<int:file_id>/searchable",
       "Download a scanned file's searchable copy (PDF with its OCR text invisible over each page); "
       "watermarked under a borrowing request", responses={404: "no_searchable_copy"})
def searchable_copy(record_id: int, file_id: int):
    return stream_response(record_svc.open_searchable_copy(db.session, get_store(), archive_settings(),
                                                           actor(current_user), record_id, file_id,
                                                           ip=client_ip(), now=now()))


@route("POST", "/records/<int:record_id>/corrections", "Correct a filed record's metadata (never its 档号) for "
       "a stated reason; before/after and the reason are audited (record.correct)", body="RecordCorrection",
       responses={409: "on hold"})
def correct_record(record_id: int):
    body = json_body()
    changes = body.get("changes")
    if not isinstance(changes, dict):
        raise ValidationFailed(_("changes 须为对象"), code="invalid_changes")
    r = record_svc.correct_record(db.session, actor(current_user), record_id, changes, body.get("reason", ""),
                                  ip=client_ip(), store=get_store(), now=now())
    return jsonify(record_svc.record_dict(r))


@route("POST", "/records/<int:record_id>/review", "Reviewer marks a draft filed (not the uploader)",
       body="ReviewComment", responses={409: "already_filed"})
def review(record_id: int):
    comment = str(optional_body().get("comment") or "")
    return jsonify(record_svc.record_dict(record_svc.review_record(db.session, actor(current_user), record_id,
                                                                   ip=client_ip(), now=now(), comment=comment)))


@route("POST", "/records/<int:record_id>/send-back", "Reviewer returns a draft to its uploader with a reason "
       "(their inbox); it leaves the queue until saved again", body="SendBack", responses={409: "not_draft"})
def send_back(record_id: int):
    r = record_svc.send_back(db.session, actor(current_user), record_id, str(json_body().get("reason") or ""),
                             ip=client_ip(), now=now())
    return jsonify(record_svc.record_dict(r, files=False))


@route("GET", "/review-queue", "Drafts waiting for this reviewer, oldest first (page, per_page 50/100/200, "
       "sort oldest/newest/code/customer/type); total is the true count",
       query={"page": PAGE, "per_page": {"type": "integer", "enum": list(review_svc.PER_PAGE_CHOICES)},
              "sort": {"type": "string", "enum": list(review_svc.SORTS)}})
def review_queue():
    got = review_svc.queue_page(db.session, actor(current_user), page=page_arg(),
                                sort=request.args.get("sort", "oldest"),
                                per_page=optional_int(request.args.get("per_page")) or review_svc.PER_PAGE)
    return jsonify({"total": got.total, "page": got.page, "pages": got.pages,
                    "items": [record_svc.record_dict(r, files=False) for r in got.records]})


@route("POST", "/review-queue/approve", "Approve many drafts at once; each is judged alone (the uploader never "
       "approves their own): the outcome per record", body="ReviewBulk")
def review_many():
    body = json_body()
    ids = body.get("record_ids")
    # JSON does not tell 3 from 3.0: a whole number written either way is an integer (as the schema says).
    if not isinstance(ids, list) or not all(
            isinstance(i, (int, float)) and not isinstance(i, bool) and float(i).is_integer() for i in ids):
        raise ValidationFailed(_("record_ids 须为整数数组"), code="invalid_record_ids")
    ids = [int(i) for i in ids]
    outcomes = review_svc.approve_many(db.session, actor(current_user), ids, now=now(),
                                       comment=str(body.get("comment") or ""), ip=client_ip())
    return jsonify({"approved": sum(1 for o in outcomes if o.approved), "items": [
        {"record_id": o.record_id, "archival_code": o.label, "approved": o.approved, "reason": o.reason or None}
        for o in outcomes]})
