"""Metadata that names or locates a child, taken out of stored files before anyone sees them.

Phones and office programs write more than the work: a video's place (QuickTime ``©xyz``, the
location keys of ``meta``), an audio file's artist and title tags (ID3, RIFF INFO, Vorbis
comments, Matroska tags), a document's author and last editor, a PDF's author and title.
Judges must not learn the entrant's name from a file, and the public must not learn where a
child lives from a video in the gallery.

One module per format. Each scrubber reads a seekable source and writes the cleaned file to a
target, returning whether anything changed (the caller then replaces the stored object).
Recordings made of boxes or chunks (MP4, M4A, MOV, WAV) are cleaned as they stream in instead,
by a ``StreamCleaner``: they are stored clean, with nothing kept apart or read back. Container
formats are cleaned without moving a byte of the media (boxes and chunks are renamed to padding
and zeroed, WebM elements become Voids, Ogg comment headers are blanked length for length and
their pages get a new CRC, PDF strings are blanked in place), so offsets inside the file stay
valid. Images are not touched here: the public sees only their re-encoded previews
(contest.files.images), and their originals stay as the family sent them.

Which cleaner runs for which kind of file is a column of the one table of kinds
(``contest.files.kinds.FILE_KINDS``: ``scrub`` and ``stream_cleaner``). What is not cleaned
(and why) is listed in ``NOT_CLEANED`` for the report and the README.
"""

from __future__ import annotations

from contest.files.cleaners.stream import Scrub, StreamCleaner, scrub_file

__all__ = ["NOT_CLEANED", "Scrub", "StreamCleaner", "scrub_file"]

NOT_CLEANED = (
    "chapter names in WebM recordings",
    "APEv2 tags in MP3 files",
    "PDF metadata inside compressed object streams, and text or images inside the PDF",
    "pictures embedded in a DOCX (word/media) keep their own EXIF",
    "the originals of drawings (the public sees previews only; judges' pages show originals)",
    "MP4 or MOV tags nested deeper than 8 boxes or after the first 100,000 boxes (no phone "
    "writes them so; the bound keeps a hostile file's cost small)",
)
