"""MIME parsing that survives bad mail.

Why hand-rolled on top of the stdlib: ``email.policy.default`` parses about 420 msg/s per core
here (shared/machine-notes.md); the ``compat32`` parser is ~5x faster, and we decode headers and
bodies ourselves with explicit fallbacks (unknown/wrong charsets, broken base64 and
quoted-printable, RFC 2047/2231 oddities).  ``parse_message`` never raises for malformed input;
what it had to repair is listed in ``defects`` so triage can flag or quarantine the message.
"""

from __future__ import annotations

import binascii
import codecs
import email.utils
import quopri
import re
from base64 import b64decode
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.header import Header, decode_header
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from itertools import pairwise

_PARSER = BytesParser(policy=compat32)
_MSGID_RE = re.compile(r"<[^<>\s]+>")
_WS_RE = re.compile(r"[\s\x00]+")  # NUL too: PostgreSQL text cannot hold it
#: Defects after which the message text cannot be trusted: triage quarantines it.
FATAL_DEFECTS = frozenset({"no_from", "undecodable_body", "not_a_message"})


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attachment's metadata; the bytes stay in the stored raw message."""

    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """The fields every stage needs, decoded once."""

    subject: str
    from_addr: str | None
    from_name: str
    message_id: str | None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    reply_to: str | None = None
    to_addrs: tuple[str, ...] = ()
    return_path: str | None = None
    auto_submitted: str | None = None
    precedence: str | None = None
    list_id: str | None = None
    list_unsubscribe: str | None = None
    content_type: str = "text/plain"
    report_type: str | None = None
    auto_reply_headers: tuple[str, ...] = ()
    authentication_results: tuple[str, ...] = ()
    date: str | None = None
    text_plain: str | None = None
    text_html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    defects: tuple[str, ...] = field(default_factory=tuple)

    @property
    def fatal(self) -> bool:
        """True when the message cannot be triaged safely and must be quarantined."""
        return any(d.split(":", 1)[0] in FATAL_DEFECTS for d in self.defects)


def _lookup_charset(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().strip('"').lower()
    aliases = {"utf8": "utf-8", "unicode-1-1-utf-7": "utf-7", "x-unknown": "", "unknown-8bit": ""}
    name = aliases.get(name, name)
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except (LookupError, UnicodeError, ValueError):  # also 8-bit junk in the name
        return None


_CP1252_PUNCT = frozenset("\xa0€‚„…‘’“”•–—™«»§°·´")


def decode_bytes(data: bytes, charset: str | None, defects: list[str]) -> str:
    """Decode with the declared charset, else UTF-8, else a detected one, else latin-1."""
    cs = _lookup_charset(charset)
    if charset and cs is None:
        defects.append("unknown_charset")
    if cs:
        try:
            return data.decode(cs)
        except (UnicodeDecodeError, LookupError):
            defects.append("wrong_charset")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Mostly valid UTF-8 with a few damaged bytes (broken quoted-printable, a cut multi-byte
    # character): keep UTF-8 and mark the damage; detection would turn every "ä" to mojibake.
    lossy = data.decode("utf-8", errors="replace")
    damaged = lossy.count("\ufffd")
    if sum(1 for ch in lossy if ord(ch) > 127) - damaged > damaged:
        return lossy
    # Legacy mail here is overwhelmingly windows-1252/latin-1 (fi, sv, de, fr…).  When every
    # 8-bit character reads as a letter or common punctuation in it, take it: detection on short
    # texts picks mac_iceland or cp1257 for plain Finnish and turns "käsittely" into "k‰sittely".
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        western = ""
    if western and all(ch.isalpha() or ch in _CP1252_PUNCT for ch in western if ord(ch) > 127):
        return western
    if len(data) > 32:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:65536]).best()
        if best is not None:
            try:
                return data.decode(best.encoding, errors="replace")
            except LookupError:
                pass
    return data.decode("cp1252", errors="replace") if b"\x81" not in data else data.decode(
        "latin-1"
    )


def decode_header_value(value: object, defects: list[str] | None = None) -> str:
    """RFC 2047 decoding that tolerates bad charsets and raw 8-bit headers."""
    if value is None:
        return ""
    if not isinstance(value, str):
        # compat32 returns Header objects for undecodable 8-bit headers.
        value = str(value)
    sink: list[str] = defects if defects is not None else []
    if "=?" not in value:
        if any(ord(c) > 127 for c in value) and "\udc80" <= max(value) <= "\udcff":
            raw = value.encode("utf-8", "surrogateescape")
            value = decode_bytes(raw, "utf-8", sink)
        return _WS_RE.sub(" ", value).strip()
    try:
        parts = decode_header(value)
    except (binascii.Error, ValueError, UnicodeError, AssertionError, HeaderParseError):
        sink.append("bad_encoded_word")
        return _WS_RE.sub(" ", value).strip()
    out: list[str] = []
    for chunk, cs in parts:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, cs, sink))
        else:
            out.append(chunk)
    return _WS_RE.sub(" ", "".join(out)).strip()


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    """The part's body bytes after Content-Transfer-Encoding, repairing what can be repaired."""
    # Not get_payload(decode=False): for 8-bit bodies it re-decodes the bytes with the declared
    # charset (errors="replace"), losing them.  compat32 keeps the raw bytes as surrogates here.
    raw = vars(part).get("_payload")
    if isinstance(raw, list):
        return b""
    if not isinstance(raw, str):
        return b""
    data = raw.encode("utf-8", "surrogateescape")
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    return _transfer_decode(data, cte, defects)


_NOT_BASE64_RE = re.compile(rb"[^A-Za-z0-9+/=]")


def _transfer_decode(data: bytes, cte: str, defects: list[str]) -> bytes:
    """Body bytes after the (stripped, lower-case) Content-Transfer-Encoding ``cte``."""
    if cte == "base64":
        cleaned = _NOT_BASE64_RE.sub(b"", data)
        cleaned = cleaned.split(b"=", 1)[0]
        cleaned += b"=" * (-len(cleaned) % 4)
        try:
            return b64decode(cleaned)
        except (binascii.Error, ValueError):
            # A 4n+1 length tail is unrecoverable: drop the last char and keep the rest.
            try:
                defects.append("broken_base64")
                trimmed = cleaned.rstrip(b"=")
                trimmed = trimmed[: len(trimmed) - len(trimmed) % 4]
                return b64decode(trimmed)
            except (binascii.Error, ValueError):
                defects.append("undecodable_body")
                return b""
    if cte == "quoted-printable":
        try:
            return quopri.decodestring(data)
        except (ValueError, binascii.Error):
            defects.append("broken_quoted_printable")
            return data
    return data


def _filename(part: Message, defects: list[str]) -> str:
    try:
        name = part.get_filename()
    except Exception:  # e.g. TypeError from RFC 2231 continuations with a gap (stdlib)
        defects.append("bad_filename")
        return ""
    return decode_header_value(name, defects) if name else ""


def _addresses(value: str) -> list[tuple[str, str]]:
    try:
        return [(n, a) for n, a in email.utils.getaddresses([value]) if a or n]
    except (ValueError, IndexError):
        return []


def _msgids(value: str | None) -> tuple[str, ...]:
    return tuple(_MSGID_RE.findall((value or "").replace("\x00", "")))  # as intake/store.py


def _walk(msg: Message, defects: list[str]) -> tuple[str | None, str | None, list[Attachment]]:
    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disp = str(part.get("content-disposition", "")).split(";", 1)[0].strip().lower()
        filename = _filename(part, defects)
        is_text = ctype in ("text/plain", "text/html")
        if is_text and disp != "attachment" and not filename:
            body = _payload_bytes(part, defects)
            text = decode_bytes(body, part.get_content_charset(), defects)
            if ctype == "text/plain" and plain is None:
                plain = text
            elif ctype == "text/html" and html is None:
                html = text
            continue
        if ctype == "message/rfc822" or ctype.startswith("message/"):
            continue
        payload = vars(part).get("_payload")  # get_payload() can raise on a bad charset param
        size = len(payload) * 3 // 4 if isinstance(payload, str) else 0
        attachments.append(Attachment(filename or "(unnamed)", ctype, size))
    return plain, html, attachments


def _header(msg: Message, name: str, defects: list[str]) -> str | None:
    try:
        v = msg.get(name)
    except Exception:
        defects.append(f"bad_header:{name}")
        return None
    return _header_text(v)


def _header_text(v: object) -> str | None:
    """A compat32 header value (``Message.get``) as text with 8-bit bytes as surrogates."""
    if isinstance(v, Header):
        # compat32 wraps a raw 8-bit header in a Header whose str() replaces every 8-bit
        # byte with U+FFFD; take its bytes back (as surrogates) so they can be decoded.
        v = b"".join(c if isinstance(c, bytes) else c.encode("ascii", "replace")
                     for c, _cs in decode_header(v)).decode("ascii", "surrogateescape")
    return None if v is None else str(v)


#: One header field of a well-formed block: name, colon, first line and continuation lines
#: (the feedparser's ``headerRE`` minus its "From " envelope and empty-name cases).
_FIELD_RE = re.compile(r"^([\x21-\x39\x3b-\x7e]+):([^\n]*\n(?:[ \t][^\n]*\n)*)", re.MULTILINE)


#: A header value whose parameters ``email.message._parseparam`` reads simply: no quote,
#: backslash or "=" before them; names without RFC 2231 "*"; values plain or quoted, without
#: quotes, backslashes, semicolons or angle brackets inside (``utils.unquote`` strips those).
_SIMPLE_PARAMS_RE = re.compile(
    r'([^;="\\]*)((?:;[ \t\r\n]*[A-Za-z0-9_.-]+[ \t\r\n]*=[ \t\r\n]*'
    r'(?:"[^"\\;<>]*"|[^"\\;<>\s]*)[ \t\r\n]*)*);?[ \t\r\n]*'
)
_SIMPLE_PARAM_RE = re.compile(
    r';[ \t\r\n]*([A-Za-z0-9_.-]+)[ \t\r\n]*=[ \t\r\n]*("[^"\\;<>]*"|[^"\\;<>\s]*)'
)

Fields = list[tuple[str, str]]


def _simple_params(value: str | None) -> dict[str, str] | None:
    """{lower-case name: value} as ``Message.get_param`` returns them (first one wins), for
    a missing header ({}) or one in the simple form above; None for anything else."""
    if value is None:
        return {}
    if not value.isascii():
        return None
    match = _SIMPLE_PARAMS_RE.fullmatch(value)
    if match is None:
        return None
    # The value before the parameters counts as a parameter with an empty value too.
    params: dict[str, str] = {match.group(1).strip().lower(): ""}
    for name, raw in _SIMPLE_PARAM_RE.findall(match.group(2)):
        params.setdefault(name.lower(), raw[1:-1] if raw.startswith('"') else raw)
    return params


def _content_type(value: str | None) -> str:
    """``Message.get_content_type`` of a part (not in a multipart/digest) from its header."""
    if value is None:
        return "text/plain"
    ctype = value.partition(";")[0].strip().lower()
    return ctype if ctype.count("/") == 1 else "text/plain"


def _fields(data: bytes, start: int, end: int) -> tuple[Fields, int] | None:
    """The header fields of the part ``data[start:end]`` (which ends in a line break) as the
    compat32 feedparser stores them, and where its body starts; None unless every header line
    is a plain field or a continuation and the block ends in a blank line.

    Values as ``compat32.header_source_parse`` makes them: the rest of the first line without
    leading blanks, plus the continuation lines as they are, minus trailing CR/LF.
    """
    if data.startswith(b"\n", start) or data.startswith(b"\r\n", start):
        return [], start + (1 if data[start] == 10 else 2)  # no fields, then the blank line
    lf = data.find(b"\n\n", start, end)
    crlf = data.find(b"\n\r\n", start, end)
    if lf < 0 and crlf < 0:
        return None  # headers only, or a body line the feedparser would take for a header
    if lf < 0 or 0 <= crlf < lf:
        head_end, body_start = crlf + 1, crlf + 3
    else:
        head_end, body_start = lf + 1, lf + 2
    block = data[start:head_end].decode("ascii", "surrogateescape")
    fields = _FIELD_RE.findall(block)
    if sum(len(name) + len(rest) + 1 for name, rest in fields) != len(block):
        return None  # a line that is no plain field: envelope "From ", no colon, no name
    return [(name, rest.lstrip(" \t").rstrip("\r\n")) for name, rest in fields], body_start


def _first(fields: Fields, name: str) -> str | None:
    """The first value of header ``name`` (lower case), as ``Message.get`` picks it."""
    for field_name, value in fields:
        if field_name.lower() == name:
            return value
    return None


def _boundary_lines(body: bytes, separator: bytes) -> list[tuple[int, int, bool]]:
    """(start, end, closing) of the lines of ``body`` (which starts with "\n") that the
    feedparser's ``boundaryre`` matches: the separator, an optional "--", blanks, line break."""
    found: list[tuple[int, int, bool]] = []
    needle = b"\n" + separator
    pos = body.find(needle)
    while pos >= 0:
        start = pos + 1
        eol = body.find(b"\n", start)
        end = len(body) if eol < 0 else eol + 1
        rest = body[start + len(separator) : end].rstrip(b"\n").removesuffix(b"\r")
        closing = rest.startswith(b"--")
        if not (rest[2:] if closing else rest).strip(b" \t"):
            found.append((start, end, closing))
        pos = body.find(needle, end - 1)
    return found


def _fast_split(raw: bytes) -> tuple[Fields, list[tuple[Fields, bytes]]] | None:
    """The message's header fields and its leaf parts (fields, body bytes) in ``walk`` order,
    as the compat32 parser would build them, for the common shapes only: one part that is
    neither multipart nor message/*, or a multipart of such parts.  About 5x faster than the
    feedparser.  None whenever the stdlib might read anything differently (a lone CR, a header
    line that is no plain field, a header block without a blank line, nesting, message/* parts,
    an unusual boundary, repeated boundary lines, an unterminated multipart): the caller then
    uses the stdlib parser.

    The feedparser splits lines at CR, LF and CRLF; with no lone CR every line starts after an
    LF, so boundary lines can be found with ``bytes.find``.  A part is the text between two
    boundary lines, minus the line break before the second (RFC 2046: it belongs to the
    boundary); the preamble and the epilogue are not parts.
    """
    if b"\r" in raw and raw.count(b"\r") != raw.count(b"\r\n"):
        return None
    head = _fields(raw, 0, len(raw))
    if head is None:
        return None
    fields, body_start = head
    ctype_value = _first(fields, "content-type")
    if ctype_value is not None and not ctype_value.isascii():
        return None  # compat32 hands out a Header object; leave it to the stdlib
    ctype = _content_type(ctype_value)
    maintype = ctype.partition("/")[0]
    if maintype == "message":
        return None
    if maintype != "multipart":
        return fields, [(fields, raw[body_start:])]
    if ctype == "multipart/digest":  # its parts default to message/rfc822
        return None
    params = _simple_params(ctype_value)
    if params is not None:
        boundary = params.get("boundary", "").rstrip()  # as ``get_boundary``
    else:
        probe = Message()
        for name, value in fields:
            probe.set_raw(name, value)
        boundary = probe.get_boundary() or ""
    if not boundary or not boundary.isascii() or "\n" in boundary or "\r" in boundary:
        return None
    body = b"\n" + raw[body_start:]
    lines = _boundary_lines(body, b"--" + boundary.encode("ascii"))
    closes = [i for i, (_start, _end, closing) in enumerate(lines) if closing]
    if not closes or closes[0] == 0:
        return None  # unterminated, or no opening boundary: defects for the stdlib to note
    parts: list[tuple[Fields, bytes]] = []
    for (_start, part_start, _closing), (part_end, _end, _c) in pairwise(lines[: closes[0] + 1]):
        if part_start == part_end:
            return None  # repeated boundary lines: the stdlib skips them, this does not
        part = _fields(body, part_start, part_end)
        if part is None:
            return None
        part_fields, payload_start = part
        part_type = _first(part_fields, "content-type")
        if part_type is not None and not part_type.isascii():
            return None  # compat32 hands out a Header object; leave it to the stdlib
        if _content_type(part_type).partition("/")[0] in ("multipart", "message"):
            return None
        payload = body[payload_start:part_end]  # ends in the boundary's line break
        parts.append((part_fields, payload[:-2] if payload.endswith(b"\r\n") else payload[:-1]))
    return fields, parts


def _leaf_text(fields: Fields, body: bytes, defects: list[str]) -> tuple[str, str] | None:
    """(content type, decoded text) of a leaf part ``_walk`` reads as a text body, else None.

    The same decisions as ``_walk``: from the raw header values where they are ASCII and their
    parameters simple (the common case), else through a compat32 ``Message`` of the fields.
    """
    ctype_value = _first(fields, "content-type")
    if ctype_value is None or ctype_value.isascii():
        ctype = _content_type(ctype_value)
        if ctype not in ("text/plain", "text/html"):
            return None  # whatever its disposition and file name
    disp_value = _first(fields, "content-disposition")
    cte_value = _first(fields, "content-transfer-encoding") or ""
    params = _simple_params(ctype_value)
    disp_params = _simple_params(disp_value)
    if (
        params is not None
        and disp_params is not None
        and cte_value.isascii()
        and "name" not in params
        and "filename" not in disp_params
    ):
        disp = (disp_value or "").split(";", 1)[0].strip().lower()
        if disp == "attachment":
            return None
        charset = params.get("charset")
        data = _transfer_decode(body, cte_value.strip().lower(), defects)
        return ctype, decode_bytes(data, None if charset is None else charset.lower(), defects)
    part = Message()
    for name, value in fields:
        part.set_raw(name, value)
    part.set_payload(body.decode("ascii", "surrogateescape"))
    ctype = part.get_content_type()
    disp = str(part.get("content-disposition", "")).split(";", 1)[0].strip().lower()
    filename = _filename(part, defects)
    if ctype not in ("text/plain", "text/html") or disp == "attachment" or filename:
        return None
    return ctype, decode_bytes(_payload_bytes(part, defects), part.get_content_charset(), defects)


def parse_text_parts(raw: bytes) -> tuple[str, str | None, str | None]:
    """(subject, first text/plain, first text/html) exactly as ``parse_message`` gives them,
    without the address, id and list headers: the labels-only path (``classify_bytes``)
    needs no more, and those headers cost about a third of the parse."""
    if not raw or not raw.strip():
        return "", None, None
    defects: list[str] = []
    split = _fast_split(raw)
    if split is not None:
        fields, parts = split
        subject_value = _first(fields, "subject")
        if subject_value is not None:  # what ``Message.get`` hands out
            subject_value = _header_text(compat32.header_fetch_parse("Subject", subject_value))
        subject = decode_header_value(subject_value, defects)
        plain: str | None = None
        html: str | None = None
        try:
            for part_fields, body in parts:
                found = _leaf_text(part_fields, body, defects)
                if found is None:
                    continue
                if found[0] == "text/plain" and plain is None:
                    plain = found[1]
                elif found[0] == "text/html" and html is None:
                    html = found[1]
        except Exception:
            return subject, None, None
        return subject, plain, html
    try:
        msg = _PARSER.parsebytes(raw)
    except Exception:
        return "", None, None
    subject = decode_header_value(_header(msg, "subject", defects), defects)
    try:
        plain, html, _attachments = _walk(msg, defects)
    except Exception:
        return subject, None, None
    return subject, plain, html


def parse_message(raw: bytes) -> ParsedMail:
    """Parse raw RFC 5322 bytes; never raises on malformed mail (see ``defects``)."""
    defects: list[str] = []
    if not raw or not raw.strip():
        return ParsedMail("", None, "", None, defects=("not_a_message",))
    try:
        msg = _PARSER.parsebytes(raw)
    except Exception:  # the stdlib parser is lenient; guard anyway: nothing may stop the loop
        return ParsedMail("", None, "", None, defects=("not_a_message",))
    for d in msg.defects:
        defects.append(f"mime:{type(d).__name__}")
    if not msg.keys():
        defects.append("not_a_message")

    def header(name: str) -> str | None:
        return _header(msg, name, defects)

    subject = decode_header_value(header("subject"), defects)
    from_name, from_addr = "", None
    froms = _addresses(decode_header_value(header("from"), defects))
    if froms:
        from_name, addr = froms[0]
        from_addr = addr.strip().lower() or None
        # RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an address at most 254.
        if from_addr and ("@" not in from_addr or len(from_addr) > 254):
            defects.append("bad_from")
            from_addr = None
    if from_addr is None:
        defects.append("no_from")
    mid = _msgids(header("message-id"))
    if not mid:
        defects.append("no_message_id")
    reply_to = _addresses(decode_header_value(header("reply-to"), defects))
    to = _addresses(decode_header_value(header("to"), defects))
    rp = header("return-path")
    ctype = msg.get_content_type()
    report_type = msg.get_param("report-type") if ctype == "multipart/report" else None
    auto_hdrs = tuple(
        h
        for h in ("x-autoreply", "x-autorespond", "x-auto-response-suppress", "x-autogenerated")
        if msg.get(h) is not None
    )
    try:
        plain, html, attachments = _walk(msg, defects)
    except Exception as exc:  # a pathological structure; keep the message, quarantine it
        defects.append(f"undecodable_body:{type(exc).__name__}")
        plain, html, attachments = None, None, []
    # msg._payload, not get_payload(): that one re-decodes with the charset parameter and
    # raises on a broken RFC 2231 "charset*0*=" (TypeError).
    top_payload = vars(msg).get("_payload")
    if plain is None and html is None and not attachments and top_payload not in ("", None):
        defects.append("no_text_part")
    return ParsedMail(
        subject=subject,
        from_addr=from_addr,
        from_name=from_name,
        message_id=mid[0] if mid else None,
        in_reply_to=_msgids(header("in-reply-to")),
        references=_msgids(header("references")),
        reply_to=reply_to[0][1].lower() if reply_to else None,
        to_addrs=tuple(a.lower() for _, a in to if a),
        return_path=rp.strip() if rp is not None else None,
        auto_submitted=(header("auto-submitted") or "").strip().lower() or None,
        precedence=(header("precedence") or "").strip().lower() or None,
        list_id=header("list-id"),
        list_unsubscribe=header("list-unsubscribe"),
        content_type=ctype,
        report_type=str(report_type).lower() if report_type else None,
        auto_reply_headers=auto_hdrs,
        authentication_results=tuple(str(v) for v in msg.get_all("authentication-results", [])),
        date=header("date"),
        text_plain=plain,
        text_html=html,
        attachments=tuple(attachments),
        defects=tuple(dict.fromkeys(defects)),
    )
