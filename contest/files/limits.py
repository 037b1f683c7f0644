"""Every byte, size and pixel limit of the app's files and forms, by name, in one place.

Storage keeps its own transport sizes (part sizes, buffers, the drain limit) in
``storage.interfaces``, since it is a lower layer that knows nothing of contests; the app reads
the ones it needs from there, so each number is written once.
"""

from __future__ import annotations

from storage.interfaces import DRAIN_LIMIT, ONE_MIB

__all__ = [
    "BULK_MAX_CSV_BYTES",
    "BULK_MAX_ROWS",
    "BULK_MAX_ZIP_BYTES",
    "BULK_SPOOL_IN_MEMORY",
    "CONSOLE_FORM_OVERHEAD",
    "COPY_CHUNK",
    "DRAIN_LIMIT",
    "FILENAME_MAX",
    "FORM_OVERHEAD",
    "IMAGE_HEADER_BYTES",
    "IMPORT_MAX_CSV_BYTES",
    "MAX_BODY_TEXT_BYTES",
    "MAX_BOX_DEPTH",
    "MAX_DOCX_BYTES",
    "MAX_DOCX_UNPACKED",
    "MAX_DOCX_XML_BYTES",
    "MAX_FIELD_BYTES",
    "MAX_FORM_FIELDS",
    "MAX_FORM_FIELD_BYTES",
    "MAX_FORM_PARTS",
    "MAX_HEADERS",
    "MAX_IMAGE_PIXELS",
    "MAX_JSON_BYTES",
    "MAX_LOGO_BYTES",
    "MAX_MKV_HEADER_BYTES",
    "MAX_OGG_HEADER_BYTES",
    "MAX_PDF_BYTES",
    "MAX_SCORE_SHEET_BYTES",
    "MAX_SCORE_SHEET_ROWS",
    "MAX_TEXT_CHARS",
    "ONE_MIB",
    "PREVIEW_SIZE",
    "SNIFF_BYTES",
    "SPOOL_IN_MEMORY",
    "THUMBNAIL_SIZE",
]

# --- what a file is -----------------------------------------------------------------------

# Bytes looked at to decide what a file is; the ZIP-based formats need to see the name of
# their first members, which sit in the first few hundred bytes.
SNIFF_BYTES = 8 * 1024
# A client's file name, kept to show it back (characters, not bytes).
FILENAME_MAX = 180

# --- forms --------------------------------------------------------------------------------

# Room for the text fields and the multipart framing around the files of one submission.
FORM_OVERHEAD = 256 * 1024
MAX_FORM_PARTS = 40
MAX_FIELD_BYTES = 8 * 1024
# A typed essay: generous for the longest word limit, bounded so a form stays a form.
MAX_BODY_TEXT_BYTES = 200 * 1024
# A JSON submission: the essay plus its other fields.
MAX_JSON_BYTES = MAX_BODY_TEXT_BYTES + 64 * 1024
# Room for the multipart framing and the few fields around the one small file (a logo, a
# CSV) that a console form sends.
CONSOLE_FORM_OVERHEAD = 64 * 1024
# Forms without files are small; a larger body is not a form of ours.
MAX_FORM_FIELDS = 200
MAX_FORM_FIELD_BYTES = 64 * 1024

# --- drawings -----------------------------------------------------------------------------

# Previews are what judges and the gallery see; the original stays untouched. 64 megapixels
# covers a 50 MP phone photo and an A4 page scanned at 600 dpi.
MAX_IMAGE_PIXELS = 64_000_000
# An image's first bytes, read while it is uploaded to refuse a decompression bomb from its
# header before it is stored; the whole image is decoded later, in the background.
IMAGE_HEADER_BYTES = 64 * 1024
PREVIEW_SIZE = 1600
THUMBNAIL_SIZE = 400
# Drawings are decoded from a spooled copy: small ones stay in memory, larger ones on disk.
SPOOL_IN_MEMORY = 4 * ONE_MIB
# The event's logo, decoded whole in memory.
MAX_LOGO_BYTES = 5 * ONE_MIB

# --- bulk submissions and imports ---------------------------------------------------------

BULK_MAX_CSV_BYTES = 2 * ONE_MIB
BULK_MAX_ZIP_BYTES = 1024 * ONE_MIB
BULK_MAX_ROWS = 1000
# A bulk ZIP is spooled: its first MiB in memory, the rest on disk.
BULK_SPOOL_IN_MEMORY = ONE_MIB
# The organisers' CSV imports (units, judges).
IMPORT_MAX_CSV_BYTES = 2 * ONE_MIB
# One judge's scores typed into their spreadsheet (and read back whole in memory).
MAX_SCORE_SHEET_BYTES = 5 * ONE_MIB
MAX_SCORE_SHEET_ROWS = 20_000

# --- the judges' reader -------------------------------------------------------------------

# A DOCX shown as text is read whole; past this it is offered as a download.
MAX_DOCX_BYTES = 20 * ONE_MIB
# Past this a document is not an essay; the viewer shows what fits and says so.
MAX_DOCX_XML_BYTES = 20 * ONE_MIB
MAX_TEXT_CHARS = 200_000

# --- metadata cleaners --------------------------------------------------------------------

COPY_CHUNK = ONE_MIB
# A DOCX is rebuilt member by member; past this much unpacked data it is left as it is (the
# judges' reader refuses it too).
MAX_DOCX_UNPACKED = 64 * ONE_MIB
# A PDF is cleaned in memory; a larger one is left as it is.
MAX_PDF_BYTES = 64 * ONE_MIB
# A stream cleaner looks at most this deep into boxes (a phone's tags are at most 3 deep:
# moov, trak, udta) and at this many headers in all (a phone's file has a few dozen, a
# fragmented one two per fragment). Past either, the rest is kept as it is: a hostile file
# costs bounded memory and bounded work.
MAX_BOX_DEPTH = 8
MAX_HEADERS = 100_000
# The pages that hold an Ogg stream's headers are kept in memory until its comments are
# cleaned; headers larger than this (a recording is not) are left as they are.
MAX_OGG_HEADER_BYTES = 64 * ONE_MIB
# WebM segment children read whole to be cleaned; larger ones are left as they are.
MAX_MKV_HEADER_BYTES = 16 * ONE_MIB
