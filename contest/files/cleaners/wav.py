"""WAV (RIFF WAVE): tag chunks become chunks of zeros; the sound passes as it is."""

from __future__ import annotations

import struct
from typing import IO

from contest.files.cleaners.stream import KEEP, ZERO, StreamCleaner, clean_file

# RIFF WAVE: chunks of tags (INFO list, ID3, broadcast origin, iXML, XMP).
_RIFF_TAGS = frozenset({b"LIST", b"id3 ", b"ID3 ", b"bext", b"iXML", b"_PMX", b"cart"})


class WavCleaner(StreamCleaner):
    """WAV: tag chunks become 'JUNK' chunks of zeros; the sound passes as it is."""

    def _begin(self) -> None:
        self._riff = False
        self._expect_header(12)

    def _run_ended(self) -> None:
        self._expect_header(8)

    def _on_header(self, header: bytes) -> bytes | None:
        if not self._riff:
            if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
                self._run(KEEP, None)
                return header
            self._riff = True
            self._expect_header(8)
            return header
        kind, (size,) = header[:4], struct.unpack_from("<I", header, 4)
        end = self._at + size + (size & 1)  # chunks are padded to an even length
        if kind in _RIFF_TAGS:
            self.changed = True
            self._run(ZERO, end)
            return b"JUNK" + header[4:]
        self._run(KEEP, end)
        return header


def scrub_wav(source: IO[bytes], target: IO[bytes]) -> bool:
    """WAV (see WavCleaner)."""
    return clean_file(WavCleaner(), source, target)
