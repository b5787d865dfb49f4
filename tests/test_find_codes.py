"""Find what was read (issue 13): numbers and codes printed on a scan, 档号 prefixes, and customers
in search -- through the API and the search page, on both stacks, with the real OCR."""
from __future__ import annotations

from archive_app.jobs import run_pending

from .generated.receipts import RECEIPT_LINES, RECEIPT_QUERIES, receipt_png
from .helpers import login, make_pdf, new_customer, upload

#: also on the PostgreSQL stack's other search backend (tests/conftest.py)
OTHER_SEARCH_BACKEND = True


def _hits(client, q: str) -> list[int]:
    body = client.get("/api/v1/search", query_string={"q": q, "per_page": 50}).json
    return [item["record"]["id"] for item in body["items"]]


def test_a_scanned_receipt_is_found_by_its_numbers_and_a_year_by_its_dang_hao(app, client, users):
    login(client, "archivist")
    c = new_customer(client, name="赵子龙", phones="13955556666")
    receipt = upload(client, c["id"], [(receipt_png(), "报销单.png")], record_type="付款凭证",
                     doc_date="2026-03-01").json
    same_year = [upload(client, c["id"], [(make_pdf(marker=f"a{i}"), f"{i}.pdf")], record_type=t,
                        doc_date=f"2026-0{i + 4}-02").json for i, t in enumerate(("购房合同", "温馨卡"))]
    other_year = upload(client, c["id"], [(make_pdf(marker="b"), "b.pdf")], record_type="购房合同",
                        doc_date="2025-12-31").json
    with app.app_context():
        run_pending()
    pages = client.get(f"/api/v1/records/{receipt['id']}/files/{receipt['files'][0]['id']}/pages").json["pages"]
    assert "No.0051971" in pages[0]["text"].replace(" ", ""), pages[0]["text"]  # read by the OCR
    for q in RECEIPT_QUERIES + ("No.0051971", "ht20240012"):
        assert _hits(client, q)[:1] == [receipt["id"]], q
    assert _hits(client, "G12345") == [] and _hits(client, "HT-2024-0013") == []
    # 全宗号-年度 finds every record of the year, with dashes or without
    year_2026 = {receipt["id"]} | {r["id"] for r in same_year}
    assert receipt["archival_code"].startswith("0001-2026-")
    for q in ("0001-2026", "00012026", "0001-2026-"):
        assert set(_hits(client, q)) == year_2026, q
    assert set(_hits(client, "0001-2025")) == {other_year["id"]}
    assert set(_hits(client, other_year["archival_code"][:13].lower())) == {other_year["id"]}  # 0001-2025-d30
    assert RECEIPT_LINES[0] in client.get("/search", query_string={"q": "HT-2024-0012"}).text


def test_customers_are_found_by_search_even_without_records(app, client, users):
    login(client, "archivist")
    c = new_customer(client, name="司马相如", phones="13700004321")
    new_customer(client, name="深圳前海置业有限公司", kind="company", id_number="91440300MA5DC1234X",
                 phones="075512345678")
    with app.app_context():
        run_pending()
    for q in ("司马相如", "相如", "simaxiangru", "smxr", "4321", "13700004321", c["customer_no"]):
        body = client.get("/api/v1/search", query_string={"q": q}).json
        assert [x["id"] for x in body["customers"]] == [c["id"]], q
        assert body["total"] == 0 and body["items"] == []
    # the archivist handles every customer: the whole number
    listed = client.get("/api/v1/search", query_string={"q": "司马相如"}).json["customers"][0]
    assert listed == {"id": c["id"], "customer_no": c["customer_no"], "name": "司马相如", "kind": "person",
                      "project": "", "unit": "", "phones": "13700004321", "id_number": None}
    assert client.get("/api/v1/search", query_string={"q": "前海置业"}).json["customers"][0]["kind"] == "company"
    client.post("/logout")
    # staff of the customer's department who do not serve them find the customer, its number masked
    login(client, "staff")
    assert client.get("/api/v1/search", query_string={"q": "司马相如"}).json["customers"][0]["phones"] == "137****4321"
    page = client.get("/search", query_string={"q": "smxr"}).text
    assert "司马相如" in page and c["customer_no"] in page and "137****4321" in page and "13700004321" not in page
    client.post("/logout")
    # someone of another department does not learn the customer exists
    login(client, "staff_other")
    assert client.get("/api/v1/search", query_string={"q": "司马相如"}).json["customers"] == []
    page = client.get("/search", query_string={"q": "司马相如"}).text
    assert c["customer_no"] not in page and "匹配的客户" not in page
