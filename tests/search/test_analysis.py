"""Unit tests of search_index.analysis (pure functions)."""
from __future__ import annotations

from search_index.analysis import bigram_tokens, bigrams, digit_tail_keys, normalise, pinyin_keys, query_terms, tokenize


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


def test_digit_tail_keys():
    assert digit_tail_keys("138-1234-5678") == {"13812345678", "5678", "345678"}
    assert digit_tail_keys("+86 138 1234 5678") == {"13812345678", "5678", "345678"}
    assert digit_tail_keys("11010519491231002X") == {"11010519491231002x", "002x", "31002x"}
    assert digit_tail_keys("12") == set()
    assert digit_tail_keys(None) == set()
