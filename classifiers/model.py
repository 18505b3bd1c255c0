"""The spaCy text classifier: a blank multilingual pipeline with ``textcat_multilabel`` (BOW).

Why these choices:

* ``spacy.blank("xx")``: no model download, ever (the machine only reaches PyPI).
* A bag of unigrams+bigrams of our stemmed tokens and concept tokens (spaCy's ``TextCatBOW``
  layers, counts normalised: ``build_norm_bow``), ~5,000 docs/s (machine-notes.md); the
  CNN/ensemble textcat is ~110 docs/s, far too slow for bulk mail.  One extra output, the
  "any request" gate (``labels.GATE``), is trained beside the seven labels.
* Docs are built straight from our tokens (``prepare``), so ORTH carries the stem and no
  spaCy tokenizer or component runs at training or inference.
* Tokens not seen in at least ``MIN_DF`` training messages become ``UNKNOWN``: this keeps the
  vocabulary fixed after loading (reading never mutates shared state, so one loaded model is
  safe to share between threads and does not grow in a long-running daemon) and keeps rare
  names and typos from colliding with real features in the hashed table.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import spacy
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.ml.extract_ngrams import extract_ngrams
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch
from thinc.api import SGD, Logistic, Model, SparseLinear_v2, chain
from thinc.types import Floats2d

from classifiers.labels import GATE, OUTPUTS

PIPE = "textcat_multilabel"
UNKNOWN = "xunkx"
#: Between the word tokens and the concept sequence (see ``prepare``).
SEPARATOR = "xsepx"
MIN_DF = 2
#: Hash-table rows of the BOW model; 2**17 x 8 outputs x 4 bytes = 4.2 MB on disk (2**16 was
#: measurably worse out-of-fold).
TABLE_ROWS = 2**17
NGRAM_SIZE = 2
# Plain SGD: with normalised inputs a step of 2.0 is stable and learns rare words; Adam (spaCy's
# default) was far worse out-of-fold on this table (AUC 0.64-0.80 against 0.97).
EPOCHS = 15
BATCH_SIZE = 16
LEARN_RATE = 2.0

TrainingSet = Sequence[tuple[Sequence[str], Sequence[str]]]
#: The layers after ``extract_ngrams`` that ``TextModel.predict_one`` computes inline.
_INLINED_HEAD = ("normalise_counts", "sparse_linear", "logistic")
_TRUE = np.ones(1, dtype=bool)


@spacy.registry.architectures("rightsdesk.TextCatNormBOW.v1")
def build_norm_bow(ngram_size: int, length: int, nO: int) -> Model[list[Doc], Floats2d]:
    """spaCy's BOW classifier (``extract_ngrams`` >> ``SparseLinear`` >> ``Logistic``) with each
    message's n-gram counts turned into 1 + ln(count) and L2-normalised.

    Why: with raw counts a 400-word letter moves its score ~400x further per update than a
    one-liner, so SGD either diverges on long mail or barely learns rare but decisive words;
    measured on the training part (out-of-fold), the raw-count BOW ranked messages at AUC
    ~0.80-0.90, the normalised one at ~0.97 (a regularised logistic regression on the same
    tokens: ~0.95).
    """
    return chain(
        extract_ngrams(ngram_size, attr=ORTH),
        _normalise_counts(),
        SparseLinear_v2(nO=nO, length=length),
        Logistic(),
    )


def _normalise_counts() -> Model[tuple[Any, Any, Any], tuple[Any, Any, Any]]:
    def forward(
        model: Model[Any, Any], kvl: tuple[Any, Any, Any], is_train: bool
    ) -> tuple[tuple[Any, Any, Any], Callable[[Any], Any]]:
        keys, values, lengths = kvl
        weights = 1.0 + np.log(np.asarray(values, dtype=np.float32))
        owner = np.repeat(np.arange(len(lengths)), np.asarray(lengths, dtype=np.int64))
        norms = np.sqrt(np.bincount(owner, weights=weights * weights, minlength=len(lengths)))
        weights = (weights / np.maximum(norms, 1e-6)[owner]).astype(np.float32)
        return (keys, np.ascontiguousarray(weights), lengths), lambda d: d

    return Model("normalise_counts", forward)


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
                "nO": len(OUTPUTS),
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
        self._columns = [labels.index(label) for label in OUTPUTS]
        strings = nlp.vocab.strings
        for token in (*sorted(known), UNKNOWN, SEPARATOR):  # inference never grows the vocab
            nlp.vocab[token]
        self._orth: dict[str, int] = {token: strings[token] for token in known}
        self._orth[SEPARATOR] = strings[SEPARATOR]
        self._unknown_orth = strings[UNKNOWN]
        model = self._pipe.model  # type: ignore[attr-defined]
        self._ops = model.ops
        # The model's own layers after the n-gram extraction (same objects, shared weights).
        self._head: Model[Any, Any] = chain(*model.layers[1:])
        #: The same layers, run one by one at inference (no chain/backprop bookkeeping).
        self._head_layers: list[Model[Any, Any]] = list(model.layers[1:])
        #: ``predict_one`` inlines the head (see there); only for the layers it was written for.
        self._inline_head = [layer.name for layer in self._head_layers] == list(_INLINED_HEAD)
        # (any layer when not inlined: then ``predict_one`` falls back to ``predict``)
        self._linear = self._head_layers[1] if self._inline_head else model
        #: The sparse layer's own forward function (C), called on its own weights.
        self._linear_forward: Callable[..., tuple[Any, Any]] = self._linear._func
        self._identity_columns = self._columns == list(range(len(self._columns)))

    def doc(self, tokens: Sequence[str]) -> Doc:
        known = self.known
        words = [tok if tok in known else UNKNOWN for tok in tokens] or [UNKNOWN]
        return Doc(self.nlp.vocab, words=words)

    def predict_docs(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """Raw scores through the full spaCy model (Doc >> n-grams >> ...), ``OUTPUTS`` order.

        The reference path; ``predict`` must give the same numbers (tests check it)."""
        docs = [self.doc(tokens) for tokens in token_lists]
        scores = self._pipe.model.predict(docs)  # type: ignore[attr-defined]
        return np.asarray(scores)[:, self._columns]

    def predict(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """Raw sigmoid scores, one row per message, columns in ``OUTPUTS`` order.

        Same computation as the pipeline's ``extract_ngrams`` layer, but from token hashes
        looked up directly instead of building a spaCy ``Doc`` (which cost ~0.3 ms per mail,
        a third of the whole per-message budget); the remaining layers are the model's own.
        """
        orth, unknown, ops = self._orth, self._unknown_orth, self._ops
        all_keys: list[np.ndarray] = []
        all_values: list[np.ndarray] = []
        lengths: list[int] = []
        for tokens in token_lists:
            ids = np.array(
                list(map(orth.get, tokens, repeat(unknown, len(tokens)))) or [unknown],
                dtype=np.uint64,
            )
            grams = [ids] + [ops.ngrams(n, ids) for n in range(2, NGRAM_SIZE + 1)]
            keys, counts = np.unique(np.concatenate(grams), return_counts=True)
            all_keys.append(keys)
            all_values.append(counts)
            lengths.append(len(keys))
        batch = (
            np.concatenate(all_keys) if len(all_keys) > 1 else all_keys[0],
            (np.concatenate(all_values) if len(all_values) > 1 else all_values[0]).astype("f"),
            np.asarray(lengths, dtype="int32"),
        )
        scores: Any = batch
        for layer in self._head_layers:
            scores = layer.predict(scores)
        return np.asarray(scores)[:, self._columns]

    def predict_one(self, tokens: Sequence[str]) -> np.ndarray:
        """``predict([tokens])[0]``, bit for bit, with a fraction of the numpy calls.

        Why: classifying one mail is the hot path (~230 tokens), and there ``predict`` spends
        most of its time in per-call overhead: ``np.unique``, the batch bookkeeping of
        ``normalise_counts`` (``repeat``/``bincount`` over message owners) and thinc's
        ``Model.predict`` wrappers.  Every step below does the same float operations in the
        same order as those layers (the L2 norm is a sequential float64 sum like ``bincount``;
        the division is in float64 before the cast to float32; the sigmoid is ``ops.sigmoid``'s),
        and the sparse layer is the model's own C forward on its own weights, so the scores are
        identical (the training test and the reference check compare them).
        """
        if not self._inline_head:
            return self.predict([tokens])[0]
        count = len(tokens)
        if count:
            ids = np.fromiter(
                map(self._orth.get, tokens, repeat(self._unknown_orth, count)),
                dtype=np.uint64,
                count=count,
            )
        else:
            ids = np.array([self._unknown_orth], dtype=np.uint64)
        # the n-gram keys of ``predict``, sorted and counted as np.unique gives them
        ops = self._ops
        grams = np.concatenate([ids, *(ops.ngrams(n, ids) for n in range(2, NGRAM_SIZE + 1))])
        grams.sort()
        bounds = np.flatnonzero(np.concatenate((_TRUE, grams[1:] != grams[:-1], _TRUE)))
        keys = grams[bounds[:-1]]
        counts = (bounds[1:] - bounds[:-1]).astype(np.float32)
        # normalise_counts: 1 + ln(count), divided by the message's L2 norm
        weights = 1.0 + np.log(counts)
        squares = np.square(weights).astype(np.float64)
        norm = max(math.sqrt(np.add.accumulate(squares)[-1]), 1e-6)
        values = (weights / np.float64(norm)).astype(np.float32)
        lengths = np.array([len(keys)], dtype=np.int32)
        linear, _ = self._linear_forward(self._linear, (keys, values, lengths), False)
        # Logistic: ops.sigmoid (its clip as maximum/minimum: the same for every float)
        row = np.minimum(np.maximum(linear[0], -20.0), 20.0)
        scores = 1.0 / (1.0 + np.exp(-row))
        return scores if self._identity_columns else scores[self._columns]

    def to_disk(self, path: Path) -> None:
        """Only the classifier's weights; the vocabulary is ``known`` (saved by the caller)."""
        self._pipe.to_disk(path / PIPE)  # type: ignore[attr-defined]

    def to_bytes(self) -> bytes:
        """The weights, as ``to_disk`` writes them (training workers hand models back so)."""
        return bytes(self._pipe.to_bytes())  # type: ignore[attr-defined]

    @classmethod
    def from_bytes(cls, data: bytes, known: frozenset[str]) -> TextModel:
        nlp = make_nlp()
        nlp.get_pipe(PIPE).from_bytes(data)  # type: ignore[attr-defined]
        return cls(nlp, known)

    @classmethod
    def from_disk(cls, path: Path, known: frozenset[str]) -> TextModel:
        nlp = make_nlp()
        nlp.get_pipe(PIPE).from_disk(path / PIPE)  # type: ignore[attr-defined]
        return cls(nlp, known)


def _cats(labels: Sequence[str]) -> dict[str, float]:
    cats = {label: float(label in labels) for label in OUTPUTS}
    cats[GATE] = float(bool(labels))
    return cats


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
    for label in OUTPUTS:
        textcat.add_label(label)  # type: ignore[attr-defined]
    model = TextModel(nlp, known)
    examples = [
        Example.from_dict(model.doc(tokens), {"cats": _cats(labels)}) for tokens, labels in data
    ]
    nlp.initialize(lambda: examples)
    optimizer = SGD(learn_rate=LEARN_RATE, L2=0.0, grad_clip=0.0, use_averages=False)
    rng = random.Random(seed)
    order = list(range(len(examples)))
    for _ in range(epochs):
        rng.shuffle(order)
        for batch in minibatch([examples[i] for i in order], size=BATCH_SIZE):
            nlp.update(batch, sgd=optimizer)
        if on_epoch is not None:
            on_epoch()
    return model
