"""The model directory shipped in the package: weights, vocabulary, calibration, langid table.

Why one directory with one JSON beside the spaCy weights: a fresh install must classify with
no training and no download, and the files must be small and byte-identical when retrained
from the same data and seed (no timestamps).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from classifiers.calibration import Calibration
from classifiers.langid import LanguageIdentifier
from classifiers.model import TextModel

MODEL_DIR = Path(__file__).parent / "model"
BUNDLE = "bundle.json.gz"
#: The concept-view model's weights live in this subdirectory (``views``).
CONCEPT_DIR = "concept_view"
FORMAT = 2


@dataclass(frozen=True)
class Artifact:
    model: TextModel
    concept_model: TextModel
    calibration: Calibration
    langid: LanguageIdentifier
    meta: dict[str, object]


def save_artifact(
    path: Path,
    model: TextModel,
    concept_model: TextModel,
    calibration: Calibration,
    word_table: dict[str, dict[str, float]],
    meta: dict[str, object],
) -> None:
    path.mkdir(parents=True, exist_ok=True)
    model.to_disk(path)
    (path / CONCEPT_DIR).mkdir(exist_ok=True)
    concept_model.to_disk(path / CONCEPT_DIR)
    bundle = {
        "format": FORMAT,
        "meta": meta,
        "calibration": calibration.to_json(),
        "known": sorted(model.known),
        "concept_known": sorted(concept_model.known),
        "langid_words": word_table,
    }
    data = json.dumps(bundle, ensure_ascii=False, sort_keys=True).encode("utf-8")
    (path / BUNDLE).write_bytes(gzip.compress(data, mtime=0))


def load_artifact(path: Path = MODEL_DIR) -> Artifact:
    bundle_path = path / BUNDLE
    if not bundle_path.exists():
        raise FileNotFoundError(f"no trained model in {path}; run `rightsdesk train`")
    bundle = json.loads(gzip.decompress(bundle_path.read_bytes()))
    if bundle.get("format") != FORMAT:
        raise ValueError(f"model format {bundle.get('format')} not supported; retrain")
    model = TextModel.from_disk(path, frozenset(bundle["known"]))
    concept_model = TextModel.from_disk(path / CONCEPT_DIR, frozenset(bundle["concept_known"]))
    return Artifact(
        model=model,
        concept_model=concept_model,
        calibration=Calibration.from_json(bundle["calibration"]),
        langid=LanguageIdentifier(bundle["langid_words"]),
        meta=bundle["meta"],
    )
