"""Benchmark: raw message bytes -> labels, single core; model load time; RSS added.

Run: ``.venv/bin/python bench/bench_classify.py [--messages N] [--rounds R]``

Builds ~200-word mails (a quarter multipart/alternative with HTML, a third with a signature
and a short quoted reply) from the corpus, then measures in one process:

* the stdlib baseline ``email.message_from_bytes(policy=default)`` + ``get_body`` +
  ``get_content`` (the rate machine-notes.md calls the bottleneck, ~420 msg/s per core),
* ``classifiers.mime.parse_message`` alone,
* the whole path raw bytes -> labels, ``Classifier.classify_bytes(details=False)`` (parse,
  extraction, language id, rules, concepts, model, decision), then the same with the details
  patterns (which only run for labelled or doubtful mail), and each stage on its own,
* import + load time of the packaged model, and RSS added by importing, loading and
  classifying (lingua is loaded lazily on the first ambiguous message, so it is included).

Prints figures and ratios to the baseline; it asserts nothing (not a timed test).
"""

from __future__ import annotations

import os

# One core: keep numpy/BLAS from spawning threads before anything imports them.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import email  # noqa: E402
import email.policy  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from email.message import EmailMessage  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def build_messages(count: int, seed: int) -> list[bytes]:
    """~200-word mails in the corpus languages, as raw bytes (built once, before timing)."""
    from classifiers.corpus import load_corpus

    records, _ = load_corpus()
    plain = [r for r in records if not r.html]
    by_lang: dict[str, list[str]] = {}
    for r in plain:
        by_lang.setdefault(r.lang, []).append(r.body)
    rng = random.Random(seed)
    out: list[bytes] = []
    for i in range(count):
        record = rng.choice(plain)
        body = record.body
        pool = by_lang[record.lang]
        while len(body.split()) < 170:
            body += "\n\n" + rng.choice(pool)
        body = " ".join(body.split(" ")[:200])
        if i % 3 == 0:
            quoted = "\n".join("> " + line for line in rng.choice(pool).splitlines()[:8])
            body += (
                "\n\n--\nMatti Meikäläinen\nExample Oy\npuh. 040 123 4567\n\n"
                f"On Mon, 3 Mar 2026 at 10:00, Example Shop <shop@example.fi> wrote:\n{quoted}"
            )
        msg = EmailMessage()
        msg["From"] = f"Sender {i} <sender{i}@example.com>"
        msg["To"] = "info@example.fi"
        msg["Subject"] = record.subject or "(no subject)"
        msg["Message-ID"] = f"<bench-{i}@example.com>"
        msg.set_content(body)
        if i % 4 == 0:
            html = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
            msg.add_alternative(f"<html><body>{html}</body></html>", subtype="html")
        out.append(msg.as_bytes())
    return out


def rate(func: Callable[[bytes], object], items: Sequence[bytes], rounds: int) -> float:
    """Best-of-``rounds`` messages per second of ``func`` over ``items``."""
    best = 0.0
    for _ in range(rounds):
        re.purge()  # real MIME boundaries are all new: the stdlib compiles a regex for each
        started = time.perf_counter()
        for item in items:
            func(item)
        best = max(best, len(items) / (time.perf_counter() - started))
    return best


def stdlib_parse(raw: bytes) -> object:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    return body.get_content() if body is not None else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    rss_start = rss_mb()
    messages = build_messages(args.messages, seed=7)
    words = sum(len(m.split(b"\n\n", 1)[-1].split()) for m in messages) / len(messages)
    size = sum(len(m) for m in messages) / len(messages)
    print(f"messages: {len(messages)}, mean {size:.0f} bytes, ~{words:.0f} words of body")
    rss_before = rss_mb()

    started = time.perf_counter()
    from classifiers.api import Classifier

    imported = time.perf_counter()
    classifier = Classifier.load()
    loaded = time.perf_counter()
    print(
        f"import classifiers.api (spaCy etc.): {imported - started:.2f} s; "
        f"model load: {loaded - imported:.2f} s; total {loaded - started:.2f} s"
    )

    from classifiers.extract import extract
    from classifiers.mime import parse_message
    from classifiers.prepare import prepare

    baseline = rate(stdlib_parse, messages, args.rounds)
    parse_rate = rate(parse_message, messages, args.rounds)
    labels_rate = rate(lambda m: classifier.classify_bytes(m, details=False), messages, args.rounds)
    full_rate = rate(classifier.classify_bytes, messages, args.rounds)
    rss_after = rss_mb()

    parsed = [parse_message(m) for m in messages]
    texts = [extract(p.subject, p.text_plain, p.text_html).text for p in parsed]
    langid = classifier._langid  # stage timing only
    model = classifier._model
    prepared = [prepare(t, langid) for t in texts]

    def stage(func: Callable[[int], object]) -> float:
        best = 0.0
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for i in range(len(messages)):
                func(i)
            best = max(best, len(messages) / (time.perf_counter() - t0))
        return best

    extract_rate = stage(lambda i: extract(parsed[i].subject, parsed[i].text_plain,
                                           parsed[i].text_html))  # fmt: skip
    langid_rate = stage(lambda i: langid.detect(texts[i]))
    prepare_rate = stage(lambda i: prepare(texts[i], langid))
    model_rate = stage(lambda i: model.predict_one(prepared[i].tokens))  # classify's call

    print(f"baseline stdlib email (policy.default) parse+body: {baseline:,.0f} msg/s")
    print(
        f"classifiers.mime.parse_message: {parse_rate:,.0f} msg/s"
        f" ({parse_rate / baseline:.1f}x baseline)"
    )
    print(
        f"RAW BYTES -> LABELS (classify_bytes(details=False)), 1 core: {labels_rate:,.0f} msg/s"
        f" ({labels_rate / baseline:.2f}x baseline; {1000 / labels_rate:.2f} ms/msg)"
    )
    results = [classifier.classify_bytes(m, details=False) for m in messages]
    requests = sum(bool(r.labels or r.needs_triage) for r in results)
    print(
        f"  with details for the {100 * requests / len(messages):.0f} % labelled/triaged:"
        f" {full_rate:,.0f} msg/s ({full_rate / baseline:.2f}x baseline)"
    )
    print(
        f"  stages alone: extract {extract_rate:,.0f}/s, language id {langid_rate:,.0f}/s,"
        f" prepare (langid+stem+rules+concepts) {prepare_rate:,.0f}/s,"
        f" spaCy model {model_rate:,.0f}/s"
    )
    print(
        f"RSS: {rss_start:.0f} MB at start, {rss_before:.0f} MB with the test mails built,"
        f" {rss_after:.0f} MB after import+load+classify -> added {rss_after - rss_before:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
