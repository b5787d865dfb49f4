"""Numbers and codes: found as typed, by their digits, by a tail, in the text and in the fields;
档号 by every prefix of two or more segments, with or without dashes; exact field matches first."""
from __future__ import annotations

import pytest

from search_index import Access, SearchRequest

from .conftest import blank_doc

ALL = Access(max_secrecy=3, department_ids=None)

RECEIPT = "火车票报销 车次G1234 合同编号：HT-2024-0012号 收据No.0051971 金额 123 元"


def found(ix, text: str, **kw) -> list[int]:
    return [h.record_id for h in ix.search(SearchRequest(text=text, per_page=50, **kw), ALL).hits]


@pytest.fixture
def codes_index(small_index):
    small_index.add_or_update([
        blank_doc(1, RECEIPT, archival_code="0001-2024-D30-C000001-3-0001", customer_no="C000001"),
        blank_doc(2, "发票号码 9921971，开票日期 2024-03-05", archival_code="0001-2024-D10-C000002-3-0001",
                  customer_no="C000002"),
        blank_doc(3, "编号 1971 的收据", archival_code="0001-2020-D30-C000003-1-0001",
                  customer_no="C000003"),
        blank_doc(4, "来访登记", phones=["13900001971"], id_number="11010519491231002X",
                  archival_code="0001-2020-D30-C000004-1-0002", customer_no="C000004", year=2020),
        blank_doc(5, "客户电话 139-0000-1971，请回电", archival_code="0001-2020-Y-C000005-1-0001",
                  customer_no="C000005", year=2020),
        blank_doc(6, "车次 G12345 与 HT-2024-00123", archival_code="0002-2024-D30-C000006-1-0001",
                  customer_no="C000006"),
    ])
    return small_index


def test_codes_in_the_text_as_typed_by_digits_and_by_tail(codes_index):
    assert found(codes_index, "G1234") == [1]
    assert found(codes_index, "g1234") == [1]
    assert found(codes_index, "HT-2024-0012") == [1]
    assert found(codes_index, "ht20240012") == [1]  # without the dashes
    assert found(codes_index, "20240012") == [1]  # its digits alone
    assert found(codes_index, "No.0051971") == [1]
    assert found(codes_index, "0051971") == [1]
    assert 1 in found(codes_index, "0012") and 6 not in found(codes_index, "0012")
    assert set(found(codes_index, "1971")) == {1, 2, 3, 4, 5}
    assert found(codes_index, "51971") == [1]
    assert found(codes_index, "HT-2024-00123") == [6]
    assert found(codes_index, "123") == [1, 6]  # three digits: text (substring)
    assert found(codes_index, "车次 G1234") == [1]  # with words around it


def test_an_input_shaped_like_a_phone_or_id_also_searches_the_text(codes_index):
    # the customer whose phone it is first, then the record that prints it
    assert found(codes_index, "13900001971") == [4, 5]
    assert found(codes_index, "139 0000 1971") == [4, 5]
    assert found(codes_index, "+86 13900001971") == [4, 5]
    assert found(codes_index, "11010519491231002x") == [4]
    assert found(codes_index, "31002X") == [4]  # an ID tail with its check letter
    assert found(codes_index, "19491231002X") == [4]  # a tail longer than 8: by its last 8


def test_exact_field_matches_rank_first(codes_index):
    # 1971: printed as a number of its own (3, and 5's last segment), then a phone ending so
    # (4, a field), then numbers of the text ending so
    hits = found(codes_index, "1971")
    assert hits[:3] == [3, 5, 4] and set(hits[3:]) == {1, 2}
    # a phone number: the customer's own phone before the record printing it
    assert found(codes_index, "13900001971") == [4, 5]


def test_archival_codes_by_every_prefix_with_or_without_dashes(codes_index):
    for text in ("0001-2020", "0001-2020-d30", "00012020", "0001-2020-"):
        assert set(found(codes_index, text)) >= {3, 4}, text
    assert set(found(codes_index, "0001-2020")) == {3, 4, 5}
    assert set(found(codes_index, "0001-2020-D30")) == {3, 4}
    assert set(found(codes_index, "00012020D30")) == {3, 4}
    assert found(codes_index, "0001-2020-D30-C000004") == [4]
    assert found(codes_index, "0001-2020-d30-c000004-1-0002") == [4]
    assert set(found(codes_index, "0001-2024")) == {1, 2}
    assert found(codes_index, "0003-2024") == []
    # 客户号: whole, by its digits and by a tail; a prefix of one letter and 4+ digits
    assert found(codes_index, "C000005") == [5]
    assert found(codes_index, "000005") == [5]
    assert set(found(codes_index, "C00000")) == {1, 2, 3, 4, 5, 6}
