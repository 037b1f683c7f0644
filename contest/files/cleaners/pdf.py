"""PDF: document information and XMP names blanked in place, so offsets stay valid."""

from __future__ import annotations

import re
from typing import IO

from contest.files.limits import MAX_PDF_BYTES

# PDF document information entries that may name or describe a person.
_PDF_INFO_KEYS = (b"Author", b"Creator", b"Producer", b"Title", b"Subject", b"Keywords")
_PDF_INFO_REF = re.compile(rb"/Info\s+(\d+)\s+(\d+)\s+R")
_XMP_PACKET = re.compile(rb"<x:xmpmeta\b.*?</x:xmpmeta>", re.DOTALL)
_XMP_FIELDS = re.compile(
    rb"<(dc:creator|dc:title|dc:description|dc:subject|dc:rights|pdf:Author|pdf:Keywords"
    rb"|pdf:Producer|xmp:CreatorTool|photoshop:AuthorsPosition|xmpRights:Owner)\b[^>]*>"
    rb"(.*?)</\1>",
    re.DOTALL,
)
_XMP_ATTRIBUTES = re.compile(
    rb'\b(pdf:Author|pdf:Producer|pdf:Keywords|xmp:CreatorTool|dc:creator)="([^"]*)"'
)
_XML_TEXT = re.compile(rb">([^<]+)<")


def _blank_literal(data: bytearray, at: int) -> int:
    """Blank the literal string '(…)' starting at ``at`` (nested brackets and escapes kept
    balanced by blanking them too); returns where it ends."""
    depth = 0
    index = at
    while index < len(data):
        byte = data[index]
        if byte == 0x5C:  # backslash: the next byte is escaped
            data[index : index + 2] = b"  "[: len(data[index : index + 2])]
            index += 2
            continue
        if byte == 0x28:
            depth += 1
            if depth == 1:
                index += 1
                continue
        elif byte == 0x29:
            depth -= 1
            if depth == 0:
                return index + 1
        data[index] = 0x20
        index += 1
    return index


def _blank_hex(data: bytearray, at: int) -> int:
    end = data.find(b">", at)
    if end < 0:
        return len(data)
    digits = 0
    for index in range(at + 1, end):
        if chr(data[index]) in "0123456789abcdefABCDEF":
            data[index] = ord("2") if digits % 2 == 0 else ord("0")  # hex 20: a space
            digits += 1
    return end + 1


def _blank_info(data: bytearray, start: int, end: int) -> bool:
    changed = False
    for key in _PDF_INFO_KEYS:
        for found in re.finditer(rb"/" + key + rb"\s*([(<])", data[start:end]):
            at = start + found.start(1)
            if data[at : at + 2] == b"<<":
                continue
            if data[at] == 0x28:
                _blank_literal(data, at)
            else:
                _blank_hex(data, at)
            changed = True
    return changed


def _blank_xmp(data: bytearray) -> bool:
    changed = False
    for packet in list(_XMP_PACKET.finditer(data)):
        for field in _XMP_FIELDS.finditer(data, packet.start(), packet.end()):
            for text in _XML_TEXT.finditer(data, field.start(2) - 1, field.end(2) + 1):
                if text[1].strip():
                    data[text.start(1) : text.end(1)] = b" " * len(text[1])
                    changed = True
        for attribute in _XMP_ATTRIBUTES.finditer(data, packet.start(), packet.end()):
            if attribute[2]:
                data[attribute.start(2) : attribute.end(2)] = b" " * len(attribute[2])
                changed = True
    return changed


def scrub_pdf(source: IO[bytes], target: IO[bytes]) -> bool:
    """PDF: the document information (author, title, …) and the XMP packet's names are blanked
    in place, byte for byte, so every offset in the file stays right."""
    data = bytearray(source.read(MAX_PDF_BYTES + 1))
    if len(data) > MAX_PDF_BYTES:
        return False
    changed = False
    for reference in set(_PDF_INFO_REF.findall(data)):
        number, generation = reference
        for obj in re.finditer(
            rb"(?<![0-9])" + number + rb"\s+" + generation + rb"\s+obj\b(.*?)endobj",
            data,
            re.DOTALL,
        ):
            changed |= _blank_info(data, obj.start(1), obj.end(1))
    changed |= _blank_xmp(data)
    target.write(data)
    return changed
