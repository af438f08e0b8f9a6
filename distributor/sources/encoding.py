"""Bytes -> text for files and feeds that do not say their encoding: a byte order mark is
honoured (UTF-8, UTF-16, UTF-32), UTF-8 is tried next, then the legacy encodings newsrooms
still save in (Windows code pages, KOI8, the East Asian ones) are told apart by
charset_normalizer. Bytes that are no text in any of them give None."""

from __future__ import annotations

import codecs
import re

__all__ = ["declared_xml_encoding", "decode_text"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

#: what legacy text is told apart among (cp1252 first: the web's default when they tie)
LEGACY = ["cp1252", "cp1250", "cp1251", "koi8_r", "koi8_u", "iso8859_5", "cp1253", "cp1254",
          "cp1255", "cp1256", "cp1257", "cp1258", "cp874", "shift_jis", "euc_jp", "gb18030",
          "big5", "euc_kr"]

_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def bom_encoding(raw: bytes) -> tuple[str, int] | None:
    """(encoding, length of the mark) when ``raw`` starts with a byte order mark."""
    for mark, encoding in _BOMS:
        if raw.startswith(mark):
            return encoding, len(mark)
    return None


def declared_xml_encoding(raw: bytes) -> str | None:
    """The ``encoding=`` of an XML declaration, if the document has one."""
    match = _XML_DECLARATION.match(raw[:300])
    return match.group(1).decode("ascii") if match else None


def decode_text(raw: bytes) -> str | None:
    """``raw`` as text, or None when it is no text in any encoding distributor knows."""
    bom = bom_encoding(raw)
    if bom is not None:
        encoding, length = bom
        try:
            return raw[length:].decode(encoding)
        except UnicodeDecodeError:
            return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return _detect(raw)


def _detect(raw: bytes) -> str | None:
    from charset_normalizer import from_bytes

    matches = from_bytes(raw, cp_isolation=LEGACY)
    best = matches.best()
    if best is None:
        return None
    for match in matches:  # a tie with the web's default is the web's default
        if (match.encoding == "cp1252" and match.chaos <= best.chaos
                and match.coherence >= best.coherence - 0.01):
            best = match
            break
    return str(best)
