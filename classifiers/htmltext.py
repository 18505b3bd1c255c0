"""HTML bodies to plain text, without the quoted history mail clients nest in HTML.

Why: many clients (Outlook, Gmail, web forms) send HTML only; the classifier and the extractor
work on text lines.  Quoted history in HTML lives in well-known containers (``blockquote``,
Gmail's ``gmail_quote``, Outlook's ``divRplyFwdMsg``/``appendonsend``, Thunderbird's
``moz-cite-prefix``), which are cheaper and safer to drop from the tree than from the text.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

# Block-level tags become line breaks so line-based markers ("From:", "-- ") still work.
_BLOCK_RE = re.compile(
    r"<(?=/?(?:p|div|br|li|tr|h[1-6]|table|ul|ol|blockquote|hr|pre|section|article|header"
    r"|footer|address|dd|dt)\b)",
    re.IGNORECASE,
)
_DROP_SELECTORS = (
    "head",
    "script",
    "style",
    "title",
    "blockquote",
    "div.gmail_quote",
    "div.gmail_extra",
    "div.yahoo_quoted",
    "div.moz-cite-prefix",
    "div#appendonsend",
    "div#divRplyFwdMsg",
    "div#mail-editor-reference-message-container",
    "div.protonmail_quote",
    "div.zmail_extra",
)
_DROP_CSS = ", ".join(_DROP_SELECTORS)
_SPACES_RE = re.compile(r"[ \t\u00a0\u2007\u202f]+")
_BLANKS_RE = re.compile(r"\n\s*\n\s*\n+")
_OUTLOOK_SEP_RE = re.compile(r"border-top:\s*solid", re.IGNORECASE)


def html_to_text(html: str) -> str:
    """Visible text of ``html`` with one line per block element; quoted containers removed."""
    tree = LexborHTMLParser(_BLOCK_RE.sub("\n<", html))
    for node in tree.css(_DROP_CSS):
        node.decompose()
    # Outlook desktop marks the reply header with a top-bordered div and no id: cut from it on.
    for node in tree.css("div[style]"):
        style = node.attributes.get("style") or ""
        if _OUTLOOK_SEP_RE.search(style) and "From:" in (node.text() or "")[:200]:
            _drop_following(node)
            break
    root = tree.body or tree.root
    if root is None:
        return ""
    text = root.text(separator="", strip=False)
    text = _SPACES_RE.sub(" ", text)
    lines = [line.strip() for line in text.split("\n")]
    return _BLANKS_RE.sub("\n\n", "\n".join(lines)).strip()


def _drop_following(node: LexborNode) -> None:
    """Remove ``node`` and all its following siblings (the quoted tail of an Outlook reply)."""
    current: LexborNode | None = node
    while current is not None:
        nxt = current.next
        current.decompose()
        current = nxt
