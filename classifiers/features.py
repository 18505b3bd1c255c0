"""Text to the feature tokens the model sees: folded, tokenised, stemmed per language.

Why: spaCy's ``TextCatBOW`` hashes each token's ORTH (machine-notes.md), so inflection must be
removed *in the token text itself*, identically at training and inference, or "tietojeni",
"tiedot" and "tietoni" are three unrelated features.  We

1. lower-case and fold diacritics first ("pyyntö" and the misspelt "pyynto" become one word),
2. replace addresses, URLs and long numbers by placeholders (no personal data in features),
3. stem with the Snowball stemmer of the detected language (PyStemmer, C, ~2 M words/s),
4. undo Finnish consonant gradation, which Snowball leaves alone: in native Finnish words *d*
   only occurs as the weak grade of *t* (tiedot/tieto, pyydän/pyytää), and *-ks-* stems
   ("tilauks-") are the inflected form of *-s* nominatives ("tilaus").
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import Stemmer

#: Snowball algorithm per supported ISO 639-1 code.
STEMMER_NAMES: dict[str, str] = {
    "fi": "finnish",
    "sv": "swedish",
    "en": "english",
    "de": "german",
    "fr": "french",
    "nl": "dutch",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "et": "estonian",
    "da": "danish",
    "nb": "norwegian",
    "pl": "polish",
}

EMAIL_TOKEN = "xemailx"
URL_TOKEN = "xurlx"
NUMBER_TOKEN = "xnumx"
PHONE_TOKEN = "xphonex"
POSTCODE_TOKEN = "xpostx"

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_TOKEN_RE = re.compile(r"[a-z]+|[0-9]+")
#: Finnish/Swedish phone numbers as people write them: "050 338 1190", "+358 40 123 4567",
#: "070-318 44 26".  A new number is what a rectification often consists of.
#:
#: Written as ``(?<![0-9])(?:\+358[\s-]?|\+46[\s-]?|0)[0-9]{1,3}(?:[\s-]?[0-9]{2,4}){2,3}(?![0-9])``
#: but with the "no digit before" check moved behind the first character: a pattern that
#: starts with a look-behind is tried at every position (~11 us a mail), one that starts with
#: "+" or "0" only where those occur (~4 us).  The alternatives start with different characters,
#: so they are still tried in the same order with the same backtracking: same matches.
_PHONE_RE = re.compile(
    r"(?:\+(?<![0-9]\+)(?:358[\s-]?|46[\s-]?)|0(?<![0-9]0))"
    r"[0-9]{1,3}(?:[\s-]?[0-9]{2,4}){2,3}(?![0-9])"
)
#: A postcode before a place name ("40320 jyvaskyla", "652 30 vasa"): an address is written.
#: ``(?<![0-9])(?:[0-9]{5}|[0-9]{3} [0-9]{2})(?=\s+[a-z])`` with the look-behind moved behind
#: the first digit, for the same reason (~25 us -> ~5 us a mail, same matches).
_POSTCODE_RE = re.compile(r"[0-9](?<![0-9]{2})(?:[0-9]{4}|[0-9]{2} [0-9]{2})(?=\s+[a-z])")
#: Any digit / a run of four or more (the placeholders' cheap pre-checks; both start with a
#: character class, so the scan skips ahead in C).
_DIGIT_RE = re.compile(r"[0-9]")
_LONG_NUMBER_RE = re.compile(r"[0-9][0-9]{3}")
_SPECIAL_FOLDS = {"ß": "ss", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "þ": "th", "œ": "oe"}


def _build_fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        char = chr(code)
        low = char.lower()
        if low in _SPECIAL_FOLDS:
            table[code] = _SPECIAL_FOLDS[low]
            continue
        decomposed = unicodedata.normalize("NFKD", low)
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        if base != char and base.isascii():
            table[code] = base
    for src, dst in (("’", "'"), ("‘", "'"), ("`", "'")):
        table[ord(src)] = dst
    return table


_FOLD_TABLE = _build_fold_table()


_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]+")


def _fold_run(match: re.Match[str]) -> str:
    return match.group().translate(_FOLD_TABLE)


#: The commonest non-ASCII letters of our mail (Finnish and Swedish first), folded with one
#: ``str.replace`` each (a C scan): per-run translation costs a Python call per "ä".
_COMMON_FOLDS = tuple((char, _FOLD_TABLE[ord(char)]) for char in "äöåéüøæß")


def fold(text: str) -> str:
    """Lower-case ASCII-folded text: "Päivittäkää ÖVERSIKT" -> "paivittakaa oversikt".

    The translation is per character, so folding the common letters first and the remaining
    runs of non-ASCII characters through the table afterwards gives the same text.
    """
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    for char, folded in _COMMON_FOLDS:
        if char in lowered:
            lowered = lowered.replace(char, folded)
    return lowered if lowered.isascii() else _NON_ASCII_RE.sub(_fold_run, lowered)


@cache
def _stemmer(lang: str) -> Stemmer.Stemmer | None:
    name = STEMMER_NAMES.get(lang)
    return Stemmer.Stemmer(name) if name else None


def _replace_emails(text: str) -> str:
    """``_EMAIL_RE.sub(" xemailx ", text)``, but the pattern is only tried once per "@".

    Scanning for it costs ~40 us a mail: the local part ``[\\w.+-]+`` is tried from every
    word character.  A match holds exactly one "@" and its local part is the run of local-part
    characters right before it, so the scan's leftmost match for an "@" starts where that run
    starts (or where the previous replacement ended); if it fails there, no start in the run
    can succeed.
    """
    out: list[str] = []
    done = 0  # where the regex scan would resume: end of the last replacement
    at = text.find("@")
    while at >= 0:
        start = at
        while start > done and (text[start - 1].isalnum() or text[start - 1] in "_.+-"):
            start -= 1  # \\w is str.isalnum() or "_"
        match = _EMAIL_RE.match(text, start) if start < at else None
        if match is None:
            at = text.find("@", at + 1)
            continue
        out += (text[done:start], f" {EMAIL_TOKEN} ")
        done = match.end()
        at = text.find("@", done)
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def words(folded: str) -> list[str]:
    """Word tokens of folded text, with addresses, URLs, phone numbers, postcodes and long
    numbers as placeholders (the model learns "new number xphonex", not a person's number)."""
    if "@" in folded:
        folded = _replace_emails(folded)
    if "http" in folded or "www." in folded:
        folded = _URL_RE.sub(f" {URL_TOKEN} ", folded)
    if _DIGIT_RE.search(folded) is None:  # the placeholders (and their scans) need digits
        return _TOKEN_RE.findall(folded)
    if "0" in folded:  # every phone number holds a 0 (leading or after +358/+46)
        folded = _PHONE_RE.sub(f" {PHONE_TOKEN} ", folded)
    folded = _POSTCODE_RE.sub(f" {POSTCODE_TOKEN} ", folded)
    tokens: list[str] = _TOKEN_RE.findall(folded)
    if _LONG_NUMBER_RE.search(folded) is None:
        return tokens
    # A token is a maximal run of letters or of digits, so mapping the digit tokens of four or
    # more to the placeholder equals replacing [0-9]{4,} runs first (and skips a string copy).
    return [NUMBER_TOKEN if len(token) > 3 and token[0] <= "9" else token for token in tokens]


#: Per-language memo of token -> final stem: a dict lookup is ~3x cheaper than PyStemmer's own
#: cache, and mail vocabulary repeats.  Cleared when it grows past the limit.
_STEM_CACHE: dict[str, dict[str, str]] = {}
_STEM_CACHE_LIMIT = 200_000


def stem_words(tokens: list[str], lang: str) -> list[str]:
    """Stems of folded tokens in language ``lang`` (unknown language: tokens unchanged)."""
    stemmer = _stemmer(lang)
    if stemmer is None:
        return list(tokens)
    cache = _STEM_CACHE.get(lang)
    if cache is None or len(cache) > _STEM_CACHE_LIMIT:
        cache = _STEM_CACHE[lang] = {}
    try:
        return list(map(cache.__getitem__, tokens))
    except KeyError:
        missing = [tok for tok in dict.fromkeys(tokens) if tok not in cache]
        stems: list[str] = stemmer.stemWords(missing)
        if lang == "fi":
            stems = ungrade_fi(" ".join(stems)).split(" ")
        cache.update(zip(missing, stems, strict=True))
        return list(map(cache.__getitem__, tokens))


_KS_END_RE = re.compile(r"(?<=[a-z]{3})ks\b")


def ungrade_fi(stems: str) -> str:
    """Strong grade of space-separated Finnish stems: tiedo -> tieto, pyyd -> pyyt,
    tilauks -> tilaus (string-level so it costs no per-token Python call)."""
    if "d" in stems:
        stems = stems.replace("d", "t")
    return _KS_END_RE.sub("s", stems) if "ks" in stems else stems


def feature_tokens(text: str, lang: str) -> list[str]:
    """The model's tokens for ``text`` written in ``lang``."""
    return stem_words(words(fold(text)), lang)
