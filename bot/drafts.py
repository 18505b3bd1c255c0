"""Drafts from Jinja2 templates per language (templates/mail/{fi,sv,en}/).

Why templates and not code: the wording is the company's and the lawyer's, not the programmer's;
every Art. 15(1) fact comes from the register declarations in the config (the privacy notice is
configuration, shared/design.md).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.config import Config
from storage.models import Case, Draft

LANGS = ("fi", "sv", "en")

TYPE_NAMES: dict[str, dict[str, str]] = {
    "fi": {"access": "tietojen tarkastus", "rectification": "tietojen oikaiseminen",
           "erasure": "tietojen poistaminen", "restriction": "käsittelyn rajoittaminen",
           "objection": "käsittelyn vastustaminen", "portability": "tietojen siirtäminen",
           "unsubscribe": "markkinoinnin lopettaminen"},
    "sv": {"access": "tillgång till uppgifter", "rectification": "rättelse",
           "erasure": "radering", "restriction": "begränsning av behandling",
           "objection": "invändning", "portability": "dataportabilitet",
           "unsubscribe": "avregistrering från marknadsföring"},
    "en": {"access": "access to data", "rectification": "rectification", "erasure": "erasure",
           "restriction": "restriction of processing", "objection": "objection",
           "portability": "data portability", "unsubscribe": "stop marketing"},
}
FIELD_NAMES: dict[str, dict[str, str]] = {
    "fi": {"address": "osoite", "phone": "puhelinnumero", "email": "sähköposti", "name": "nimi"},
    "sv": {"address": "adress", "phone": "telefonnummer", "email": "e-post", "name": "namn"},
    "en": {"address": "address", "phone": "phone", "email": "e-mail", "name": "name"},
}
_NEEDS_TRIAGE = {"fi": "tarkistettava pyyntö", "sv": "begäran som granskas",
                 "en": "request under review"}
_MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"]

#: shared/domain.md §5.
AUTHORITY = {
    "name_fi": "Tietosuojavaltuutetun toimisto",
    "name_sv": "Dataombudsmannens byrå",
    "name_en": "Office of the Data Protection Ombudsman",
    "address": "PL 800, 00531 Helsinki",
    "email": "tietosuoja@om.fi",
    "web": "https://tietosuoja.fi",
}


def templates_dir() -> Path:
    """templates/ of a source checkout, or the copy packed into the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "templates", here / "_templates"):
        if (candidate / "mail").is_dir():
            return candidate
    raise FileNotFoundError("templates/mail not found")


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(templates_dir())),
        undefined=StrictUndefined,
        autoescape=False,  # plain-text mail; nothing here is rendered as HTML
        keep_trailing_newline=True,
        trim_blocks=True,
    )


def format_date(d: date, lang: str) -> str:
    if lang == "en":
        return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"
    return f"{d.day}.{d.month}.{d.year}"


def types_text(types: list[str], lang: str, needs_triage: bool = False) -> str:
    names = [TYPE_NAMES[lang][t] for t in types if t in TYPE_NAMES[lang]]
    return ", ".join(names) if names else _NEEDS_TRIAGE[lang] if needs_triage else ""


def _registers(cfg: Config, lang: str) -> list[dict[str, Any]]:
    out = []
    for r in cfg.registers:
        out.append({
            "key": r.key, "name": r.name.get(lang), "purposes": r.purposes.get(lang),
            "legal_basis": r.legal_basis.get(lang),
            "legitimate_interests": r.legitimate_interests.get(lang)
            if r.legitimate_interests else None,
            "data_categories": r.data_categories.get(lang), "sources": r.sources.get(lang),
            "recipients": r.recipients.get(lang), "retention": r.retention.text.get(lang),
            "transfers_outside_eea": r.transfers_outside_eea.get(lang),
            "automated_decisions": r.automated_decisions.get(lang),
        })
    return out


def render(kind: str, cfg: Config, case: Case, original_subject: str) -> tuple[str, str]:
    """(subject, body) of one mail kind (ack, reply, unsubscribed) in the case's language."""
    lang = case.language if case.language in LANGS else "en"
    other = [t for t in case.types if t != "unsubscribe"]
    ctx = {
        "case": case, "company": cfg.company, "types": list(case.types),
        "types_text": types_text(list(case.types), lang, case.needs_triage),
        "other_types": other, "other_types_text": types_text(other, lang),
        "received_date": format_date(case.received_date, lang),
        "deadline": format_date(case.deadline, lang),
        "name": case.subject_name, "registers": _registers(cfg, lang),
        "new_values": {FIELD_NAMES[lang].get(k, k): v
                       for k, v in ((case.details or {}).get("new_values") or {}).items()},
        "authority": AUTHORITY, "original_subject": _strip_reply_prefix(original_subject),
    }
    env = environment()
    subject = env.get_template(f"mail/{lang}/{kind}.subject.j2").render(ctx).strip()
    body = env.get_template(f"mail/{lang}/{kind}.txt.j2").render(ctx)
    return " ".join(subject.split()), _tidy(body)


def make_draft(kind: str, cfg: Config, case: Case, original_subject: str, status: str) -> Draft:
    subject, body = render(kind, cfg, case, original_subject)
    draft = Draft(kind=kind, language=case.language, to_addr=case.subject_email,
                  subject=subject, body=body, status=status)
    case.drafts.append(draft)
    return draft


def _strip_reply_prefix(subject: str) -> str:
    s = subject.strip()
    while True:
        low = s.lower()
        for p in ("re:", "vs:", "sv:", "aw:", "fw:", "fwd:", "vl:"):
            if low.startswith(p):
                s = s[len(p):].strip()
                break
        else:
            return s[:200]


def _tidy(body: str) -> str:
    """Collapse the blank lines that conditional sections leave behind."""
    lines: list[str] = []
    for line in body.splitlines():
        if not line.strip() and lines and not lines[-1].strip():
            continue
        lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
