"""API: change requests (客户数据变更申请), a customer's change history, quarterly verification (核实)."""
from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from archive_app.api import json_body, optional_body, route
from archive_app.api.openapi import ROW_ID
from archive_app.corrections import history, verification
from archive_app.corrections import requests as svc
from archive_app.extensions import db
from archive_app.http import actor, client_ip
from archive_app.wiring import get_store, now, sensitive_customer_fields, timezone_name

CONFLICTS = "customer_on_hold / customer_erased / customer_changed / already_decided"


@route("POST", "/customers/<int:customer_id>/change-requests", "File a change request (客户数据变更申请) for "
       "the requester's department head to decide; sensitive fields get a second step",
       body="ChangeRequestInput", responses={201: "created", 409: "customer_on_hold / customer_erased"})
def create_change_request(customer_id: int):
    user = actor(current_user)
    req = svc.file_request(db.session, user, customer_id, json_body(), sensitive_fields=sensitive_customer_fields(),
                           now=now(), ip=client_ip())
    return jsonify(svc.request_dict(user, req)), 201


@route("GET", "/change-requests", "Change requests: the caller's own (scope=mine) or those waiting for "
       "the caller's decision (scope=to_decide)",
       query={"scope": {"type": "string", "enum": ["mine", "to_decide"]}})
def list_change_requests():
    user = actor(current_user)
    rows = (svc.to_decide(db.session, user, ip=client_ip()) if request.args.get("scope") == "to_decide"
            else svc.my_requests(db.session, user, ip=client_ip()))
    return jsonify({"items": [svc.request_dict(user, r) for r in rows]})


@route("GET", "/change-requests/<int:request_id>", "One change request (its requester, deciders, the company-wide)")
def get_change_request(request_id: int):
    user = actor(current_user)
    return jsonify(svc.request_dict(user, svc.view_request(db.session, user, request_id, ip=client_ip())))


@route("POST", "/change-requests/<int:request_id>/approve", "Approve the step the caller decides; the last "
       "approval applies the change (refused if the customer changed since: customer_changed)",
       body="ChangeDecision", responses={409: CONFLICTS})
def approve_change_request(request_id: int):
    user = actor(current_user)
    req = svc.approve(db.session, user, request_id, note=optional_body().get("note", ""), now=now(),
                      store=get_store(), ip=client_ip())
    return jsonify(svc.request_dict(user, req))


@route("POST", "/change-requests/<int:request_id>/reject", "Reject the step the caller decides (a reason needed)",
       body="ChangeRejection", responses={409: "already_decided"})
def reject_change_request(request_id: int):
    user = actor(current_user)
    req = svc.reject(db.session, user, request_id, note=json_body().get("note", ""), now=now(), ip=client_ip())
    return jsonify(svc.request_dict(user, req))


@route("GET", "/customers/<int:customer_id>/history", "A customer's change history (变更记录), phones and ID "
       "numbers masked unless the caller handles the customer; the look is audited")
def customer_history(customer_id: int):
    lines = history.customer_history(db.session, actor(current_user), customer_id, ip=client_ip())
    return jsonify({"items": [line.as_dict() for line in lines]})


@route("GET", "/verification", "Customers not verified this quarter (每季度核实), per consultant",
       query={"consultant_id": ROW_ID})
def verification_list():
    consultant = request.args.get("consultant_id", type=int)
    quarter, groups = verification.to_verify(db.session, actor(current_user), now=now(), tz=timezone_name(),
                                             consultant_id=consultant, ip=client_ip())
    return jsonify({"quarter": quarter, "consultants": [
        {"consultant_id": g.consultant_id, "consultant": g.consultant,
         "customers": [{"id": c.id, "customer_no": c.customer_no, "name": c.name} for c in g.customers]}
        for g in groups]})


@route("POST", "/customers/<int:customer_id>/verify", "Mark a customer's data verified this quarter (with a note)",
       body="VerificationInput", responses={201: "created", 409: "already_verified / customer_erased"})
def verify_customer(customer_id: int):
    row = verification.mark_verified(db.session, actor(current_user), customer_id,
                                     note=optional_body().get("note", ""), now=now(), tz=timezone_name(),
                                     ip=client_ip())
    return jsonify({"customer_id": row.customer_id, "quarter": row.quarter,
                    "verified_at": row.verified_at.isoformat()}), 201


@route("GET", "/verification/progress", "This quarter's verification progress per consultant (verified / total)")
def verification_progress():
    quarter, rows = verification.progress(db.session, actor(current_user), now=now(), tz=timezone_name())
    return jsonify({"quarter": quarter, "consultants": [
        {"consultant_id": p.consultant_id, "consultant": p.consultant, "verified": p.verified, "total": p.total}
        for p in rows]})
