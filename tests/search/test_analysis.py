"""Unit tests of search_index.analysis (pure functions)."""
from __future__ import annotations

from search_index.analysis import (
    archival_code_keys,
    bigram_tokens,
    bigrams,
    code_keys,
    customer_no_keys,
    normalise,
    phone_id_keys,
    pinyin_keys,
    query_code_keys,
    query_terms,
    tokenize,
)


def test_normalise_nfkc_lower_and_t2s():
    assert normalise("ＡＢＣ１２３") == "abc123"
    assert normalise("房地產客戶檔案") == "房地产客户档案"
    assert normalise("溫馨卡錄入統一標準") == "温馨卡录入统一标准"
    assert normalise("核⼼") == "核心"  # Kangxi radical folded by NFKC
    assert normalise(None) == "" and normalise("") == ""


def test_normalise_strips_spaces_between_han_only():
    assert normalise("在 在媒介 越来越多") == "在在媒介越来越多"
    assert normalise("现在互动性和定制 性带来了") == "现在互动性和定制性带来了"
    assert normalise("阳光\u3000花园") == "阳光花园"
    assert normalise("CRM 系统") == "crm 系统"
    assert normalise("hello  world") == "hello  world"


def test_bigrams_of_a_run():
    assert bigrams("阳光花园") == ["阳光", "光花", "花园"]
    assert bigrams("3栋") == ["3栋"]
    assert bigrams("张") == []


def test_bigrams_with_tail_unigram_at_last_bigram_position():
    assert bigram_tokens("阳光花园") == [("阳光", 0), ("光花", 1), ("花园", 2), ("园", 2)]
    assert bigram_tokens("张") == [("张", 0)]


def test_han_and_digits_form_one_run_latin_words_whole():
    assert tokenize("3栋2单元") == ["3栋", "栋2", "2单", "单元", "元"]
    assert tokenize("CRM管理 d30") == ["crm", "管理", "理", "d30"]


def test_runs_are_separated_by_a_position_gap():
    toks = bigram_tokens("客户，档案")
    pos = dict(toks)
    assert pos["档案"] > pos["客户"] + 1  # no phrase can span the comma


def test_traditional_and_simplified_tokenise_alike():
    assert tokenize("房地產客戶檔案") == tokenize("房地产客户档案")


def test_query_terms_plan():
    parts = query_terms("阳光花园")
    assert [(p.kind, p.terms) for p in parts] == [("phrase", ("阳光", "光花", "花园"))]
    assert [(p.kind, p.terms) for p in query_terms("張")] == [("prefix", ("张",))]
    assert [(p.kind, p.terms) for p in query_terms("CRM")] == [("word", ("crm",))]
    assert [p.kind for p in query_terms("客户, 档案")] == ["phrase", "phrase"]


def test_pinyin_full_and_initials():
    keys = pinyin_keys("张三")
    assert {"zhangsan", "zs"} <= keys


def test_pinyin_surname_table():
    cases = {"曾": "zeng", "单": "shan", "解": "xie", "区": "ou", "仇": "qiu", "查": "zha",
             "朴": "piao", "覃": "qin", "翟": "zhai"}
    for surname, reading in cases.items():
        keys = pinyin_keys(surname + "伟")
        assert reading + "wei" in keys, (surname, keys)
        assert reading[0] + "w" in keys
        # the surname reading is fixed: no key with another reading of the first character
        assert all(k.startswith(reading) for k in keys if len(k) > 2), (surname, keys)


def test_pinyin_compound_surnames():
    assert {"ouyangxiu", "oyx"} <= pinyin_keys("欧阳修")
    assert {"simaqian", "smq"} <= pinyin_keys("司马迁")
    assert "zhugeliang" in pinyin_keys("诸葛亮")
    assert "shangguanwaner" in pinyin_keys("上官婉儿")


def test_pinyin_heteronyms_in_given_name_and_traditional_input():
    keys = pinyin_keys("王长")
    assert {"wangchang", "wangzhang"} <= keys
    assert "ouyangxiu" in pinyin_keys("歐陽修")


def test_pinyin_combinations_are_bounded():
    assert len(pinyin_keys("王长长长长长长长")) <= 32


def test_phone_id_keys_whole_and_tails_of_4_to_8():
    assert phone_id_keys("138-1234-5678") == {"13812345678", "~5678", "~45678", "~345678",
                                              "~2345678", "~12345678"}
    assert phone_id_keys("+86 138 1234 5678") == phone_id_keys("13812345678")
    keys = phone_id_keys("11010519491231002X")
    assert {"11010519491231002x", "~002x", "~31002x", "~1231002x"} <= keys
    assert phone_id_keys("12") == set() and phone_id_keys(None) == set()


def test_code_keys_of_printed_numbers_and_codes():
    keys = code_keys(normalise("车次Ｇ1234，合同编号：HT-2024-0012号。收据 No. 0051971 金额123元"))
    # without joiners, digits alone, digit runs of 4 or more, tails of 4 or more
    assert {"g1234", "1234", "ht20240012", "20240012", "2024", "0012", "~0012",
            "~240012", "no0051971", "0051971", "~1971", "~51971"} <= keys
    assert "ht-2024-0012" not in keys  # a query is looked up without its joiners
    assert "123" not in keys and "~123" not in keys  # three digits: found as text
    assert "~0051971" not in keys  # a tail is shorter than the whole


def test_archival_code_and_customer_no_keys():
    keys = archival_code_keys("0001-2026-D30-C000042-3-0007")
    assert keys == {"00012026d30c00004230007", "^00012026", "^00012026d30", "^00012026d30c000042",
                    "^00012026d30c0000423"}
    # no key for the 全宗号 alone (every record) nor the year alone
    assert customer_no_keys("C000042") == {"c000042", "000042", "~0042", "~00042"}


def test_query_code_keys_by_shape():
    assert query_code_keys("G1234").exact == ("g1234",) and query_code_keys("G1234").tail is None
    q = query_code_keys("HT-2024-0012")
    assert q.exact == ("ht20240012",) and q.tail is None
    q = query_code_keys("1971")
    assert q.exact == ("1971",) and q.tail == "~1971" and q.prefixes == ()
    q = query_code_keys("0001-2020")
    assert q.exact == ("00012020",) and q.prefixes == ("^00012020",)
    assert query_code_keys("00012020").prefixes == ("^00012020",)
    assert query_code_keys("+86 138 0013 8000").exact == ("8613800138000", "13800138000")
    assert query_code_keys("138-0013-8000").exact == ("13800138000",)
    assert query_code_keys("1002X").tail == "~1002x"
    # a tail longer than 8 by its last 8; 15 digits or more: a whole ID number, no tail
    assert query_code_keys("0105194912").tail == "~05194912"
    assert query_code_keys("11010519491231002x").tail is None
    assert query_code_keys("C00004").custno_prefix == "c00004"
    for text in ("123", "d30", "张三", "阳光花园12栋", "", "ab-cd"):
        assert query_code_keys(text) is None, text
