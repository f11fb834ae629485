"""Normalize a rendered text part: resolve the converter's break and link marks, tidy lines."""

from __future__ import annotations

import re

__all__ = ["ALT", "END", "HREF", "LINE", "LINK", "PARA", "normalize_text", "settle_static_breaks"]

# The compiler converts HTML that still holds recipient markers, renders the result per recipient,
# and must get what converting the fully rendered HTML gives. Every choice that depends on text
# content (is this link text empty? is there anything between these two blocks?) can change once
# data is filled in, so `html_to_text` never makes one: it leaves marks that `normalize_text`
# resolves after rendering. The marks are Unicode noncharacters, reserved for internal use.
LINE = "\ufdd0"  # a soft line break at a block boundary; merges with adjacent breaks
PARA = "\ufdd1"  # a soft paragraph break
LINK = "\ufdd2"  # a link: LINK alt ALT text HREF url END
ALT = "\ufdd3"
HREF = "\ufdd4"
END = "\ufdd5"

# normalize_text runs once per recipient. Scanning with `re` is fast only for patterns that start
# with a rare literal character, and `in` is fast only for single characters, so every step below
# is guarded by such a check or is such a pattern.
_EDGES = f" \n{LINE}{PARA}"
# A link that is not simply "text (url)": with no text of its own or spaces after it; with no
# url, a fragment, javascript: or spaces around the url; or whose text may equal its url (their
# first characters do). Groups: alt, (first characters), text, url.
_ODD_LINK = re.compile(
    # Possessive: a backtrack into the label must never read the alt as part of it.
    f"{LINK}(?:([^{ALT}{HREF}]*+){ALT})?+"
    f"(?=[^{HREF}]*+(?<=[{_EDGES}{LINK}{ALT}]){HREF}"
    f"|[^{HREF}]*+{HREF}(?:[\\x00-\\x20#jJ{END}]|[^{END}]*+(?<=[\\x00-\\x20]){END})"
    f"|[{_EDGES}]*+([^{_EDGES}{HREF}]{{1,4}}+)[^{HREF}]*+{HREF}(?:mailto:)?\\2)"
    f"([^{HREF}]*+){HREF}([^{END}]*+){END}"
)
_ALT_PART = re.compile(f"{LINK}[^{ALT}{HREF}]*+{ALT}")
_SCRIPT_URL = re.compile(r"[\x00-\x20]*j\s*a\s*v\s*a\s*s\s*c\s*r\s*i\s*p\s*t\s*:", re.IGNORECASE)
_SPACE_RUN = re.compile("   *")
# The converter drops spaces next to breaks, so a run of breaks is usually marks alone: "\n\n"
# if it holds a PARA, else "\n". Two subs resolve those, and the caller then tidies spaces and
# blank lines as on any line. A PARA and the marks after it become "\n\n" wherever they stand,
# since a paragraph break wins anyway. A whole run of LINEs with no space or newline before it
# and no space after it becomes "\n" and takes in a newline right after it, which its run then
# holds already (as "\n" or a PARA's "\n\n"). Any other LINE is left for the general path. Both
# patterns start with a mark, which `re` skips to quickly.
_PARA_MARKS = re.compile(f"{PARA}[{LINE}{PARA}]*+")
_LEADING_LINES = re.compile(f"{LINE}(?<![ \n{LINE}]{LINE}){LINE}*+(?:\n|(?! ))")
# A LINE with a space next to it. The pattern starts with the LINE itself: `re` skips to it
# quickly, where a two-character `in` or `replace` scans a text with marks at ~1 ns a character.
_SPACED_LINE = re.compile(f"{LINE}(?: |(?<= {LINE}))")
_LINE_BEFORE_NEWLINE = re.compile(f"{LINE}{LINE}*\n")
_LINE_AFTER_NEWLINE = re.compile(f"\n{LINE}{LINE}*")
_LINE_RUN = re.compile(f"{LINE}{LINE}*")
_BLANK_LINES = re.compile("\n\n\n\n*")
# Non-ASCII whitespace (as str.isspace sees it: U+00A0, U+200A…) and zero-width characters.
_INVISIBLE = (
    " \x85\xa0\xad\u034f\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u200b\u200c\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"
)
_INVISIBLE_LINE = re.compile(f"\n[{_INVISIBLE}]+(?=\n)")
_ROUGH_LINES = re.compile("\n(?: |\n\n|(?<= \n))")  # a space at a line end, or 3 newlines
# Either of the two above: one scan tells that a text needs neither, as it usually does.
_UNTIDY_LINES = re.compile(f"\n(?:[{_INVISIBLE}]+(?=\n)| |\n\n|(?<= \n))")


_MARK_RUN = re.compile(f"[ \n{LINE}{PARA}]+")
_LINKISH = frozenset((LINK, ALT, HREF, END))


def settle_static_breaks(
    text: str, dynamic: re.Pattern[str], *, fences: re.Pattern[str] | None = None
) -> str:
    """Resolve, once per variant, the soft breaks that no recipient's data can touch.

    ``text`` is ``html_to_text`` output still holding token markers (``dynamic`` matches
    them). A run of spaces, newlines and soft breaks between two static characters resolves
    the same way for everyone, so it is settled here exactly as `normalize_text` would;
    runs next to a marker, a link mark or either end are left for `normalize_text`. Runs may
    span ``fences`` (static comments that only mark where the output will be cut); the settled
    break goes before them.
    """
    text = _settle_links(text, dynamic)
    run = _MARK_RUN
    if fences is not None:
        run = re.compile(f"(?:[ \n{LINE}{PARA}]|{fences.pattern})+")
    starts: set[int] = set()
    ends: set[int] = set()
    for found in dynamic.finditer(text):
        starts.add(found.start())
        ends.add(found.end())
    size = len(text)

    def settle(match: re.Match[str]) -> str:
        whole = match.group()
        begin, end = match.span()
        if LINE not in whole and PARA not in whole:
            return whole
        if begin == 0 or end == size or begin in ends or end in starts:
            return whole
        if text[begin - 1] in _LINKISH or text[end] in _LINKISH:
            return whole
        kept = "".join(fences.findall(whole)) if fences is not None else ""
        breaks = fences.sub("", whole) if fences is not None else whole
        return ("\n\n" if PARA in breaks or breaks.count("\n") >= 2 else "\n") + kept

    return run.sub(settle, text)


_ANY_LINK = re.compile(
    f"{LINK}(?:([^{ALT}{HREF}{LINK}]*){ALT})?([^{HREF}{LINK}]*){HREF}([^{END}{LINK}]*){END}"
)


def _settle_links(text: str, dynamic: re.Pattern[str]) -> str:
    """Format, once per variant, the links whose rendered form data cannot change.

    A static link resolves here exactly as in `normalize_text`. A link with a static label
    and a URL that starts with a token also has one form, ``label (url)``: that token started
    an ``href`` in the HTML, where it was checked to be a non-empty http(s) or mailto URL
    (without spaces). Only labels with a space qualify: no such URL or address can equal them.
    """

    def settle(match: re.Match[str]) -> str:
        alt, label, url = match.group(1, 2, 3)
        if dynamic.search(label):
            return match.group()
        core = label.strip(_EDGES)
        if not dynamic.search(url):
            if not (alt and dynamic.search(alt)):
                return _link(alt, label, url)
            # The alt stands in only for a link with no text: with text, it cannot matter.
            return _link(None, label, url) if core else match.group()
        if " " not in core:  # a checked URL has no spaces, so such a label never equals it
            return match.group()
        first = dynamic.match(url)
        if first is None:  # a later token was not checked as a URL: it may print spaces
            return match.group()
        last = [m.end() for m in dynamic.finditer(url)][-1]
        whole = first.end() == len(url)
        if not whole and (last == len(url) or url[-1] <= " "):
            return match.group()
        start = len(label) - len(label.lstrip(_EDGES))
        return label[:start] + f"{core} ({url.strip(' ')})" + label[start + len(core) :]

    return _ANY_LINK.sub(settle, text) if LINK in text else text


def normalize_text(text: str) -> str:
    """Clean up a rendered text part; applying it twice changes nothing.

    Resolves the marks left by `html_to_text`: block boundaries that meet (with nothing but
    whitespace between) make one line or paragraph break, never more; links become
    ``text (url)``, just ``url`` when the text is empty or equals the url, and just ``text`` for
    ``#…`` and ``javascript:`` urls. Then turns CR LF and CR into LF, collapses runs of spaces
    and tabs, strips them from line ends, empties lines that hold nothing visible (only U+00A0,
    U+200A, zero-width spaces and the like), allows at most one blank line in a row, drops
    leading and trailing blank lines, and ends the text with one newline. Elsewhere U+00A0 is
    kept as is.

    Args:
        text: The text, e.g. a text template rendered for one recipient.

    Returns:
        The normalized text, or ``""`` when nothing visible is left.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in text:
        text = text.replace("\t", " ")
    if LINK in text or ALT in text or HREF in text or END in text:
        text = _resolve_links(text)
    if "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    if LINE in text or PARA in text:
        text = _resolve_breaks(text)
    if _UNTIDY_LINES.search(text):
        text = _tidy_lines(text)
    if not text.isascii():
        text = _drop_invisible_edges(text)
    text = text.strip(" \n")
    return f"{text}\n" if text else ""


def _tidy_lines(text: str) -> str:
    """Strip spaces from line ends, empty the lines that hold nothing visible (spacers such as
    ``&nbsp;`` or ``&#8202;``), and allow one blank line in a row."""
    if _ROUGH_LINES.search(text):
        text = text.replace(" \n", "\n").replace("\n ", "\n")
        text = _BLANK_LINES.sub("\n\n", text)
    if not text.isascii() and _INVISIBLE_LINE.search(text):
        text = _INVISIBLE_LINE.sub("\n", text)
        if "\n\n\n" in text:
            text = _BLANK_LINES.sub("\n\n", text)
    return text


def _drop_invisible_edges(text: str) -> str:
    """Empty the first and last lines if they hold nothing visible."""
    # They lose only newlines, which the caller strips anyway. Such a line starts and ends with
    # an invisible character, and a newline is none: the common case costs two lookups.
    if text and text[0] in _INVISIBLE:
        end = text.find("\n")
        first = text if end < 0 else text[:end]
        if not first.strip(_INVISIBLE):
            text = text[len(first) :]
    if text and text[-1] in _INVISIBLE:
        start = text.rfind("\n") + 1
        if not text[start:].strip(_INVISIBLE):
            text = text[:start]
    return text


def _resolve_links(text: str) -> str:
    if LINK in text:
        text = _ODD_LINK.sub(_format_link, text)
    # What is left is plain "text (url)", or stray marks from data, which get the same treatment.
    if ALT in text:
        text = _replace(_ALT_PART.sub("", text), ALT, "")
    for mark, replacement in ((LINK, ""), (HREF, " (")):
        if mark in text:
            text = _replace(text, mark, replacement)
    # Same length: str.replace then copies the text and jumps between hits with memchr.
    return text.replace(END, ")") if END in text else text


def _replace(text: str, mark: str, replacement: str) -> str:
    # For a one-character needle in text with characters beyond Latin-1 (every text with marks),
    # split and join is markedly faster than str.replace in CPython 3.11, unless the replacement
    # is one character too.
    return replacement.join(text.split(mark))


def _format_link(match: re.Match[str]) -> str:
    return _link(*match.group(1, 3, 4))


def _link(alt: str | None, label: str, url: str) -> str:
    """``text (url)``, or just one of them, with the label's edge breaks kept in place."""
    core = label.strip(_EDGES)
    if not core and alt:  # the alt text of the link's first image stands in for its text
        label += alt
        core = alt.strip(_EDGES)
    start = len(label) - len(label.lstrip(_EDGES))
    return label[:start] + _link_text(core, url.strip(" ")) + label[start + len(core) :]


def _link_text(text: str, url: str) -> str:
    if not url or url[0] == "#" or _SCRIPT_URL.match(url):
        return text
    if not text or _squash(text) in (_squash(url), _squash(url.removeprefix("mailto:"))):
        return url
    return f"{text} ({url})"


def _squash(text: str) -> str:
    return _SPACE_RUN.sub(" ", text) if "  " in text else text


def _resolve_breaks(text: str) -> str:
    """Turn soft breaks into newlines: a run of breaks and newlines keeps only its strongest.

    Spaces and extra newlines next to a resolved break may be left for the caller to tidy.
    """
    text = _PARA_MARKS.sub("\n\n", text) if PARA in text else text
    if LINE in text:
        text = _LEADING_LINES.sub("\n", text)
    if LINE not in text:
        return text
    # A LINE is left next to a space or a newline. A run resolved so far would resolve the same
    # again (it keeps its strongest break), so the general path goes on from here. Spaces next
    # to newlines alone are the caller's.
    if _SPACED_LINE.search(text):  # spaces are single by now, so one pass per side is enough
        text = text.replace(f" {LINE}", LINE).replace(f"{LINE} ", LINE)
    # A soft line break next to a newline is already satisfied by it.
    text = _LINE_BEFORE_NEWLINE.sub("\n", text)
    text = _LINE_AFTER_NEWLINE.sub("\n", text)
    text = _LINE_RUN.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text) if "\n\n\n" in text else text
