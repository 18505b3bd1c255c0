"""Extracted text to model input: language, rule hits and feature tokens, in one place.

Why one function: training and inference must turn text into tokens identically (spaCy's
``nlp.update`` does not run custom components, machine-notes.md), so both call ``prepare``.
"""

from __future__ import annotations

from dataclasses import dataclass

from classifiers.concepts import concept_tokens
from classifiers.features import fold, stem_words, words
from classifiers.langid import LanguageIdentifier
from classifiers.model import SEPARATOR
from classifiers.rules import rule_hits, rule_tokens


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message as the model sees it."""

    language: str
    tokens: list[str]
    rule_hits: dict[str, list[str]]


def prepare(text: str, langid: LanguageIdentifier) -> Prepared:
    """Detect the language, stem in it, then append one marker token per rule hit and the
    language-free concept sequence (``concepts``)."""
    language = langid.detect(text)
    folded = fold(text)
    plain_words = words(folded)
    hits = rule_hits(folded, plain_words)
    tokens = stem_words(plain_words, language)
    tokens.extend(rule_tokens(hits))
    tokens.append(SEPARATOR)
    tokens.extend(concept_tokens(plain_words, language))
    return Prepared(language, tokens, hits)
