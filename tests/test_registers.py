"""Registers in (登记表导入): Chinese headers recognised, every bad row and likely duplicate listed by a dry
run that writes nothing, the good rows written in one transaction, audited, with a stored report."""
from __future__ import annotations

import io
import json
import os
import re
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select

from archive_app.audit.models import AuditEntry
from archive_app.clock import utcnow
from archive_app.extensions import db
from archive_app.intake.models import Customer
from archive_app.jobs import run_pending
from archive_app.registers import headers, held, sheets
from archive_app.registers.models import RegisterImport
from archive_app.visits.models import CardVisit, FollowUp, GradeChange, VisitorCard
from archive_app.vocabulary import AUDIT_ACTION_LABELS

from .conftest import csrf_from
from .factories import make_customer
from .generated.registers import card_register, customer_register, id_number, to_csv, to_xlsx
from .helpers import login

# Ten bad rows, two of each kind a dry run must name: a phone that is no phone, an ID number whose
# check digit is wrong, a grade the paper does not have (E), no name, a date that is no date.
BAD = {row: kind for row, kind in zip((3, 90, 150, 222, 301, 404, 555, 616, 777, 888),
                                      ("phone", "id_checksum", "choice", "name", "date") * 2, strict=True)}
# Five likely duplicates: three rows repeating an earlier row's phone, two a customer already on file.
TWINS = {500: 10, 600: 20, 700: 30}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _existing(app):
    """Two customers on file (and their phone / ID number for the register to repeat)."""
    import random

    rng = random.Random(99)
    ones = {}
    with app.app_context():
        for row, name in ((900, "甲在册"), (950, "乙在册")):
            phone, idn = f"137{row:08d}", id_number(rng)
            make_customer(name=name, phones=phone, id_number=idn)
            ones[row] = (phone, idn)
    return ones


def test_a_dry_run_lists_every_problem_and_writes_nothing_then_the_import_writes_exactly_the_good_rows(
        app, runner, users, tmp_path):
    existing = _existing(app)
    path = tmp_path / "客户登记表.xlsx"
    path.write_bytes(to_xlsx(customer_register(1000, bad=BAD, twins=TWINS, existing=existing)))
    with app.app_context():
        before = (_count(Customer), _count(AuditEntry))

    dry = runner.invoke(args=["import", str(path), "--dry-run"])
    # 1000 rows: 10 with errors; of the 990 without, 5 likely duplicates are not imported (一户一档), so 985 ready.
    assert dry.exit_code == 1, dry.output
    assert dry.output.strip().splitlines()[-1] == "985 rows ready, 10 rows with errors, 5 duplicates"
    for code in ("invalid_phone", "invalid_id_number", "invalid_grade", "name_required", "invalid_date",
                 "likely_duplicate"):
        assert f"[{code}]" in dry.output, code
    # line numbers in the file: title line, header line, then data row i on line i + 3
    assert "第 6 行 联系电话" in dry.output and "第 503 行" in dry.output
    with app.app_context():
        assert (_count(Customer), _count(AuditEntry)) == before

    # with errors, the import is refused unless the archivist says to leave the bad rows aside
    refused = runner.invoke(args=["import", str(path)])
    assert refused.exit_code != 0 and "register_has_errors" in refused.output
    with app.app_context():
        assert _count(Customer) == before[0]

    done = runner.invoke(args=["import", str(path), "--skip-errors", "--by", "archivist"])
    assert done.exit_code == 0, done.output
    with app.app_context():
        assert _count(Customer) == before[0] + 985
        new = db.session.scalars(select(Customer).where(Customer.name.notin_(["甲在册", "乙在册"]))).all()
        assert all(c.customer_no and c.consultant_id == users["staff"] for c in new)
        assert {c.department.name for c in new} == {"销售一部"}
        assert _count(GradeChange) == 985
        report = db.session.scalar(select(RegisterImport))
        assert (report.total_rows, report.ready_rows, report.error_rows, report.duplicate_rows,
                report.customers_created, report.skipped_errors) == (1000, 985, 10, 5, 985, True)
        assert len(report.problems) == 15
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "register.import"))
        details = json.loads(entry.details)
        assert (details["ready"], details["errors"], details["duplicates"]) == (985, 10, 5)
        # no name, phone or ID number of any row in the chained part of the entry
        assert "139" not in entry.details and "客户登记表" not in entry.details
    assert "register.import" in AUDIT_ACTION_LABELS and "register.report_view" in AUDIT_ACTION_LABELS


def test_seed_style_chinese_headers_are_recognised():
    # 成交客户信息登记表 (seeds/003): 姓名 性别 联系方式 身份证号码 通讯地址 EMAIL
    assert headers.mapping_for(["姓名：", "性别", "联系方式", "身份证号码", "通讯地址", "EMAIL"]) == [
        "name", None, "phones", "id_number", "address", None]
    # the 温馨卡's boxes, with units in brackets as printed, and the 来电来访登记表's columns
    assert headers.mapping_for(["来电来访日期", "客户姓名", "联系电话", "意向面积（㎡）", "接受价格(元/㎡)", "家庭月收入",
                                "认知途径", "接待置业顾问", "踩盘", "二次到访"]) == [
        "visit_1", "name", "phones", "area_band", "price_band", "income_band", "channel", "consultant", "scouting",
        "visit_2"]
    # a title line above the header row is passed over
    row, fields = headers.detect([["客户登记表"], ["序号", " 客户 姓名 ", "手机号码", "成交日期", "房号"], ["1", "王"]])
    assert (row, fields) == (1, [None, "name", "phones", "deal_closed_on", "unit"])
    assert headers.register_kind(fields) == "deals"
    assert headers.register_kind(headers.mapping_for(["姓名", "住房性质"])) == "visitor_cards"


def test_csv_in_gbk_and_in_utf8_with_bom_read_the_same():
    rows = card_register(5)
    gbk, bom = to_csv(rows, "gbk"), to_csv(rows, "utf-8-sig")
    assert gbk != bom and bom.startswith(b"\xef\xbb\xbf")
    read = sheets.read_table("来访.csv", gbk)
    assert read == sheets.read_table("来访.csv", bom)
    assert read[0][:3] == ["序号", "来访日期", "客户姓名"] and len(read) == 6


def test_a_visitor_card_register_imported_on_the_page_creates_cards(app, client, users):
    login(client, "archivist")
    rows = card_register(6)
    rows[1][14] = "B"          # the first row's grade
    rows[2][6] = "别墅"         # a housing the card does not print: an unknown choice
    form = client.get("/registers/import").get_data(as_text=True)
    checked = client.post("/registers/import", data={
        "csrf_token": csrf_from(form), "file": (io.BytesIO(to_csv(rows, "gbk")), "温馨卡登记表.csv")},
        content_type="multipart/form-data")
    page = checked.get_data(as_text=True)
    assert checked.status_code == 200, page
    assert "温馨卡登记表" in page and "5 rows ready, 1 rows with errors, 0 duplicates" in page
    assert "住房性质的选项无效：别墅" in page
    with app.app_context():
        assert _count(Customer) == 0
    # the upload waits under a token named in the form's action, in the shared store (the import may
    # reach another web node), never in this node's upload folder
    token = re.search(r'action="/registers/import/([0-9a-f]{32})"', page).group(1)
    store = app.extensions["blob_store"]
    assert list(store.keys(held.PREFIX)) == [held.PREFIX + token]
    assert os.listdir(app.config["UPLOAD_TMP_DIR"]) == []
    columns = len(rows[0])
    mapping = {f"col_{i}": f or "" for i, f in enumerate(headers.mapping_for(rows[0]))}
    base = {"csrf_token": csrf_from(page), "filename": "温馨卡登记表.csv", "columns": str(columns), **mapping}
    # running without saying to skip the bad row is refused, and writes nothing
    refused = client.post(f"/registers/import/{token}", data=base | {"do": "run"})
    assert refused.status_code == 400
    with app.app_context():
        assert _count(Customer) == 0
    # the mapping is editable: dropping the 住房性质 column makes every row good
    recheck = client.post(f"/registers/import/{token}", data=base | {"col_6": "", "do": "check"})
    assert "6 rows ready, 0 rows with errors, 0 duplicates" in recheck.get_data(as_text=True)
    done = client.post(f"/registers/import/{token}", data=base | {"do": "run", "skip_errors": "1"})
    assert done.status_code == 302
    assert list(store.keys(held.PREFIX)) == []  # imported: the held bytes are gone
    assert client.post(f"/registers/import/{token}", data=base | {"do": "run"}).status_code == 404
    report_url = done.headers["Location"]
    with app.app_context():
        assert (_count(Customer), _count(VisitorCard), _count(CardVisit), _count(FollowUp)) == (5, 5, 10, 5)
        first = db.session.scalar(select(Customer).where(Customer.phones == "13800000000"))
        card = db.session.scalar(select(VisitorCard).where(VisitorCard.customer_id == first.id))
        assert (first.grade, card.grade, card.consultant_id, card.scouting) == ("B", "B", users["staff"], False)
        assert card.unit_type in ("enterprise", "institution", "self_employed") and card.area_band == "100_120"
    report = client.get(report_url).get_data(as_text=True)
    assert "5 户客户，5 张温馨卡" in report and "别墅" in report
    # an imported customer is found by search (the bulk insert is noted for the index)
    with app.app_context():
        run_pending()
    found = client.get("/api/v1/search", query_string={"q": "13800000000"}).json["customers"]
    assert [c["id"] for c in found] == [first.id]
    xlsx = client.get(report_url + ".xlsx")
    cells = [c for row in load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True) for c in row]
    assert "住房性质的选项无效：别墅" in cells
    assert "住房性质的选项无效：别墅" in client.get(report_url + ".csv").data.decode("utf-8-sig")


def test_a_rows_phone_in_a_report_is_whole_for_the_archivist_and_masked_in_the_admins_page_and_exports(
        app, client, users):
    rows = customer_register(3)
    rows[3][3] = "13900000001X"   # the second data row: a phone with a letter typed into it
    login(client, "archivist")
    form = client.get("/registers/import").get_data(as_text=True)
    checked = client.post("/registers/import", data={
        "csrf_token": csrf_from(form), "file": (io.BytesIO(to_csv(rows)), "客户登记表.csv")},
        content_type="multipart/form-data").get_data(as_text=True)
    assert "电话号码格式不正确：13900000001X" in checked and "13900000000" in checked
    token = re.search(r'action="/registers/import/([0-9a-f]{32})"', checked).group(1)
    mapping = {f"col_{i}": f or "" for i, f in enumerate(headers.mapping_for(rows[1]))}
    done = client.post(f"/registers/import/{token}", data={
        "csrf_token": csrf_from(checked), "filename": "客户登记表.csv", "columns": str(len(rows[1])), **mapping,
        "do": "run", "skip_errors": "1"})
    report_url = done.headers["Location"]
    assert "电话号码格式不正确：13900000001X" in client.get(report_url + ".csv").data.decode("utf-8-sig")
    client.post("/logout")
    # the administrator keeps the system, not the customers: the same report and exports, the number masked
    login(client, "admin")
    assert "电话号码格式不正确：139*****001X" in client.get(report_url).get_data(as_text=True)
    csv_text = client.get(report_url + ".csv").data.decode("utf-8-sig")
    cells = [c for row in load_workbook(io.BytesIO(client.get(report_url + ".xlsx").data)).active.iter_rows(
        values_only=True) for c in row]
    assert "电话号码格式不正确：139*****001X" in csv_text and "电话号码格式不正确：139*****001X" in cells
    assert "13900000001X" not in csv_text and not any("13900000001X" in str(c) for c in cells)


def test_a_register_held_longer_than_a_day_is_removed_by_the_next_upload(app, client, users):
    store = app.extensions["blob_store"]
    token = held.hold(store, io.BytesIO(to_csv(customer_register(2))))
    assert held.forget_old(store, utcnow()) == []  # a fresh hold stays
    assert held.forget_old(store, utcnow() + timedelta(seconds=held.HELD_SECONDS + 60)) == [held.PREFIX + token]
    assert held.read(store, token) is None
    assert held.read(store, "../../etc/passwd") is None  # only tokens hold() makes name anything


def test_only_keepers_may_import(app, client, users):
    login(client, "staff")
    assert client.get("/registers/import").status_code == 403


def test_a_row_reports_every_mistake_and_reads_dates_and_choices_as_typed():
    from datetime import date, datetime

    from archive_app.registers.rows import Lookups, check_row, parse_date

    assert {parse_date(v) for v in ("2026-11-25", "2026/11/25", "2026.11.25", "2026年11月25日",
                                    datetime(2026, 11, 25, 9, 30), 46351)} == {date(2026, 11, 25)}
    assert parse_date("") is None
    for no_date in ("去年春天", "2026-13-01", 12):
        try:
            parse_date(no_date)
        except ValueError:
            continue
        raise AssertionError(no_date)
    mapping = headers.mapping_for(["客户姓名", "联系电话", "年龄", "意向面积", "来访日期", "置业顾问", "部门"])
    found = Lookups(consultants={"李顾问": 7}, departments={"销售一部": 3})
    good = check_row(2, ["王", "139 1234 5678", "25岁以下", "80-100㎡", "2026/11/20", "李顾问", "销售一部"], mapping,
                     found)
    assert good.ready and good.customer["phones"] == "13912345678"
    assert (good.card["age_band"], good.card["area_band"], good.consultant_id, good.department_id) == (
        "under_25", "80_100", 7, 3)
    bad = check_row(3, ["", "12ab", "九十岁", "", "上周", "张三", "销售九部"], mapping, found)
    assert [p.code for p in bad.problems] == ["invalid_date", "name_required", "invalid_phone", "unknown_consultant",
                                              "unknown_department", "invalid_choice"]
