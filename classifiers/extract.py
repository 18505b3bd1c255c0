"""The new text of a message: what the sender wrote now, not what they quoted or signed.

Why: a reply quoting our newsletter, or a forwarded old request, must not be read as a request
by this sender (GUIDELINES.md: labels describe only the new text plus subject).  Clients mark
history in a handful of ways; we cut at the first one:

* separator lines (``-----Original Message-----``, ``-----Alkuperäinen viesti-----``,
  ``---------- Forwarded message ---------``, ``Begin forwarded message:``),
* attribution lines (``On … wrote:``, ``… kirjoitti:``, ``Den … skrev:``, ``Am … schrieb:``),
* Outlook header blocks (``From:``/``Lähettäjä:``/``Från:`` followed by Sent/To/Subject lines),
* device taglines (``Lähetetty iPhonesta``, ``Sent from my iPhone``), the ``-- `` signature
  separator, a closing ("Ystävällisin terveisin", "Med vänliga hälsningar", "Best regards")
  near the end, and legal disclaimers.

``> `` quoted lines are dropped wherever they are (inline replies keep their new lines).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from classifiers.htmltext import html_to_text

#: Longest text handed on; requests are short and the model needs no more.
MAX_CHARS = 6000

_SEPARATOR_RE = re.compile(
    r"^\s*[-_=*]{2,}\s*[^-_=*\s][^\n]{0,60}?[-_=*]{2,}\s*$"  # ----- Anything -----
    r"|^\s*(?:begin forwarded message|alkuperäinen viesti|välitetty viesti"
    r"|ursprungligt meddelande|vidarebefordrat meddelande|original message"
    r"|forwarded message|ursprüngliche nachricht|weitergeleitete nachricht"
    r"|message d'origine|message transféré|oorspronkelijk bericht|doorgestuurd bericht"
    r"|mensaje original|mensaje reenviado|messaggio originale|messaggio inoltrato"
    r"|mensagem original|mensagem encaminhada|oprindelig meddelelse|videresendt meddelelse"
    r"|opprinnelig melding|videresendt melding|wiadomość oryginalna|oryginalna wiadomość"
    r"|wiadomość przekazana|algne kiri|edastatud kiri)\s*:?\s*-*\s*$",
    re.IGNORECASE,
)
_WROTE_RE = re.compile(
    r"(?:\bwrote|\bkirjoitti|\bskrev(?: følgende)?|\bschrieb|\ba écrit|\bescribió|\bha scritto"
    r"|\bescreveu|\bschreef|\bnapisał(?:\(a\))?|\bnapisała|\bkirjutas)\s*:\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START_RE = re.compile(
    r"^\s*(?:on|am|le|el|il|em|op|den|d\.|dnia|\d{1,2}[./])\b", re.IGNORECASE
)
_HEADER_FROM_RE = re.compile(
    r"^\s*\*?(?:from|lähettäjä|från|von|de|van|da|fra|od|saatja|lähetäjä)\s*\*?\s*:",
    re.IGNORECASE,
)
_HEADER_OTHER_RE = re.compile(
    r"(?:^|\s)\*?(?:sent|date|to|subject|cc|lähetetty|päivämäärä|vastaanottaja|aihe|kopio"
    r"|skickat|datum|till|ämne|kopia|gesendet|an|betreff|envoyé|à|objet|date|verzonden|aan"
    r"|onderwerp|enviado|para|asunto|fecha|inviato|oggetto|data|sendt|til|emne|wysłano|do"
    r"|temat|saadetud|saaja|teema)\s*\*?\s*:",
    re.IGNORECASE,
)
_DEVICE_RE = re.compile(
    r"^\s*(?:lähetetty|sent|skickat|sendt|von|envoyé|verzonden|enviado|inviato|wysłane)\b.{0,40}"
    r"(?:iphone|ipad|android|galaxy|samsung|outlook|mobiili|mobile|mobil|handy|huawei|xiaomi"
    r"|pixel|mail for windows|windows-posti|windows mail|telefon|puhelime)",
    re.IGNORECASE,
)
_DEVICE_ONLY_RE = re.compile(
    r"^\s*(?:get outlook for|hanki outlook|skaffa outlook|holen sie sich outlook"
    r"|von meinem \w+ gesendet|envoyé de mon|inviato da|enviado desde|verstuurd vanaf"
    r"|sendt fra min|wysłane z)",
    re.IGNORECASE,
)
_SIG_SEPARATOR = r"(?:--|-- |__+|—)"
_SIG_SEPARATOR_RE = re.compile(rf"^{_SIG_SEPARATOR}\s*$")
#: The same as a line of "\n"-joined lines ("\n" + text): a line can hold no "\n", so there
#: ``[^\S\n]`` is ``\s`` and ``(?=\n|\Z)`` is ``$``; one search replaces a match per line.
_SIG_SEPARATOR_LINE_RE = re.compile(rf"\n{_SIG_SEPARATOR}[^\S\n]*(?=\n|\Z)")
_CLOSINGS = (
    r"(?:ystävällisin terveisin|ystävällisesti|parhain terveisin|terveisin|terv\.?|t\.|"
    r"yst\. terv\.?|kiittäen|hyvää päivänjatkoa|med vänlig(?:a)? hälsning(?:ar)?|vänliga hälsningar"
    r"|vänligen|mvh|hälsningar|hälsning|med venlig hilsen|venlig hilsen|mvh\.|med vennlig hilsen"
    r"|vennlig hilsen|hilsen|best regards|kind regards|warm regards|regards|best wishes|best"
    r"|cheers|yours sincerely|sincerely|yours faithfully|br|mit freundlichen grüßen"
    r"|freundliche grüße|viele grüße|beste grüße|liebe grüße|mfg|cordialement|bien cordialement"
    r"|salutations|met vriendelijke groet(?:en)?|vriendelijke groet(?:en)?|groeten|saludos"
    r"|atentamente|un saludo|cordiali saluti|distinti saluti|saluti|cumprimentos"
    r"|com os melhores cumprimentos|atenciosamente|pozdrawiam|z poważaniem|lugupidamisega"
    r"|parimate soovidega|tervitades)"
)
#: A closing line, as a line of "\n" + "\n"-joined lines (see ``_SIG_SEPARATOR_LINE_RE``); the
#: lookahead (first letters of the closings) rejects most lines before the long alternation.
_CLOSING_LINE_RE = re.compile(
    rf"\n[^\S\n]*(?=[abcdfghklmprstuvwyz]){_CLOSINGS}[^\S\n]*[,.!]?[^\S\n]*(?=\n|\Z)", re.IGNORECASE
)
#: A closing only starts the signature if at most this many non-blank lines follow it.
_CLOSING_TAIL_LINES = 10
_DISCLAIMER_RE = re.compile(
    r"(?:intended recipient|tarkoitettu vastaanottaja|avsedd mottagare|avsedda mottagaren"
    r"|rätte mottagare|rette modtager|tiltenkte mottaker|beoogde ontvanger|destinataire prévu"
    r"|destinatario previsto|destinatário pretendido|bestimmungsgemäße empfänger"
    r"|richtige adressat|adresatem wiadomości|confidentiality notice|\bdisclaimer\s*:"
    r"|\b(?:this|tämä|tämän|detta|denna|dieses|diese|ce|cet|questo|este|esta|dit|deze|denne"
    r"|dette|ta|niniejsza|see)\b.{0,40}(?:e-?mail|message|communication|viesti|sähköposti"
    r"|e-post|meddelande|nachricht|courriel|messaggio|mensaje|mensagem|bericht|meddelelse"
    r"|melding|wiadomo|kiri)\w*.{0,80}(?:confidential|luottamuksellinen|konfidentiell"
    r"|vertraulich|confidentiel|riservat|confidencial|vertrouwelijk|fortrolig|konfidensiell"
    r"|poufn|konfidentsiaal))",
    re.IGNORECASE,
)
#: Substrings every disclaimer pattern contains; the costly pattern only runs if one is present.
_DISCLAIMER_WORDS = (
    "recipient", "vastaanottaja", "mottagare", "modtager", "mottaker", "ontvanger", "destinat",
    "empfänger", "adressat", "adresatem", "confidential", "luottamuksel", "konfidentiell",
    "vertraulich", "confidentiel", "riservat", "confidencial", "vertrouwelijk", "fortrolig",
    "konfidensiell", "poufn", "konfidentsiaal", "disclaimer",
)  # fmt: skip


def _group_words(
    words: tuple[str, ...], keys: tuple[str, ...]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``(key, words holding it)`` per key, then ``(word, (word,))`` for the other words."""
    grouped = tuple((key, tuple(w for w in words if key in w)) for key in keys)
    rest = tuple((w, (w,)) for w in words if not any(key in w for key in keys))
    return grouped + rest


#: The same words, grouped under substrings they share: one scan rules out a whole group.
_DISCLAIMER_WORD_GROUPS = _group_words(_DISCLAIMER_WORDS, ("onfiden", "motta", "vertr", "adres"))
#: The characters IGNORECASE equates with a letter of those words that ``str.lower`` does not
#: turn into it (İ, ı, ſ): elsewhere, a line the pattern matches holds a word once lowered.
_UNLOWERED_EQUIVALENTS = ("\u0130", "\u0131", "\u017f")
#: Superset of every history-start line pattern above, searched once over "\n" + body: a line
#: start (a literal "\n", which the regex engine skips to) whose first character can begin a
#: marker (the lookahead rejects blank and ordinary lines before the long alternation), or a
#: line ending in a colon (maybe "On … wrote:").
_HISTORY_HINT_RE = re.compile(
    r"\n[ \t]*(?=[-_=*abdefghilmosuvw])"
    r"(?:[-_=*]{2}|\*?(?:from|lähettäjä|lähetäjä|från|von|de|van|da|fra|od|saatja)"
    r"[ \t]*\*?[ \t]*:|begin forwarded|alkuperäinen|välitetty|ursprungligt|vidarebefordrat"
    r"|original message|forwarded message|ursprüngliche|weitergeleitete|message d'origine"
    r"|message transféré|oorspronkelijk|doorgestuurd|mensaje|messaggio|mensagem|oprindelig"
    r"|videresendt|opprinnelig|wiadomość|oryginalna|algne kiri|edastatud kiri|lähetetty|sent"
    r"|skickat|sendt|envoyé|verzonden|enviado|inviato|wysłane|get outlook|hanki outlook"
    r"|skaffa outlook|holen sie sich outlook|von meinem|verstuurd)"
    r"|:[ \t]*(?=\n|\Z)",
    re.IGNORECASE,
)
_QUOTE_RE = re.compile(r"^\s*>")
_BLANK_RUN_RE = re.compile(r"\n\s*\n\s*\n+")


@dataclass(frozen=True, slots=True)
class Extracted:
    """``text``: subject plus new body text, for the model.  ``full``: with the signature,
    for details extraction (a phone in the signature is an identifier staff can use)."""

    text: str
    full: str


def extract(subject: str, plain: str | None, html: str | None) -> Extracted:
    """New text of a message given its subject and first text/plain and text/html parts."""
    body = plain if plain is not None and plain.strip() else None
    if body is None and html:
        body = html_to_text(html)
    elif body is not None and html is None and _looks_like_html(body):
        body = html_to_text(body)
    new_body, signed = _new_text(body or "")
    subject = subject.strip()
    text = "\n".join(part for part in (subject, new_body) if part)
    full = "\n".join(part for part in (subject, signed) if part)
    return Extracted(text[:MAX_CHARS], full[:MAX_CHARS])


def _looks_like_html(text: str) -> bool:
    head = text[:400].lower()
    return "<html" in head or "<body" in head or ("<div" in head and "</" in text) or (
        "<p>" in head and "</p>" in text.lower()
    )


def _new_text(body: str) -> tuple[str, str]:
    """(body without history, signature and disclaimer; body without history and disclaimer)."""
    if "\r" in body:
        body = body.replace("\r\n", "\n").replace("\r", "\n")
    lines = body.split("\n")
    end = _history_start(body, lines)
    kept = lines[:end]
    if ">" in body and any(">" in line for line in kept):
        kept = [line for line in kept if not _QUOTE_RE.match(line)]
    text = "\n".join(kept)
    disclaimer = _disclaimer_start(kept, text)
    if disclaimer < len(kept):
        kept = kept[:disclaimer]
        text = "\n".join(kept)
    signed = _tidy(kept)
    signature = _signature_start(kept, text)
    unsigned = signed if signature == len(kept) else _tidy(kept[:signature])
    return unsigned, signed


def _history_start(body: str, lines: list[str]) -> int:
    """Index of the first line of quoted or forwarded history (len(lines) if none).

    One cheap scan of the whole body (``_HISTORY_HINT_RE``) finds the few lines that could
    start history; only those get the precise line checks.
    """
    hints: list[int] = []
    text = "\n" + body
    line_no, pos = -1, 0
    for match in _HISTORY_HINT_RE.finditer(text):  # in order: count newlines incrementally
        start = match.start() + 1  # past the line's "\n" (or at the colon)
        line_no += text.count("\n", pos, start)
        pos = start
        if not hints or hints[-1] != line_no:
            hints.append(line_no)
    for i in hints:
        line = lines[i]
        stripped = line.strip()
        if not stripped or _QUOTE_RE.match(line):
            continue
        if _SEPARATOR_RE.match(stripped) and not _SIG_SEPARATOR_RE.match(stripped):
            return i
        if _DEVICE_RE.match(stripped) or _DEVICE_ONLY_RE.match(stripped):
            return i
        if len(stripped) < 300 and _WROTE_RE.search(stripped):
            prev = lines[i - 1].strip() if i > 0 else ""
            if prev and _ATTRIBUTION_START_RE.match(prev) and not _WROTE_RE.search(prev):
                return i - 1
            return i
        if _HEADER_FROM_RE.match(stripped) and _is_header_block(lines, i):
            return i
    return len(lines)


def _is_header_block(lines: list[str], i: int) -> bool:
    """A ``From:`` line starts history if it carries an address or header lines follow."""
    first = lines[i]
    if "@" in first or _HEADER_OTHER_RE.search(first.split(":", 1)[1]):
        return True
    following = [line for line in lines[i + 1 : i + 6] if line.strip()]
    return any(_HEADER_OTHER_RE.match(line) for line in following[:4])


def _signature_start(lines: list[str], text: str) -> int:
    """Index where the signature begins: ``-- `` or a closing near the end; ``text`` is the
    lines joined by "\n"."""
    text = "\n" + text
    separator = _SIG_SEPARATOR_LINE_RE.search(text)
    if separator:
        return text.count("\n", 0, separator.start())
    for closing in _CLOSING_LINE_RE.finditer(text):
        i = text.count("\n", 0, closing.start())
        tail = sum(1 for rest in lines[i + 1 :] if rest.strip())
        if tail <= _CLOSING_TAIL_LINES:
            return i
    return len(lines)


def _disclaimer_start(lines: list[str], text: str) -> int:
    """Index of the paragraph holding a legal disclaimer (it and all after it are dropped);
    ``text`` is the lines joined by "\n".

    The costly pattern (~5 us a line) only runs on the lines holding one of its words."""
    lowered = text.lower()
    present = [
        word
        for key, words in _DISCLAIMER_WORD_GROUPS
        if key in lowered
        for word in words
        if word in lowered
    ]
    if not present:
        return len(lines)
    candidates: Iterable[int]
    if not text.isascii() and any(char in text for char in _UNLOWERED_EQUIVALENTS):
        candidates = range(len(lines))
    else:  # lower() keeps the line breaks, so a word's line is the count of those before it
        candidates = sorted({
            lowered.count("\n", 0, pos) for word in present for pos in _find_all(lowered, word)
        })
    for i in candidates:
        if _DISCLAIMER_RE.search(lines[i]):
            start = i
            while start > 0 and lines[start - 1].strip():
                start -= 1
            return start
    return len(lines)


def _find_all(text: str, word: str) -> Iterator[int]:
    """Start of every occurrence of ``word`` in ``text``."""
    pos = text.find(word)
    while pos >= 0:
        yield pos
        pos = text.find(word, pos + 1)


def _tidy(lines: list[str]) -> str:
    text = "\n".join(map(str.rstrip, lines)).strip()
    return _BLANK_RUN_RE.sub("\n\n", text)
