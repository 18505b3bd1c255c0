"""Which language a message is written in, so the reply goes out in the person's language.

Why this design (measured, see machine-notes.md and the benchmark):

* lingua restricted to our 13 languages costs ~164-340 MB RSS in high-accuracy mode, over the
  150 MB budget; low-accuracy mode is ~30 MB but takes ~0.8 ms for a 200-word mail (our whole
  per-message budget is 1 ms) and misreads some short English lines.
* Function words decide the language of an ordinary mail almost for free: we already tokenise
  the text, and a dictionary lookup per token costs nothing.  So a word vote decides when it is
  clear, and lingua (low-accuracy, loaded on first use, fed at most 400 characters, choosing
  only among the vote's best ``LINGUA_CANDIDATES``) breaks ties on short or mixed texts such as
  "Hei! Please delete my data. Kiitos.".
* The vote's words are spaCy's stop-word lists plus the words of the training corpus that
  belong to one or two languages (``build_word_table``): on the held-out part this took the
  undecided share from 13 % to 4 % and language errors from 11 to 6 of 690.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

#: Languages we tell apart (ISO 639-1); anything else is read as the closest of these.
LANGUAGES: tuple[str, ...] = (
    "fi", "sv", "en", "de", "fr", "nl", "es", "it", "pt", "et", "da", "nb", "pl",
)  # fmt: skip
#: Languages we reply in; every other language gets English (domain: replies fi/sv/en).
REPLY_LANGUAGES = frozenset({"fi", "sv", "en"})
DEFAULT_LANGUAGE = "en"

#: Greetings, closings and request words that spaCy's stop-word lists lack but mails are full of.
_EXTRA_WORDS: dict[str, str] = {
    "fi": "hei moi moikka terve kiitos kiitoksia terveisin ystävällisin haluan haluaisin pyydän "
    "tietoni tietojeni tiedot tietoja poistakaa poistaa minun minut teidän teillä kiitos "
    "rekisteristä rekisteristänne asiakas uutiskirje uutiskirjeen markkinointi ja",
    "sv": "hej hejsan tack hälsningar vänliga mvh vänligen jag mig mina mitt min ni er era "
    "uppgifter personuppgifter ta bort radera nyhetsbrev och inte är på från",
    "en": "hi hello dear thanks thank please regards kind best my me i you your data delete "
    "remove information newsletter emails email stop sending unsubscribe the and",
    "de": "hallo guten tag danke bitte grüße freundlichen liebe sehr geehrte ich meine mir mich "
    "sie ihre daten löschen newsletter und nicht",
    "fr": "bonjour merci cordialement salutations madame monsieur je mes mon vous vos données "
    "supprimer lettre et",
    "nl": "hallo beste dank bedankt groeten vriendelijke ik mijn mij u uw gegevens verwijderen "
    "nieuwsbrief en niet",
    "es": "hola gracias saludos atentamente estimados yo mis mi usted sus datos eliminar "
    "borrar boletín y",
    "it": "ciao buongiorno grazie saluti cordiali gentili io miei mio mia voi vostri dati "
    "cancellare eliminare e",
    "pt": "olá obrigado obrigada cumprimentos atenciosamente eu meus meu minha vocês dados "
    "apagar eliminar e não",
    "et": "tere tänan aitäh lugupidamisega palun minu mind teie andmed kustutada kustutage "
    "uudiskiri ja ei on",
    "da": "hej tak hilsen venlig venlige jeg mig mine min jer jeres oplysninger data slet "
    "slette nyhedsbrev og ikke",
    "nb": "hei takk hilsen vennlig jeg meg mine min dere deres opplysninger data slett slette "
    "nyhetsbrev og ikke",
    "pl": "dzień dobry dziękuję pozdrawiam szanowni państwo proszę moje moich mnie dane usunięcie "
    "usunąć newsletter i nie",
}
_LINGUA_NAMES: dict[str, str] = {
    "fi": "FINNISH", "sv": "SWEDISH", "en": "ENGLISH", "de": "GERMAN", "fr": "FRENCH",
    "nl": "DUTCH", "es": "SPANISH", "it": "ITALIAN", "pt": "PORTUGUESE", "et": "ESTONIAN",
    "da": "DANISH", "nb": "BOKMAL", "pl": "POLISH",
}  # fmt: skip
_WORD_RE = re.compile(r"[^\W\d_]+")
#: The vote is trusted when the winner has this much evidence and this lead over the runner-up.
MIN_VOTES = 3.0
MIN_LEAD = 1.8
#: ... or this little evidence with this much lead (a one-liner: "delete my data pls").
SHORT_MIN_VOTES = 1.5
SHORT_MIN_LEAD = 3.0
LINGUA_MAX_CHARS = 400
#: lingua only chooses among the vote's best few: alone it misread short English lines
#: ("delete my data pls") as Polish or Estonian.
LINGUA_CANDIDATES = 3
#: A corpus word joins the vote table when it occurs in this many messages of a language ...
CORPUS_MIN_MESSAGES = 2
#: ... in at most this many languages, which hold this share of its occurrences.
CORPUS_MAX_LANGUAGES = 2
CORPUS_PURITY = 0.9
#: The vote reads the first ~80 words; more rarely changes the decision and costs time.
VOTE_MAX_CHARS = 500


def build_word_table(
    texts: Iterable[tuple[str, str]] = (),
) -> dict[str, dict[str, float]]:
    """word -> {language: weight}; a word shared by k languages weighs 1/k in each.

    Built from spaCy's per-language stop-word lists (shipped with spaCy, no download),
    ``_EXTRA_WORDS`` and the (text, language) pairs given, i.e. the training corpus: a word
    seen in ``CORPUS_MIN_MESSAGES`` messages of at most ``CORPUS_MAX_LANGUAGES`` languages.
    Stored with the model so loading needs no spaCy language modules.
    """
    langs_of: dict[str, set[str]] = {}
    for lang in LANGUAGES:
        module = importlib.import_module(f"spacy.lang.{lang}.stop_words")
        vocab: Iterable[str] = module.STOP_WORDS
        for word in [*vocab, *_EXTRA_WORDS[lang].split()]:
            word = word.lower()
            if _WORD_RE.fullmatch(word):
                langs_of.setdefault(word, set()).add(lang)
    seen: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for text, lang in texts:
        if lang in LANGUAGES:
            for word in set(_WORD_RE.findall(text.lower())):
                seen[word][lang] += 1
    for word, counts in seen.items():
        if word in langs_of or len(word) < 2:
            continue
        langs = {lang for lang, n in counts.items() if n >= CORPUS_MIN_MESSAGES}
        share = sum(counts[lang] for lang in langs) / sum(counts.values())
        if langs and len(langs) <= CORPUS_MAX_LANGUAGES and share >= CORPUS_PURITY:
            langs_of[word] = langs
    return {
        word: {lang: 1.0 / len(langs) for lang in sorted(langs)}
        for word, langs in sorted(langs_of.items())
    }


class LanguageIdentifier:
    """Function-word vote with a lazily loaded lingua tie-breaker.  Thread-safe."""

    def __init__(self, word_table: dict[str, dict[str, float]]) -> None:
        self._table = {word: tuple(weights.items()) for word, weights in word_table.items()}
        self._lingua: dict[tuple[str, ...], LanguageDetector] = {}
        self._lock = threading.Lock()

    def detect(self, text: str) -> str:
        """ISO 639-1 code of the main language of ``text`` (one of ``LANGUAGES``)."""
        votes = self.votes(text)
        ranked = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))
        if ranked:
            best, score = ranked[0]
            runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
            if score >= MIN_VOTES and score >= MIN_LEAD * runner_up:
                return best
            if score >= SHORT_MIN_VOTES and score >= SHORT_MIN_LEAD * runner_up:
                return best
        candidates = tuple(sorted(lang for lang, _ in ranked[:LINGUA_CANDIDATES])) or LANGUAGES
        if len(candidates) == 1:
            return candidates[0]
        guess = self._lingua_detect(text, candidates)
        if guess is not None:
            return guess
        return ranked[0][0] if ranked else DEFAULT_LANGUAGE

    def votes(self, text: str) -> dict[str, float]:
        """Function-word evidence per language."""
        table = self._table
        votes: dict[str, float] = {}
        for word in _WORD_RE.findall(text[:VOTE_MAX_CHARS].lower()):
            weights = table.get(word)
            if weights:
                for lang, weight in weights:
                    votes[lang] = votes.get(lang, 0.0) + weight
        return votes

    def _lingua_detect(self, text: str, candidates: tuple[str, ...]) -> str | None:
        sample = text[:LINGUA_MAX_CHARS]
        if not _WORD_RE.search(sample):
            return None
        language = self._detector(candidates).detect_language_of(sample)
        if language is None:
            return None
        code = language.iso_code_639_1.name.lower()
        return code if code in LANGUAGES else None

    def _detector(self, candidates: tuple[str, ...]) -> LanguageDetector:
        """One detector per candidate set (at most C(13, 3) + 1; lingua shares the language
        models between detectors, so each set costs only a small object)."""
        with self._lock:
            detector = self._lingua.get(candidates)
            if detector is None:
                from lingua import Language, LanguageDetectorBuilder

                languages = [getattr(Language, _LINGUA_NAMES[c]) for c in candidates]
                detector = self._lingua[candidates] = (
                    LanguageDetectorBuilder.from_languages(*languages)
                    .with_low_accuracy_mode()
                    .build()
                )
            return detector


def reply_language(lang: str) -> str:
    """The language we answer in: Finnish, Swedish, or English for everyone else."""
    return lang if lang in REPLY_LANGUAGES else DEFAULT_LANGUAGE
