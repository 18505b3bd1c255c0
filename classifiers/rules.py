"""Unambiguous legal terms that name a GDPR right, per label.

Why: a letter citing "artikla 15", "Art. 17 DSGVO", "tarkastusoikeus", "registerutdrag" or
"droit d'accès" names the right it exercises, in any phrasing the corpus never saw.  The terms
are matched on folded text (lower case, no diacritics, see ``features.fold``) so "oikeus tulla
unohdetuksi" and a misspelt "oikeus tulla unohdetuksi" without umlauts both hit.  A hit is fed
to the model as an extra token (so it learns how much a citation weighs against, say, a
vendor's contract that merely mentions GDPR) and makes a below-threshold score go to staff
triage instead of being dropped silently (see ``decide``).
"""

from __future__ import annotations

import re
from itertools import chain

# Article numbers of the GDPR rights (Art. 19 is a controller duty, not a request).
_ARTICLE_LABELS = {
    "15": "access",
    "16": "rectification",
    "17": "erasure",
    "18": "restriction",
    "20": "portability",
    "21": "objection",
}
_ARTICLE_WORD = (
    r"(?:art|artt|artikla\w*|artiklan|artikel\w*|article|articulo|articolo|artigo|artikkel\w*"
    r"|artykul\w*|artikli\w*|artiklen)"
)
_ARTICLE_RE = re.compile(
    rf"\b{_ARTICLE_WORD}\s*\.?\s*(1[5-8]|2[01])\b(?!\s*[.,]\s*\d{{2,}})"
    rf"|\b(1[5-8]|2[01])\s*\.?\s*{_ARTICLE_WORD}\b"
)

# Folded (ASCII) spellings.  Keep each term something only a rights request would say.
_TERMS: dict[str, tuple[str, ...]] = {
    "access": (
        r"tarkastusoikeu\w*",
        r"tarkastuspyyn\w*",
        r"tietojen tarkastami\w*",
        r"rekisteriote\w*",
        r"tiedonsaantioikeu\w*",
        r"registerutdrag\w*",
        r"ratt(?:en)? till (?:tillgang|insyn)",
        r"begaran om (?:tillgang|insyn)",
        r"right of access",
        r"right to access",
        r"subject access request\w*",
        r"data subject access",
        r"\bdsar\b",
        r"auskunftsersuchen",
        r"auskunftsrecht\w*",
        r"auskunft nach",
        r"recht auf auskunft",
        r"droit d'acces",
        r"droit d acces",
        r"recht (?:op|van) inzage",
        r"inzageverzoek\w*",
        r"derecho de acceso",
        r"diritto di accesso",
        r"direito de acesso",
        r"ret til indsigt",
        r"indsigtsanmodning\w*",
        r"rett til innsyn",
        r"innsynsbegjaering\w*",
        r"innsynskrav\w*",
        r"prawo dostepu",
        r"juurdepaasuoigus\w*",
    ),
    "rectification": (
        r"oikaisuoikeu\w*",
        r"tietojen oikaisemise\w*",
        r"ratt(?:en)? till rattelse",
        r"right to rectification",
        r"right of rectification",
        r"recht auf berichtigung",
        r"droit de rectification",
        r"recht op rectificatie",
        r"derecho de rectificacion",
        r"diritto di rettifica",
        r"direito de (?:retificacao|rectificacao)",
        r"ret til berigtigelse",
        r"rett til (?:retting|korrigering)",
        r"prawo do sprostowania",
        r"parandamise oigus\w*",
    ),
    "erasure": (
        r"oikeu\w* tulla unohdetuksi",
        r"oikeus (?:tietojen )?poistamiseen",
        r"ratt(?:en)? att bli glomd",
        r"ratt(?:en)? till radering",
        r"right to (?:be forgotten|erasure)",
        r"recht auf (?:loschung|vergessenwerden|vergessen werden)",
        r"droit (?:a l'oubli|a l oubli|a l'effacement|a l effacement|a l’effacement)",
        r"recht op (?:vergetelheid|gegevenswissing|verwijdering)",
        r"derecho (?:de supresion|al olvido)",
        r"diritto (?:all'oblio|all oblio|alla cancellazione)",
        r"direito (?:ao apagamento|ao esquecimento)",
        r"ret til (?:sletning|at blive glemt)",
        r"rett til (?:sletting|a bli glemt)",
        r"prawo do (?:usuniecia|bycia zapomnian\w*)",
        r"oigus olla unustatud",
        r"kustutamise oigus\w*",
    ),
    "restriction": (
        r"kasittelyn rajoittami\w*",
        r"rajoittaa (?:tietojeni |henkilotietojeni )?kasittely\w*",
        r"begransning av behandling\w*",
        r"begransa behandling\w*",
        r"right to restrict\w*",
        r"restriction of processing",
        r"einschrankung der verarbeitung",
        r"limitation du traitement",
        r"beperking van (?:de )?verwerking",
        r"limitacion del tratamiento",
        r"limitazione del trattamento",
        r"limitacao do tratamento",
        r"begraensning af behandling\w*",
        r"begrensning av behandling\w*",
        r"ograniczenia przetwarzania",
        r"tootlemise piiramise\w*",
    ),
    "objection": (
        r"vastustamisoikeu\w*",
        r"vastustan (?:\w+ ){0,3}(?:kasittely\w*|kayttoa|profiloint\w*|suoramarkkinoint\w*)",
        r"ratt(?:en)? att invanda",
        r"invander mig mot",
        r"invandning mot (?:\w+ ){0,2}behandling\w*",
        r"right to object",
        r"i (?:hereby )?object to (?:the )?(?:processing|profiling|use of my)",
        r"widerspruchsrecht",
        r"widerspreche (?:hiermit )?(?:der|jeglicher) (?:verarbeitung|nutzung)",
        r"droit d'opposition",
        r"droit d opposition",
        r"je m'oppose au traitement",
        r"recht van bezwaar",
        r"bezwaar tegen (?:de )?verwerking",
        r"derecho de oposicion",
        r"me opongo al tratamiento",
        r"diritto di opposizione",
        r"mi oppongo al trattamento",
        r"direito de oposicao",
        r"oponho-me ao tratamento",
        r"ret til (?:at gore )?indsigelse",
        r"rett til (?:a )?protestere",
        r"prawo do sprzeciwu",
        r"vastuvaidlemise oigus\w*",
    ),
    "portability": (
        r"siirto-?oikeu\w*",
        r"siirrettavyy\w*",
        r"dataportabilitet\w*",
        r"data portability",
        r"right to portability",
        r"datenubertragbarkeit",
        r"portabilite des donnees",
        r"overdraagbaarheid",
        r"gegevensoverdraagbaarheid",
        r"portabilidad de (?:los |mis )?datos",
        r"portabilita dei dati",
        r"portabilidade dos dados",
        r"przenoszenia danych",
        r"andmete ulekandmise",
        r"andmete ulekantavus\w*",
    ),
}

_TERM_RES: dict[str, re.Pattern[str]] = {
    label: re.compile(r"\b(?:" + "|".join(terms) + r")") for label, terms in _TERMS.items()
}
_LITERAL_RE = re.compile(r"[a-z]+")
_GROUP_RE = re.compile(r"\(\?:[^()]*\)[?*]?")
_HEAD = 6
#: Longest stretch of a term before / from its trigger word (characters).
_WINDOW_BEFORE = 40
_WINDOW_AFTER = 90
_ARTICLE_TRIGGERS = frozenset({"art", "artt", "artikl", "artike", "articl", "articu", "artico",
                               "artigo", "artikk", "artyku"})  # fmt: skip


def _triggers(terms: tuple[str, ...]) -> frozenset[str]:
    """Per term, the first six letters of its first word longer than two letters (a word
    starting so must be in the message) - a 2-letter start like "i"/"je" would trigger always."""
    found = set()
    for term in terms:
        mandatory = term.removeprefix(r"\b").replace(r"\w", " ").replace(r"\b", " ")
        while "(" in mandatory:  # drop groups (alternatives or optional): not guaranteed
            reduced = _GROUP_RE.sub(" ", mandatory)
            if reduced == mandatory:
                break
            mandatory = reduced
        words = _LITERAL_RE.findall(mandatory)
        usable = [w for w in words if len(w) > 2]
        if not usable:
            raise ValueError(f"rule term without a literal start: {term!r}")
        found.add(usable[0][:_HEAD])
    return frozenset(found)


_TRIGGERS = {label: _triggers(terms) for label, terms in _TERMS.items()}
#: Word-head lengths to compare with the triggers (a trigger shorter than six letters is the
#: start of a longer word: "ratt" must meet "ratten").
_HEAD_SIZES = tuple(sorted({len(t) for ts in _TRIGGERS.values() for t in ts} | {3, 4, 6}))
_ALL_TRIGGERS = frozenset().union(_ARTICLE_TRIGGERS, *_TRIGGERS.values())
#: Word -> its heads that are triggers (most words: none); bounded like the stem cache.
_HEADS_CACHE: dict[str, tuple[str, ...]] = {}
_HEADS_CACHE_LIMIT = 200_000


def rule_hits(folded: str, words: list[str]) -> dict[str, list[str]]:
    """Label -> the legal terms found in ``folded`` text (``features.fold`` output), whose
    word tokens are ``words``.  A label's patterns only run when a word starts like one of its
    terms: scanning every position with ~150 alternatives costs ~0.5 ms per mail."""
    cache = _HEADS_CACHE
    if len(cache) > _HEADS_CACHE_LIMIT:
        cache.clear()
    try:  # the lookups run in C; a new word sends us through the loop once
        heads = set(chain.from_iterable(map(cache.__getitem__, words)))
    except KeyError:
        for word in words:
            if word not in cache:
                cache[word] = word_heads(word)
        heads = set(chain.from_iterable(map(cache.__getitem__, words)))
    return hits_for_heads(folded, heads)


def word_heads(word: str) -> tuple[str, ...]:
    """The beginnings of ``word`` that are trigger words of some rule (most words: none)."""
    return tuple(head for size in _HEAD_SIZES if (head := word[:size]) in _ALL_TRIGGERS)


def hits_for_heads(folded: str, heads: set[str]) -> dict[str, list[str]]:
    """``rule_hits`` given the trigger heads of the text's words (``word_heads``)."""
    hits: dict[str, list[str]] = {}
    if heads & _ARTICLE_TRIGGERS:
        for match in _ARTICLE_RE.finditer(folded):
            number = match.group(1) or match.group(2)
            hits.setdefault(_ARTICLE_LABELS[number], []).append(match.group(0))
    for label, pattern in _TERM_RES.items():
        triggers = heads & _TRIGGERS[label]
        if triggers:
            found = _search_near(pattern, folded, triggers)
            if found:
                hits.setdefault(label, []).extend(found)
    return hits


def _search_near(pattern: re.Pattern[str], folded: str, triggers: set[str]) -> list[str]:
    """Matches of ``pattern`` in windows around the trigger words only (terms are short), so
    a long mail is not scanned position by position with every alternative."""
    spans: dict[tuple[int, int], str] = {}
    for trigger in triggers:
        start = folded.find(trigger)
        while start >= 0:
            lo, hi = max(0, start - _WINDOW_BEFORE), start + _WINDOW_AFTER
            for match in pattern.finditer(folded, lo, hi):
                spans[match.span()] = match.group(0)
            start = folded.find(trigger, start + len(trigger))
    return [spans[span] for span in sorted(spans)]


def rule_tokens(hits: dict[str, list[str]]) -> list[str]:
    """Extra model tokens for rule hits: one marker per label hit."""
    return [f"xrule{label}x" for label in sorted(hits)]
