"""Chinese text analysis for the search index: pure functions, no Whoosh imports.

The same steps at index and query time:

1. :func:`normalise` -- NFKC (full-width forms, Kangxi radicals, circled numbers), lower case,
   OpenCC ``t2s`` (Traditional -> Simplified, so a query in either script matches text in either),
   and whitespace between two Han characters removed (OCR output puts spaces inside words).
2. :func:`runs` / :func:`split_runs` -- the normalised text is cut into *runs*: maximal sequences
   of Han characters and digits together (``3栋2单元``), or Latin words (``crm``, ``d30``).
3. :func:`bigrams` -- the overlapping two-character terms of one Han/digit run. It is the only
   place bigrams are made: what the index writes (``schema.Analysed``) and what a query looks up
   (:func:`query_terms`, ``planning.Substring``) cannot drift apart.

The index (schema version 4) holds, per text field, the distinct bigrams of its runs and its
Latin words (no positions); :func:`run_text` (the runs joined by ``|``) for the exact-substring
check of multi-character queries; :func:`run_chars` for one-character queries.

:func:`bigram_tokens` (and :func:`tokenize`) is the tokenisation of the text fields' Whoosh
analyzer: bigrams with positions and a tail unigram per run. The index does not write it; it is
kept for Whoosh's analyzer protocol and for looking at how a text is cut.
"""
from __future__ import annotations

import functools
import itertools
import re
import threading
import unicodedata
from dataclasses import dataclass

import opencc

# Han ideographs (CJK unified + extension A + compatibility; NFKC already folds most of the latter).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_SPACE_RE = re.compile(rf"(?<=[{_HAN}])\s+(?=[{_HAN}])")
_RUN_RE = re.compile(rf"[{_HAN}0-9]+|[a-z][a-z0-9]*")
_HAN_RE = re.compile(rf"[{_HAN}]")

_local = threading.local()


def _converter() -> opencc.OpenCC:
    # One converter per thread: the C++ object is not documented as thread-safe.
    conv = getattr(_local, "t2s", None)
    if conv is None:
        conv = _local.t2s = opencc.OpenCC("t2s")
    return conv


def t2s(text: str) -> str:
    """Traditional -> Simplified Chinese with OpenCC (phrase-aware)."""
    if not text:
        return ""
    return _converter().convert(text)


def normalise(text: str | None) -> str:
    """NFKC, lower case, Traditional -> Simplified, no whitespace between Han characters."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).lower()
    text = t2s(text)
    return _HAN_SPACE_RE.sub("", text)


def runs(normalised: str) -> list[str]:
    """Han+digit runs and Latin words of an already normalised text, in order."""
    return _RUN_RE.findall(normalised)


def is_latin(run: str) -> bool:
    """True for a Latin word of :func:`runs` (False: a Han/digit run)."""
    return "a" <= run[0] <= "z"


def bigrams(run: str) -> list[str]:
    """The overlapping bigrams of one Han/digit run, in order (none for one character).

    ``bigrams("阳光花园") == ["阳光", "光花", "花园"]``. Indexing and query planning both take their
    bigrams from here (``schema.Analysed.keys`` packs these same bigrams as integers).
    """
    return [run[i:i + 2] for i in range(len(run) - 1)]


def bigram_tokens(normalised: str) -> list[tuple[str, int]]:
    """``(term, position)`` pairs of an already normalised text: each Han/digit run's bigrams,
    then its last character (a tail unigram) at the last bigram's position; one-character runs
    and Latin words whole. One free position separates runs, so no phrase spans punctuation."""
    out: list[tuple[str, int]] = []
    append = out.append
    pos = 0
    for run in _RUN_RE.findall(normalised):
        n = len(run)
        if n == 1 or "a" <= run[0] <= "z":
            append((run, pos))
            pos += 2
            continue
        for i, gram in enumerate(bigrams(run)):
            append((gram, pos + i))
        append((run[-1], pos + n - 2))
        pos += n
    return out


FIELD_SEPARATOR = "|"  # joins the fields of the combined ``all`` field: breaks runs, never removed


def split_runs(normalised: str) -> tuple[list[str], dict[str, int]]:
    """(Han/digit runs in order, {latin word: count}) of an already normalised text."""
    words: dict[str, int] = {}
    han: list[str] = []
    for run in _RUN_RE.findall(normalised):
        if "a" <= run[0] <= "z":
            words[run] = words.get(run, 0) + 1
        else:
            han.append(run)
    return han, words


def run_text(runs_: list[str]) -> str:
    """The Han/digit runs joined by the field separator: a Han/digit string ``s`` is a substring
    of one run iff ``s in run_text(...)`` (exact substring check of a query part)."""
    return FIELD_SEPARATOR.join(runs_)


def run_chars(normalised: str) -> set[str]:
    """The characters of the Han/digit runs (what a one-character query looks for)."""
    out: set[str] = set()
    for run in _RUN_RE.findall(normalised):
        if not ("a" <= run[0] <= "z"):
            out.update(run)
    return out


def tokenize(text: str) -> list[str]:
    """Terms of a raw text (normalised first), in order; handy for tests and debugging."""
    return [t for t, _ in bigram_tokens(normalise(text))]


@dataclass(frozen=True)
class QueryPart:
    """One part of a planned text query.

    kind: ``"phrase"`` (terms = consecutive bigrams, an exact substring), ``"prefix"`` (one Han
    character or digit), or ``"word"`` (one Latin word).
    """

    kind: str
    terms: tuple[str, ...]
    text: str  # the normalised run, for highlighting


def query_terms(text: str) -> list[QueryPart]:
    """Plan a free-text query: one :class:`QueryPart` per run of the normalised input."""
    parts: list[QueryPart] = []
    for run in runs(normalise(text)):
        if is_latin(run):
            parts.append(QueryPart("word", (run,), run))
        elif len(run) == 1:
            parts.append(QueryPart("prefix", (run,), run))
        else:
            parts.append(QueryPart("phrase", tuple(bigrams(run)), run))
    return parts


# ---------------------------------------------------------------------------------------------
# Pinyin keys for names

#: Surnames whose reading differs from the most common reading of the character.
SURNAME_PINYIN: dict[str, str] = {
    "曾": "zeng", "单": "shan", "解": "xie", "区": "ou", "仇": "qiu", "查": "zha", "朴": "piao",
    "覃": "qin", "翟": "zhai", "尉": "yu", "乐": "yue", "缪": "miao", "盖": "ge", "种": "chong",
    "秘": "bi", "隗": "wei", "召": "shao", "繁": "po", "员": "yun", "黑": "he", "柏": "bai",
    "沈": "shen", "重": "chong", "薄": "bo", "句": "gou", "莘": "shen", "贾": "jia", "藏": "zang",
    "任": "ren", "华": "hua", "纪": "ji", "燕": "yan", "冼": "xian", "那": "na", "牟": "mou",
    "瞿": "qu", "宿": "su", "车": "che", "祭": "zhai", "长": "chang", "都": "du",
    "令": "ling", "石": "shi", "万": "wan", "折": "she", "阚": "kan", "佴": "nai", "能": "nai",
    "过": "guo", "殷": "yin", "叶": "ye", "曲": "qu", "传": "chuan", "应": "ying", "尹": "yin",
    "朝": "chao", "卜": "bu", "阿": "a", "禚": "zhuo", "眭": "sui", "郇": "huan", "蕃": "pi",
}

#: Compound (two-character) surnames and their readings.
COMPOUND_SURNAMES: dict[str, str] = {
    "欧阳": "ouyang", "司马": "sima", "诸葛": "zhuge", "上官": "shangguan", "东方": "dongfang",
    "皇甫": "huangfu", "尉迟": "yuchi", "公孙": "gongsun", "令狐": "linghu", "慕容": "murong",
    "夏侯": "xiahou", "长孙": "zhangsun", "宇文": "yuwen", "司徒": "situ", "澹台": "tantai",
    "万俟": "moqi", "单于": "chanyu", "呼延": "huyan", "端木": "duanmu", "轩辕": "xuanyuan",
    "独孤": "dugu", "南宫": "nangong", "闻人": "wenren", "东郭": "dongguo", "百里": "baili",
    "钟离": "zhongli", "宗政": "zongzheng", "濮阳": "puyang", "公冶": "gongye", "太叔": "taishu",
    "申屠": "shentu", "西门": "ximen", "第五": "diwu", "司空": "sikong", "赫连": "helian",
    "拓跋": "tuoba", "左丘": "zuoqiu", "公羊": "gongyang", "乐正": "yuezheng", "仲孙": "zhongsun",
}

MAX_PINYIN_COMBINATIONS = 16


def _syllables(ch: str) -> list[str]:
    from pypinyin import Style, pinyin

    readings = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
    out: list[str] = []
    for group in readings:
        for r in group:
            r = r.replace("ü", "v")
            if r.isalpha() and r.isascii() and r not in out:
                out.append(r)
    return out[:4]


def _split_surname(name: str) -> tuple[list[list[str]], str]:
    """Per-syllable reading choices for the surname, and the rest of the name."""
    if name[:2] in COMPOUND_SURNAMES:
        full = COMPOUND_SURNAMES[name[:2]]
        # split the compound reading into its two syllables (for initials): use pypinyin for the
        # boundary when it agrees, else the table reading as one block plus its two initials.
        for cut in range(1, len(full)):
            a, b = full[:cut], full[cut:]
            if a in _syllables(name[0]) and b in _syllables(name[1]):
                return [[a], [b]], name[2:]
        return [[full]], name[2:]
    if name[0] in SURNAME_PINYIN:
        return [[SURNAME_PINYIN[name[0]]]], name[1:]
    return [], name


def pinyin_keys(name: str | None) -> set[str]:
    """Full pinyin (no spaces) and initials of a Chinese name, over heteronym combinations.

    The surname table fixes the reading of the first character (or the first two for compound
    surnames such as 欧阳 / 司马 / 诸葛). At most ``MAX_PINYIN_COMBINATIONS`` combinations.
    Non-Han names (companies with Latin names) give their normalised Latin words.
    """
    return set(_pinyin_keys(name or ""))


# a customer has several records (a rebuild meets each name ~7 times) and pypinyin costs
# ~0.1 ms a name: remember the last names
@functools.lru_cache(maxsize=32_768)
def _pinyin_keys(name: str) -> frozenset[str]:
    return frozenset(_compute_pinyin_keys(name))


def _compute_pinyin_keys(name: str) -> set[str]:
    norm = normalise(name)
    han = "".join(_HAN_RE.findall(norm))
    keys: set[str] = set()
    if not han:
        return {w for w in runs(norm) if is_latin(w)}
    choices, rest = _split_surname(han)
    for ch in rest:
        syl = _syllables(ch)
        if syl:
            choices.append(syl)
    if not choices:
        return keys
    for combo in itertools.islice(itertools.product(*choices), MAX_PINYIN_COMBINATIONS):
        keys.add("".join(combo))
        keys.add("".join(s[0] for s in combo))
    return keys


# ---------------------------------------------------------------------------------------------
# Phone and ID numbers

_NUM_CLEAN_RE = re.compile(r"[^0-9x]")


def clean_number(number: str | None) -> str:
    """Digits (and a trailing ID check letter x) of a phone or ID number; +86/0086 dropped."""
    if not number:
        return ""
    s = _NUM_CLEAN_RE.sub("", unicodedata.normalize("NFKC", number).lower())
    if len(s) == 13 and s.startswith("86"):
        s = s[2:]
    elif len(s) == 15 and s.startswith("0086"):
        s = s[4:]
    return s


# ---------------------------------------------------------------------------------------------
# Numbers and codes (schema version 5)
#
# One vocabulary of keys for every field that holds numbers: the record's text, the phones and
# ID number, the 客户号 and the 档号. A query that looks like a number or a code is turned into
# keys by :func:`query_code_keys` and looked up exactly, never as a substring or a term prefix,
# so its cost is one posting list per key. The functions are pure (strings in, strings out) so
# that any backend can store the same keys.

#: A code as printed: letters and digits, segments joined by one ``-``, ``/`` or ``.`` (OCR may
#: put one space beside the joiner: ``No. 0051971``).
_CODE_TOKEN_RE = re.compile(r"[a-z0-9]+(?:\s?[-/.]\s?[a-z0-9]+)*")
_CODE_FULL_RE = re.compile(r"[a-z0-9]+(?:[-/.][a-z0-9]+)*")
_DIGIT_RUN_RE = re.compile(r"[0-9]+")
_NOT_ALNUM_RE = re.compile(r"[^a-z0-9]")
_SPACE_RE = re.compile(r"\s")
_ID_SHAPE_RE = re.compile(r"[0-9]+x")

#: Key marks: a tail (the last 4 or more digits of a longer number) and a 档号 prefix at a segment
#: boundary; an unmarked key is the whole thing (as typed, without joiners, or its digits alone).
TAIL_MARK = "~"
PREFIX_MARK = "^"
MIN_TAIL = 4
#: Tails are keyed up to this many digits: each tail of 6 or more digits is nearly a term of its
#: own, and every term costs the index ~100 bytes and the writer ~15 us (keying an ID number's
#: every tail made the 100k index 70 % larger). A longer tail is looked up by its last MAX_TAIL.
MAX_TAIL = 8
#: A query of this many digits or more is a whole number (an ID number), not a tail: no one types
#: the last 15 characters of an ID, and its last 8 (birthday, sequence, check) are not unique.
WHOLE_ONLY = 15
#: A text token counts as a number or code from this many digits (a run of fewer is found as
#: text: ``query_code_keys`` leaves such input to the substring search).
MIN_CODE_DIGITS = 3


def number_tails(number: str) -> set[str]:
    """Tail keys of a digit string (an ID number may end in ``x``): each of its last 4, 5, ...
    ``MAX_TAIL`` characters, the whole excluded."""
    n = len(number)
    return {TAIL_MARK + number[-k:] for k in range(MIN_TAIL, min(n, MAX_TAIL + 1)) if k < n}


def _number_of(token: str) -> str:
    """The digits of a code (an ID-shaped ``...x`` keeps its check letter)."""
    if _ID_SHAPE_RE.fullmatch(token):
        return token
    return "".join(_DIGIT_RUN_RE.findall(token))


def token_keys(token: str) -> set[str]:
    """Keys of one number or code as it occurs (normalised, lower case): the token without its
    joiners, its digits alone, each digit run of 4 or more, and the tails of its digits and of
    those runs. Empty below ``MIN_CODE_DIGITS`` digits."""
    typed = _SPACE_RE.sub("", token)
    digits = _number_of(typed)
    if len(digits.rstrip("x")) < MIN_CODE_DIGITS:
        return set()
    if digits == typed:  # a plain number (or an ID number with its check letter)
        return {typed} | number_tails(typed) if len(typed) >= MIN_TAIL else set()
    # the code without its joiners stands for it as typed too: a query is looked up that way
    # (``HT-2024-0012`` and ``ht20240012`` alike), so the printed form needs no key of its own
    keys = {_NOT_ALNUM_RE.sub("", typed), digits}
    keys |= number_tails(digits)
    for run in _DIGIT_RUN_RE.findall(typed):
        if len(run) >= MIN_TAIL and run != digits:
            keys.add(run)
            keys |= number_tails(run)
    if len(digits) < MIN_TAIL:  # a 3-digit number: its text search finds it (substring)
        keys.discard(digits)
    return keys


def code_keys(normalised: str) -> set[str]:
    """Keys of every number and code in an already normalised text (see :func:`token_keys`)."""
    keys: set[str] = set()
    for m in _CODE_TOKEN_RE.finditer(normalised):
        keys |= token_keys(m.group())
    return keys


def phone_id_keys(number: str | None) -> set[str]:
    """Keys of a phone or ID number: the whole (``+86`` dropped) and its tails."""
    s = clean_number(number)
    if len(s) < MIN_TAIL:
        return set()
    return {s} | number_tails(s)


def archival_code_keys(code: str | None) -> set[str]:
    """Keys of a 档号 (``0001-2026-D30-C000042-3-0007``): the whole without its dashes, and
    every shorter prefix of two or more segments, without dashes too (``^00012026``, ``^00012026d30``):
    a query of the first segments, dashed or not, is looked up that way. Segments have fixed
    widths, so dropping the dashes joins no two 档号.

    No keys for the single segments: the 全宗号 and the year each hold a large share of all
    records; the 客户号 segment has keys of its own (:func:`customer_no_keys`)."""
    s = normalise(code).strip()
    if not s:
        return set()
    segs = s.split("-")
    keys = {"".join(segs)}
    # the whole is its own exact key: a query of all segments finds it so (one term less each)
    for i in range(2, len(segs)):
        keys.add(PREFIX_MARK + "".join(segs[:i]))
    return keys


def customer_no_keys(customer_no: str | None) -> set[str]:
    """Keys of a 客户号 (``C000042``): as typed, its digits, their tails."""
    s = normalise(customer_no).strip()
    if not s:
        return set()
    return {s} | token_keys(s)


@dataclass(frozen=True)
class CodeQuery:
    """The keys a number or code query looks up (see :func:`query_code_keys`).

    exact: the whole code without joiners (and, digits only, with ``+86`` dropped); tail: the
    tail key (digits only, 4 or more); prefixes: the 档号 prefix key (input with a dash, or 8
    or more characters); custno_prefix: a 客户号 prefix (one letter and 4 or
    more digits) to expand over the 客户号 keys."""

    exact: tuple[str, ...]
    tail: str | None
    prefixes: tuple[str, ...]
    custno_prefix: str | None
    text: str  # the normalised input, for highlighting


_CUSTNO_SHAPE_RE = re.compile(r"[a-z][0-9]{4,}")
_LETTER_RE = re.compile(r"[a-z]")


def query_code_keys(text: str) -> CodeQuery | None:
    """The keys of a query that is one number or code, or None if it is not one.

    A number or code: letters and digits in segments joined by ``-``, ``/``, ``.`` (spaces
    allowed only inside an all-digit number: ``138 0013 8000``), holding 4 or more digits, or
    3 or more beside letters (``G123``). Fewer digits, Han characters or letters only: None
    (text or pinyin). Digits alone look up the number exactly and as a tail; a code with letters
    looks up only its whole forms (``G1234`` must not find every number ending in 1234)."""
    s = unicodedata.normalize("NFKC", text or "").lower().strip().strip("-/.")
    if re.fullmatch(r"\+?[0-9][0-9\s\-]*x?", s):  # a phone or ID number, perhaps spaced
        s = _SPACE_RE.sub("", s).lstrip("+")
    if not _CODE_FULL_RE.fullmatch(s):
        return None
    compact = _NOT_ALNUM_RE.sub("", s)
    number = _number_of(s)
    has_letters = not _ID_SHAPE_RE.fullmatch(compact) and _LETTER_RE.search(compact) is not None
    if len(number) < (MIN_CODE_DIGITS if has_letters else MIN_TAIL):  # ``1002x``: an ID tail
        return None
    exact = [compact]  # keys hold codes without their joiners (see token_keys)
    tail = None
    if not has_letters:
        exact.append(number)
        cleaned = clean_number(number)
        exact.append(cleaned)  # +86 / 0086 dropped, as the phone keys are
        if len(number) < WHOLE_ONLY:  # a longer tail: by its last MAX_TAIL (see there)
            tail = TAIL_MARK + number[-MAX_TAIL:]
    prefixes: tuple[str, ...] = ()
    if "-" in s or len(compact) >= 8:
        prefixes = (PREFIX_MARK + compact,)
    custno = compact if _CUSTNO_SHAPE_RE.fullmatch(compact) else None
    return CodeQuery(tuple(dict.fromkeys(exact)), tail, prefixes, custno, s)
