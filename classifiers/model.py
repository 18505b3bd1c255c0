"""The spaCy text classifier: a blank multilingual pipeline with ``textcat_multilabel`` (BOW).

Why these choices:

* ``spacy.blank("xx")``: no model download, ever (the machine only reaches PyPI).
* ``TextCatBOW`` over unigrams+bigrams of our stemmed tokens: ~5,000 docs/s
  (machine-notes.md); the CNN/ensemble textcat is ~110 docs/s, far too slow for bulk mail.
* Docs are built straight from our tokens (``prepare``), so ORTH carries the stem and no
  spaCy tokenizer or component runs at training or inference.
* Tokens not seen in at least ``MIN_DF`` training messages become ``UNKNOWN``: this keeps the
  vocabulary fixed after loading (reading never mutates shared state, so one loaded model is
  safe to share between threads and does not grow in a long-running daemon) and keeps rare
  names and typos from colliding with real features in the hashed table.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any
from pathlib import Path

import numpy as np
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch
from spacy.attrs import ORTH
from thinc.api import SGD, Adam, Linear, Logistic, Model, Optimizer, SparseLinear_v2, chain
from thinc.types import Floats2d

from classifiers.labels import LABELS

PIPE = "textcat_multilabel"
UNKNOWN = "xunkx"
MIN_DF = 2
#: Hash-table rows of the BOW model; 2**17 x 7 labels x 4 bytes = 3.7 MB on disk.
TABLE_ROWS = 2**17
NGRAM_SIZE = 2
EPOCHS = 15
BATCH_SIZE = 16
DROPOUT = 0.0
LEARN_RATE = 2.0
L2 = 0.0
USE_AVERAGES = False
GROUP_WEIGHT = 1.0
SEPARATOR = "xsepx"
HIDDEN = 0
INIT_SCALE = 0.1
OPTIMIZER = "sgd"
GRAD_CLIP = 1.0

TrainingSet = Sequence[tuple[Sequence[str], Sequence[str]]]


@spacy.registry.architectures("rightsdesk.TextCatNormBOW.v1")
def build_norm_bow(ngram_size: int, length: int, nO: int) -> Model[list[Doc], Floats2d]:
    """spaCy's BOW classifier (n-grams >> ``SparseLinear`` >> ``Logistic``) with each part of a
    message's tokens (words | concepts, split at ``SEPARATOR``) turned into its own n-gram bag
    with 1 + ln(count) values, L2-normalised per part.

    Why: with raw counts a 400-word letter moves its score ~400x further per update than a
    one-liner, so SGD either diverges on long mail or barely learns rare but decisive words
    (measured on the training part: AUC ~0.80-0.90 against ~0.95 for a regularised logistic
    regression on the same tokens).  Normalising the short concept sequence separately keeps a
    request hidden in a long business mail from being diluted by the business words.
    """
    return chain(
        _grouped_ngrams(ngram_size),
        SparseLinear_v2(nO=nO, length=length),
        Logistic(),
    )


def _grouped_ngrams(ngram_size: int) -> Model[list[Doc], tuple[Any, Any, Any]]:
    separator = spacy.strings.hash_string(SEPARATOR)

    def forward(
        model: Model[Any, Any], docs: list[Doc], is_train: bool
    ) -> tuple[tuple[Any, Any, Any], Callable[[Any], Any]]:
        ops = model.ops
        all_keys: list[np.ndarray] = []
        all_values: list[np.ndarray] = []
        lengths: list[int] = []
        for doc in docs:
            orths = doc.to_array(ORTH)
            cuts = np.flatnonzero(orths == separator)
            parts = np.split(orths, cuts)
            size = 0
            for index, part in enumerate(parts):
                if index:
                    part = part[1:]  # drop the separator itself
                if not len(part):
                    continue
                grams = [part] + [
                    ops.ngrams(n, part) for n in range(2, ngram_size + 1) if len(part) >= n
                ]
                keys, counts = np.unique(np.concatenate(grams), return_counts=True)
                values = 1.0 + np.log(counts.astype(np.float32))
                values *= (GROUP_WEIGHT if index else 1.0) / np.sqrt(np.dot(values, values))
                all_keys.append(keys)
                all_values.append(values.astype(np.float32))
                size += len(keys)
            lengths.append(size)
        keys_out = np.concatenate(all_keys) if all_keys else np.zeros((0,), dtype=np.uint64)
        values_out = np.concatenate(all_values) if all_values else np.zeros((0,), dtype="f")
        return (
            keys_out,
            np.ascontiguousarray(values_out, dtype="f"),
            np.asarray(lengths, dtype="int32"),
        ), lambda d: []

    return Model("grouped_ngrams", forward)


def make_nlp() -> Language:
    """A blank pipeline holding only the multi-label BOW classifier."""
    nlp = spacy.blank("xx")
    nlp.add_pipe(
        PIPE,
        config={
            "threshold": 0.5,
            "model": {
                "@architectures": "rightsdesk.TextCatNormBOW.v1",
                "ngram_size": NGRAM_SIZE,
                "length": TABLE_ROWS,
                "nO": len(LABELS),
            },
        },
    )
    return nlp


def known_tokens(token_lists: Sequence[Sequence[str]]) -> frozenset[str]:
    """Tokens that occur in at least ``MIN_DF`` of the given messages."""
    df: Counter[str] = Counter()
    for tokens in token_lists:
        df.update(set(tokens))
    return frozenset(tok for tok, n in df.items() if n >= MIN_DF)


class TextModel:
    """A trained classifier plus the vocabulary its docs are built from."""

    def __init__(self, nlp: Language, known: frozenset[str]) -> None:
        self.nlp = nlp
        self.known = known
        self._pipe = nlp.get_pipe(PIPE)
        labels = tuple(self._pipe.labels)  # type: ignore[attr-defined]
        self._columns = [labels.index(label) for label in LABELS]
        for token in (*sorted(known), UNKNOWN):  # pre-intern: inference never grows the vocab
            nlp.vocab[token]

    def doc(self, tokens: Sequence[str]) -> Doc:
        known = self.known
        words = [tok if tok in known else UNKNOWN for tok in tokens] or [UNKNOWN]
        return Doc(self.nlp.vocab, words=words)

    def predict(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """Raw sigmoid scores, one row per message, columns in ``LABELS`` order."""
        docs = [self.doc(tokens) for tokens in token_lists]
        scores = self._pipe.model.predict(docs)  # type: ignore[attr-defined]
        return np.asarray(scores)[:, self._columns]

    def to_disk(self, path: Path) -> None:
        """Only the classifier's weights; the vocabulary is ``known`` (saved by the caller)."""
        self._pipe.to_disk(path / PIPE)

    @classmethod
    def from_disk(cls, path: Path, known: frozenset[str]) -> TextModel:
        nlp = make_nlp()
        nlp.get_pipe(PIPE).from_disk(path / PIPE)
        return cls(nlp, known)


def train_textcat(
    data: TrainingSet,
    seed: int,
    epochs: int = EPOCHS,
    on_epoch: Callable[[], None] | None = None,
) -> TextModel:
    """Train a classifier on (tokens, labels) pairs; same data and seed -> same weights."""
    fix_random_seed(seed)
    known = known_tokens([tokens for tokens, _ in data])
    nlp = make_nlp()
    textcat = nlp.get_pipe(PIPE)
    for label in LABELS:
        textcat.add_label(label)  # type: ignore[attr-defined]
    model = TextModel(nlp, known)
    examples = [
        Example.from_dict(model.doc(tokens), {"cats": {lb: float(lb in labels) for lb in LABELS}})
        for tokens, labels in data
    ]
    nlp.initialize(lambda: examples)
    if HIDDEN:
        rng_init = np.random.default_rng(seed)
        for node in nlp.get_pipe(PIPE).model.walk():  # type: ignore[attr-defined]
            if node.name == "sparse_linear":
                W = node.get_param("W")
                node.set_param("W", rng_init.normal(0, INIT_SCALE, W.shape).astype("f"))
    if OPTIMIZER == "sgd":
        optimizer = SGD(learn_rate=LEARN_RATE, L2=L2, grad_clip=0.0, use_averages=USE_AVERAGES)
    else:
        optimizer = Adam(
            learn_rate=LEARN_RATE, L2=L2, L2_is_weight_decay=True, use_averages=USE_AVERAGES,
            grad_clip=GRAD_CLIP,
        )
    rng = random.Random(seed)
    order = list(range(len(examples)))
    for _ in range(epochs):
        rng.shuffle(order)
        for batch in minibatch([examples[i] for i in order], size=BATCH_SIZE):
            nlp.update(batch, sgd=optimizer, drop=DROPOUT)
        if on_epoch is not None:
            on_epoch()
    if USE_AVERAGES:
        _adopt_averages(nlp, optimizer)
    return model


def _adopt_averages(nlp: Language, optimizer: Optimizer) -> None:
    """Keep the averaged weights (smoother, better on unseen mail than the last step's)."""
    model = nlp.get_pipe(PIPE).model  # type: ignore[attr-defined]
    for node in model.walk():
        for name in node.param_names:
            key = (node.id, name)
            if key in optimizer.averages:
                node.set_param(name, optimizer.averages[key].copy())
