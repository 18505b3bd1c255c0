"""Extracted text to model input: language, rule hits and feature tokens, in one place.

Why one function: training and inference must turn text into tokens identically (spaCy's
``nlp.update`` does not run custom components, machine-notes.md), so both call ``prepare``.
"""

from __future__ import annotations

from dataclasses import dataclass

from classifiers.features import fold, stem_words, words
from classifiers.langid import LanguageIdentifier
from classifiers.rules import rule_hits, rule_tokens


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message as the model sees it."""

    language: str
    tokens: list[str]
    rule_hits: dict[str, list[str]]


def prepare(text: str, langid: LanguageIdentifier) -> Prepared:
    """Detect the language, stem in it, and append one marker token per rule hit."""
    language = langid.detect(text)
    folded = fold(text)
    hits = rule_hits(folded)
    tokens = stem_words(words(folded), language)
    tokens.extend(rule_tokens(hits))
    return Prepared(language, tokens, hits)
