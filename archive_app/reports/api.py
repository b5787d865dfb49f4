"""API: the reports a caller may read, and each one's tables and chart series as JSON."""
from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from archive_app import policy
from archive_app.api import route
from archive_app.api.openapi import DATE, SCHEMAS, query
from archive_app.extensions import db
from archive_app.http import actor, date_arg
from archive_app.i18n import _
from archive_app.reports import catalogue
from archive_app.reports.periods import period_for
from archive_app.reports.tables import report_dict
from archive_app.wiring import local_today, timezone_name

_CELL = {"type": ["string", "integer", "number", "null"]}
SCHEMAS.update({
    "ReportList": {"type": "object", "additionalProperties": False, "required": ["items"], "properties": {
        "items": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["report", "title", "summary"],
            "properties": {"report": {"type": "string"}, "title": {"type": "string"},
                           "summary": {"type": "string"}}}}}},
    "Report": {"type": "object", "additionalProperties": False,
               "required": ["report", "title", "scope", "from", "to", "as_of", "tables", "charts"], "properties": {
                   "report": {"type": "string", "enum": list(catalogue.REPORTS)},
                   "title": {"type": "string"},
                   "scope": {"type": "string", "description": "全公司, or the head's department"},
                   "from": {**DATE, "description": "the first week's Monday"},
                   "to": {**DATE, "description": "the last week's Sunday"},
                   "as_of": {"type": ["string", "null"], "format": "date",
                             "description": "the day counts 'now' are taken (today)"},
                   "tables": {"type": "array", "items": {
                       "type": "object", "additionalProperties": False,
                       "required": ["key", "title", "columns", "rows", "left_out"], "properties": {
                           "key": {"type": "string"}, "title": {"type": "string"},
                           "columns": {"type": "array", "items": {"type": "string"}},
                           "rows": {"type": "array", "items": {"type": "array", "items": _CELL}},
                           "left_out": {"type": "integer", "minimum": 0,
                                        "description": "rows of a long list not included"}}}},
                   "charts": {"type": "array", "items": {
                       "type": "object", "additionalProperties": False,
                       "required": ["kind", "title", "stacked", "categories", "series"], "properties": {
                           "kind": {"type": "string", "enum": ["bar", "line"]}, "title": {"type": "string"},
                           "stacked": {"type": "boolean"},
                           "categories": {"type": "array", "items": {"type": "string"}},
                           "series": {"type": "array", "items": {
                               "type": "object", "additionalProperties": False, "required": ["name", "values"],
                               "properties": {"name": {"type": "string"},
                                              "values": {"type": "array", "items": {"type": "number"}}}}}}}}}},
})


@route("GET", "/reports", "The reports the caller may read (report.sales / report.archive)", response="ReportList")
def list_reports():
    user = actor(current_user)
    policy.require(user, "report.view", message=_("您没有权限查看报表"))
    return jsonify({"items": [{"report": k.slug, "title": k.title, "summary": k.summary}
                              for k in catalogue.kinds_for(user)]})


@route("GET", "/reports/<slug>", "One report over whole weeks: its tables and chart series; a department head's "
       "counts their department", response="Report", responses={404: "report_not_found"},
       query=query(**{"from": {**DATE, "description": "first day (default: 12 weeks ago)"},
                      "to": {**DATE, "description": "last day (default: today)"}}))
def get_report(slug: str):
    user = actor(current_user)
    policy.require(user, "report.view", message=_("您没有权限查看报表"))
    period = period_for(local_today(), date_arg(request.args.get("from"), _("开始日期")),
                        date_arg(request.args.get("to"), _("结束日期")))
    report = catalogue.build_report(db.session, user, slug, period, today=local_today(), tz=timezone_name())
    return jsonify(report_dict(report))
