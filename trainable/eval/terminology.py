"""Glossary term matching: which terms a source contains and whether the hypothesis uses them.

English side: case-insensitive whole words, plurals (+s, +es, y->ies on the last word), any whitespace
between the words of a multi-word term; where matches overlap the longest one wins ("load balancer"
hides "load" and "balancer" inside it). A term counts once per segment.

Japanese side: NFKC, all whitespace removed from hypothesis and renderings, and a match immediately
followed by the long-vowel mark ``ー`` does not count (``サーバ`` is not found in ``サーバー``). A forbidden
rendering counts when it occurs outside every approved match.

Patterns are compiled once per glossary (:func:`matcher_for` caches them).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from trainable.data.glossary import Term

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
_LONG_VOWEL = "ー"


def normalize_ja(text: str) -> str:
    """NFKC, then every whitespace character removed."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


@dataclass
class TermStats:
    """Counts for one glossary term."""

    total: int = 0
    """Segments whose source contains the term."""
    hits: int = 0
    """Of those, segments whose hypothesis contains an approved rendering."""
    forbidden: int = 0
    """Of those, segments whose hypothesis contains a forbidden rendering."""


@dataclass
class TermScores:
    """Corpus-level terminology counts plus the per-term breakdown."""

    hits: int = 0
    total: int = 0
    forbidden: int = 0
    per_term: dict[str, TermStats] = field(default_factory=dict)

    @property
    def acc(self) -> float | None:
        """``hits / total``; None when no term occurs (never NaN)."""
        return self.hits / self.total if self.total else None


def _english_pattern(en: str) -> re.Pattern[str]:
    words = en.split()
    *head, last = words
    last_form = re.escape(last)
    if last[-1:].isalpha():
        last_form = f"(?:{re.escape(last)}(?:e?s)?"
        if last[-1] in "yY":
            last_form += f"|{re.escape(last[:-1])}ies"
        last_form += ")"
    body = r"\s+".join([re.escape(w) for w in head] + [last_form])
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def _japanese_pattern(renderings: Iterable[str]) -> re.Pattern[str] | None:
    forms = sorted({normalize_ja(r) for r in renderings} - {""}, key=len, reverse=True)
    if not forms:
        return None
    return re.compile("(?:" + "|".join(re.escape(f) for f in forms) + f")(?!{_LONG_VOWEL})")


def _word_keys(text: str) -> set[str]:
    """Lower-cased words of ``text`` plus their singular candidates (for the candidate prefilter)."""
    keys = set()
    for word in _WORD.findall(text.lower()):
        keys.add(word)
        if word.endswith("s"):
            keys.add(word[:-1])
            if word.endswith("es"):
                keys.add(word[:-2])
            if word.endswith("ies"):
                keys.add(word[:-3] + "y")
    return keys


class TermMatcher:
    """Precompiled matcher for one glossary."""

    def __init__(self, terms: Sequence[Term]) -> None:
        self.terms = tuple(terms)
        self._en = [_english_pattern(t.en) for t in self.terms]
        self._ja = [_japanese_pattern(t.ja) for t in self.terms]
        self._forbidden = [_japanese_pattern(t.forbidden) for t in self.terms]
        self._by_first_word: dict[str, list[int]] = {}
        self._always: list[int] = []  # terms without a word character: checked on every source
        for i, term in enumerate(self.terms):
            first = _WORD.search(term.en.lower())
            if first is None:
                self._always.append(i)
            else:
                self._by_first_word.setdefault(first.group(), []).append(i)

    def find_terms(self, src: str) -> list[int]:
        """Indices (into ``terms``) of the terms occurring in ``src``, overlaps resolved, in text order."""
        candidates = set(self._always)
        for key in _word_keys(src):
            candidates.update(self._by_first_word.get(key, ()))
        spans = []
        for i in candidates:
            spans.extend((m.start(), m.end(), i) for m in self._en[i].finditer(src))
        spans.sort(key=lambda s: (s[0] - s[1], s[0], self.terms[s[2]].en))  # longest first
        taken: list[tuple[int, int]] = []
        found: dict[int, int] = {}
        for start, end, i in spans:
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            found.setdefault(i, start)
        return sorted(found, key=found.__getitem__)

    def check(self, index: int, hyp_norm: str) -> tuple[bool, bool]:
        """(approved rendering present, forbidden rendering present) in a normalised hypothesis."""
        approved = self._ja[index]
        hit = bool(approved and approved.search(hyp_norm))
        forbidden_pat = self._forbidden[index]
        if forbidden_pat is None:
            return hit, False
        outside = approved.sub("\0", hyp_norm) if (approved and hit) else hyp_norm
        return hit, bool(forbidden_pat.search(outside))

    def score(self, srcs: Sequence[str], hyps: Sequence[str]) -> TermScores:
        """Terminology counts over a corpus (one unit per segment and occurring term)."""
        if len(srcs) != len(hyps):
            raise ValueError(f"{len(srcs)} sources but {len(hyps)} hypotheses")
        scores = TermScores()
        for src, hyp in zip(srcs, hyps, strict=True):
            indices = self.find_terms(src)
            if not indices:
                continue
            hyp_norm = normalize_ja(hyp)
            for i in indices:
                hit, bad = self.check(i, hyp_norm)
                stats = scores.per_term.setdefault(self.terms[i].en, TermStats())
                stats.total += 1
                stats.hits += hit
                stats.forbidden += bad
                scores.total += 1
                scores.hits += hit
                scores.forbidden += bad
        return scores


@functools.lru_cache(maxsize=8)
def _cached_matcher(terms: tuple[Term, ...]) -> TermMatcher:
    return TermMatcher(terms)


def matcher_for(terms: Sequence[Term]) -> TermMatcher:
    """The compiled matcher for ``terms`` (cached: a glossary is compiled once per process)."""
    return _cached_matcher(tuple(terms))


def score_terms(srcs: Sequence[str], hyps: Sequence[str], terms: Sequence[Term]) -> TermScores:
    """Shortcut: ``matcher_for(terms).score(srcs, hyps)``."""
    return matcher_for(terms).score(srcs, hyps)
