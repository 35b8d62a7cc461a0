from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainable.data.glossary import Term
from trainable.eval.terminology import TermMatcher, matcher_for, normalize_ja, score_terms

GLOSSARY = [
    Term("server", ("サーバー",), ("サーバ",)),
    Term("policy", ("ポリシー",)),
    Term("class", ("クラス",)),
    Term("load balancer", ("ロードバランサー",)),
    Term("load", ("読み込み", "ロード")),
    Term("balancer", ("バランサー",)),
    Term("folder", ("フォルダー", "フォルダ")),
    Term("read-only", ("読み取り専用",)),
    Term("notification", ("通知",), ("お知らせ",)),
    Term("font size", ("フォントサイズ",), ("サイズ",)),
]


def _found(src: str) -> list[str]:
    m = TermMatcher(GLOSSARY)
    return [m.terms[i].en for i in m.find_terms(src)]


def _one(src: str, hyp: str) -> tuple[int, int, int]:
    s = score_terms([src], [hyp], GLOSSARY)
    return s.hits, s.total, s.forbidden


def test_case_insensitive_whole_words() -> None:
    assert _found("Restart the SERVER now") == ["server"]
    assert _found("The serverless setup") == []
    assert _found("Classic mode") == []


@pytest.mark.parametrize(("src", "term"), [("two servers", "server"), ("all classes", "class"),
                                           ("IKE policies", "policy"), ("Policy", "policy")])
def test_plural_forms(src: str, term: str) -> None:
    assert _found(src) == [term]


def test_multi_word_term_with_any_whitespace() -> None:
    assert _found("Add a load\n\t balancers pool") == ["load balancer"]
    assert _one("Add a load   balancer", "ロードバランサーを追加") == (1, 1, 0)


def test_overlap_longest_term_wins() -> None:
    assert _found("Delete the load balancer") == ["load balancer"]
    assert _found("Load the balancer, then the load balancer") == ["load", "balancer", "load balancer"]


def test_hyphenated_term() -> None:
    assert _found("Make it Read-Only") == ["read-only"]
    assert _found("read only") == []


def test_term_counts_once_per_segment() -> None:
    assert _one("server and server", "サーバー") == (1, 1, 0)


def test_japanese_whitespace_removed_on_both_sides() -> None:
    matcher = TermMatcher([Term("load balancer", ("ロード バランサー",))])
    assert matcher.score(["load balancer"], ["ロードバランサー を 作成"]).hits == 1
    assert matcher.score(["load balancer"], ["ロード\u3000バランサー"]).hits == 1


def test_nfkc_full_and_half_width() -> None:
    assert _one("server", "ｻｰﾊﾞｰを再起動") == (1, 1, 0)  # half-width katakana
    matcher = TermMatcher([Term("api", ("API",))])
    assert matcher.score(["the API"], ["ＡＰＩを呼ぶ"]).hits == 1  # full-width Latin


def test_long_vowel_rule() -> None:
    matcher = TermMatcher([Term("server", ("サーバ",))])
    assert matcher.score(["server"], ["サーバーを起動"]).hits == 0
    assert matcher.score(["server"], ["サーバを起動"]).hits == 1
    assert matcher.score(["server"], ["サーバーとサーバ"]).hits == 1


def test_alternatives_any_one_hits() -> None:
    assert _one("Open folder", "フォルダを開く") == (1, 1, 0)
    assert _one("Open folder", "フォルダーを開く") == (1, 1, 0)
    assert _one("Open folder", "ディレクトリを開く") == (0, 1, 0)


def test_forbidden_renderings_counted() -> None:
    assert _one("notification", "お知らせ") == (0, 1, 1)
    assert _one("notification", "通知とお知らせ") == (1, 1, 1)
    # サーバ is forbidden, but not inside サーバー (long-vowel rule)
    assert _one("server", "サーバー") == (1, 1, 0)
    assert _one("server", "サーバ") == (0, 1, 1)
    # a forbidden rendering inside an approved one does not count
    assert _one("font size", "フォントサイズ") == (1, 1, 0)
    assert _one("font size", "文字のサイズ") == (0, 1, 1)


def test_per_term_breakdown_and_acc() -> None:
    scores = score_terms(["server", "Servers and policies", "nothing here"],
                         ["サーバー", "サーバとポリシー", "なし"], GLOSSARY)
    assert (scores.hits, scores.total, scores.forbidden) == (2, 3, 1)
    assert scores.acc == pytest.approx(2 / 3)
    server = scores.per_term["server"]
    assert (server.total, server.hits, server.forbidden) == (2, 1, 1)
    assert score_terms(["nothing"], ["なし"], GLOSSARY).acc is None


def test_matcher_is_cached_per_glossary() -> None:
    assert matcher_for(GLOSSARY) is matcher_for(list(GLOSSARY))


def test_normalize_ja() -> None:
    assert normalize_ja(" ｱｲ ｳ\u3000ＡＢ\n") == "アイウAB"


_EN_WORD = st.text(string.ascii_lowercase, min_size=1, max_size=8)
_JA_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=10)


@settings(max_examples=200, deadline=None)
@given(words=st.lists(_EN_WORD, min_size=1, max_size=3), renderings=st.lists(_JA_TEXT, min_size=1, max_size=3),
       pick=st.integers(min_value=0), context=st.sampled_from(["{}", "Open the {} now", "{}: settings"]))
def test_property_hypothesis_equal_to_approved_rendering_hits(
    words: list[str], renderings: list[str], pick: int, context: str
) -> None:
    renderings = [r for r in renderings if normalize_ja(r)] or ["用語"]
    term = Term(" ".join(words), tuple(renderings))
    hyp = renderings[pick % len(renderings)]
    scores = TermMatcher([term]).score([context.format(term.en.upper())], [hyp])
    assert (scores.hits, scores.total) == (1, 1)
