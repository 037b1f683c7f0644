"""What is shown carries no name and no place: the gallery's pictures have no EXIF or GPS, and
documents and recordings lose their author, artist and location tags at intake."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import tempfile
import wave
import zipfile
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.files.cleaners import scrub_file
from contest.files.cleaners.docx import scrub_docx
from contest.files.cleaners.iso import scrub_iso_media
from contest.files.cleaners.mp3 import scrub_mp3
from contest.files.cleaners.ogg import ogg_crc, scrub_ogg
from contest.files.cleaners.pdf import scrub_pdf
from contest.files.cleaners.wav import scrub_wav
from contest.files.cleaners.webm import scrub_matroska
from contest.files.documents import docx_text
from contest.models import Asset, Contest, ContestStatus, Entry, Prize
from storage import Storage
from tests.intake import files
from tests.intake.support import api_submit, entrant_fields, served
from tests.intake.test_api import upload_to_slot
from tests.privacy.support import GUARDIAN, NAME
from tests.results.support import Row, make_results
from tests.support import DRAWING, STORY, WRITING

GPS = b"+21.0285+105.8542/"
ASCII_NAME = b"Hoang Thi Hong Nhung"
SOUND = bytes(range(256)) * 64


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def phone_video(*, index_last: bool = False) -> bytes:
    """An MP4 as a phone writes it: the place in moov/udta/©xyz and in moov/meta, the title in
    a track's udta; the media in mdat (after the index, or before it)."""
    ftyp = _box(b"ftyp", b"isom\x00\x00\x02\x00isommp41")
    udta = _box(b"udta", _box(b"\xa9xyz", struct.pack(">HH", len(GPS), 0) + GPS))
    meta = _box(
        b"meta",
        b"\x00" * 4
        + _box(b"keys", b"com.apple.quicktime.location.ISO6709")
        + _box(b"ilst", GPS + NAME.encode()),
    )
    trak = _box(b"trak", _box(b"tkhd", bytes(84)) + _box(b"udta", _box(b"\xa9nam", NAME.encode())))
    moov = _box(b"moov", _box(b"mvhd", bytes(100)) + udta + meta + trak)
    mdat = _box(b"mdat", SOUND)
    return ftyp + (mdat + moov if index_last else moov + mdat)


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int]]:
    end = len(data) if end is None else end
    found, at = [], start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        found.append((kind, size))
        at += size
    assert at == end, "the boxes must tile the file exactly"
    return found


def tagged_mp3() -> bytes:
    frame = b"TPE1" + struct.pack(">I", 1 + len(NAME.encode())) + b"\x00\x00\x03" + NAME.encode()
    size = len(frame)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    id3v2 = b"ID3\x03\x00\x00" + syncsafe + frame
    audio = (b"\xff\xfb\x90\x64" + b"\x00" * 413) * 8
    id3v1 = b"TAG" + b"Bai ke".ljust(30, b"\x00") + ASCII_NAME.ljust(30, b"\x00") + bytes(65)
    assert len(id3v1) == 128
    return id3v2 + audio + id3v1


def tagged_wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(SOUND)
    plain = out.getvalue()
    name = ASCII_NAME + b"\x00"
    info = (
        b"INFO"
        + b"IART"
        + struct.pack("<I", len(name))
        + name
        + (b"\x00" if len(name) % 2 else b"")
    )
    chunk = b"LIST" + struct.pack("<I", len(info)) + info
    # The tag goes between the format and the sound, as recorders put it.
    fmt_end = 12 + 8 + 16
    body = plain[12:fmt_end] + chunk + plain[fmt_end:]
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def authored_docx() -> bytes:
    return files.docx(
        document=(
            '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Cuốn sách em yêu</w:t></w:r>'
            f'</w:p><w:p><w:ins w:id="1" w:author="{NAME}" w:date="2024-10-01T00:00:00Z"><w:r>'
            "<w:t>Dế Mèn phiêu lưu ký</w:t></w:r></w:ins></w:p></w:body></w:document>"
        ),
        parts={
            "docProps/core.xml": (
                '<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/'
                'package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f"<dc:creator>{NAME}</dc:creator><cp:lastModifiedBy>{GUARDIAN}</cp:lastModifiedBy>"
                "</cp:coreProperties>"
            ),
            "docProps/app.xml": (
                f'<?xml version="1.0"?><Properties><Company>Nhà {GUARDIAN}</Company></Properties>'
            ),
        },
    )


def authored_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Author": NAME, "/Title": f"Bài của {NAME}", "/Producer": "Word"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _name_forms() -> list[bytes]:
    text = NAME
    return [
        text.encode(),
        text.encode("utf-16-be"),
        ASCII_NAME,
        GPS,
        GUARDIAN.encode(),
        text.encode("utf-16-be").hex().upper().encode(),
    ]


async def _stored_original(
    sessionmaker: async_sessionmaker[AsyncSession], store: Storage, code: str
) -> tuple[Asset, bytes]:
    async with sessionmaker() as session:
        asset = await session.scalar(
            select(Asset).join(Entry).where(Entry.receipt_code == code, Asset.source_id.is_(None))
        )
    assert asset is not None
    data = b"".join([chunk async for chunk in await store.get_stream(asset.storage_key)])
    # The row describes what is stored, not what was sent.
    assert (asset.size, asset.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    return asset, data


# Sends a file with an entry (the contest's slug, the file's name, its bytes) and answers what
# is stored of it once the entry's files are processed.
Submitted = Callable[[str, str, bytes], Awaitable[bytes]]


@pytest.fixture
def submitted(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    run_jobs: Callable[[], Awaitable[int]],
) -> Submitted:
    async def submit(slug: str, filename: str, data: bytes) -> bytes:
        made = await api_submit(app, slug, entrant_fields(), [(filename, data)])
        assert made.status_code == 201, made.text
        await run_jobs()
        _asset, stored = await _stored_original(
            sessionmaker, store, made.json()["entry"]["receipt_code"]
        )
        return stored

    return submit


async def test_the_galleries_pictures_carry_no_exif_and_no_place(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    photo = files.photo_jpeg()
    with Image.open(io.BytesIO(photo)) as source:
        assert source.getexif().get_ifd(0x8825), "the test photo must carry GPS"
    made = await api_submit(app, DRAWING, entrant_fields(consent="full_name"), [("p.jpg", photo)])
    code = made.json()["entry"]["receipt_code"]
    assert await run_jobs() == 1
    await make_results(sessionmaker, [Row(code, 1, 9.0, Prize.FIRST)])
    async with sessionmaker() as session:
        await session.execute(
            update(Contest).where(Contest.slug == DRAWING).values(status=ContestStatus.PUBLISHED)
        )
        await session.commit()

    page = await app.get(f"/contests/{DRAWING}/winners")

    assert page.status_code == 200
    links = {
        url.replace("&amp;", "&")
        for url in re.findall(r'(?:src|href)="([^"]*/entries/[0-9a-f]{32}/[^"]*)"', page.text)
        + re.findall(r'(?:src|href)="([^"]*/files/[^"]*)"', page.text)
    }
    assert links, "the gallery must show the drawing"
    assert not any("/original." in link for link in links)  # previews only, never the photo
    for link in links:
        response = await served(app, store, link)
        assert response.status_code == 200
        data = response.content
        assert b"Exif" not in data and b"PhoneMaker" not in data and b"secret comment" not in data
        with Image.open(io.BytesIO(data)) as shown:
            assert dict(shown.getexif()) == {} and not shown.getexif().get_ifd(0x8825)
            assert not {"exif", "xmp", "comment", "icc_profile"} & set(shown.info)


async def test_a_phone_video_loses_its_place_and_names_and_keeps_its_media(
    submitted: Submitted,
) -> None:
    for index_last in (False, True):
        sent = phone_video(index_last=index_last)

        assert GPS in sent and NAME.encode() in sent
        stored = await submitted(STORY, "video.mp4", sent)

        assert len(stored) == len(sent)
        assert not [form for form in _name_forms() if form in stored]
        # The media did not move: every offset in the index still points at the same bytes.
        assert stored.index(SOUND) == sent.index(SOUND)
        top = _boxes(stored)
        assert top == [(kind if kind != b"udta" else b"free", size) for kind, size in _boxes(sent)]
        moov_at = stored.index(b"moov") - 4
        moov_size = struct.unpack_from(">I", stored, moov_at)[0]
        assert [k for k, _ in _boxes(stored, moov_at + 8, moov_at + moov_size)] == [
            b"mvhd",
            b"free",
            b"free",
            b"trak",
        ]


async def test_recordings_are_cleaned_as_they_stream_in(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A phone video or a WAV is stored clean in one write: no copy of it on the app's disk,
    nothing read back from storage, no cleaned object written over the first."""
    writes: list[str] = []
    reads: list[str] = []
    copies: list[object] = []
    put_stream, get_stream = type(store).put_stream, type(store).get_stream
    temporary_file = tempfile.TemporaryFile

    async def counted_put(self: Storage, key: str, *args: Any, **kwargs: Any) -> Any:
        writes.append(key)
        return await put_stream(self, key, *args, **kwargs)  # type: ignore[arg-type]

    async def counted_get(self: Storage, key: str) -> AsyncIterator[bytes]:
        reads.append(key)
        return await get_stream(self, key)  # type: ignore[arg-type]

    def counted_copy(*args: Any, **kwargs: Any) -> Any:
        copies.append(args)
        return temporary_file(*args, **kwargs)

    monkeypatch.setattr(type(store), "put_stream", counted_put)
    monkeypatch.setattr(type(store), "get_stream", counted_get)
    monkeypatch.setattr(tempfile, "TemporaryFile", counted_copy)
    made = []
    for filename, sent in (("video.mp4", phone_video(index_last=True)), ("ke.wav", tagged_wav())):
        answer = await api_submit(app, STORY, entrant_fields(), [(filename, sent)])
        assert answer.status_code == 201, answer.text
        made.append((answer.json()["entry"]["receipt_code"], sent))

    assert (len(writes), reads, copies) == (2, [], [])
    monkeypatch.undo()
    for code, sent in made:
        _asset, stored = await _stored_original(sessionmaker, store, code)
        assert len(stored) == len(sent) and stored != sent
        assert not [form for form in _name_forms() if form in stored]
        assert GPS not in stored and SOUND in stored


async def test_audio_loses_its_artist_tags(submitted: Submitted) -> None:
    mp3 = tagged_mp3()
    assert NAME.encode() in mp3 and ASCII_NAME in mp3
    stored_mp3 = await submitted(STORY, "ke.mp3", mp3)
    assert not [form for form in _name_forms() if form in stored_mp3]
    assert stored_mp3.startswith(b"\xff\xfb") and stored_mp3 in mp3

    wav = tagged_wav()
    stored_wav = await submitted(STORY, "ke.wav", wav)
    assert ASCII_NAME in wav and ASCII_NAME not in stored_wav and len(stored_wav) == len(wav)
    with wave.open(io.BytesIO(stored_wav)) as audio:
        assert audio.readframes(audio.getnframes()) == SOUND


async def test_documents_lose_their_author_and_keep_their_text(submitted: Submitted) -> None:
    docx = authored_docx()
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        assert NAME.encode() in package.read("docProps/core.xml")
    stored_docx = await submitted(WRITING, "bai.docx", docx)
    with zipfile.ZipFile(io.BytesIO(stored_docx)) as package:
        unpacked = b"".join(package.read(name) for name in package.namelist())
        names = package.namelist()
    assert not [form for form in _name_forms() if form in unpacked]
    assert names == zipfile.ZipFile(io.BytesIO(docx)).namelist()
    assert docx_text(stored_docx) == docx_text(docx) != ""

    pdf = authored_pdf()
    assert PdfReader(io.BytesIO(pdf)).metadata.author == NAME
    # pypdf writes the name as UTF-16 in octal escapes: look for those too.
    escaped = b"N\\000h\\000u\\000n\\000g"
    assert escaped in pdf
    stored_pdf = await submitted(WRITING, "bai.pdf", pdf)
    assert len(stored_pdf) == len(pdf)
    assert not [form for form in [*_name_forms(), escaped] if form in stored_pdf]
    reader = PdfReader(io.BytesIO(stored_pdf))
    assert len(reader.pages) == 1
    assert reader.metadata is not None and (reader.metadata.author or "").strip() == ""


def test_the_xmp_packet_of_a_pdf_is_blanked_in_place() -> None:
    packet = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description pdf:Producer="'
        + ASCII_NAME
        + b'"><dc:creator><rdf:Seq><rdf:li>'
        + NAME.encode()
        + b"</rdf:li></rdf:Seq></dc:creator><dc:format>application/pdf</dc:format>"
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    pdf = (
        b"%PDF-1.7\n1 0 obj<</Type/Metadata/Subtype/XML/Length "
        + str(len(packet)).encode()
        + b">>stream\n"
        + packet
        + b"\nendstream endobj\n2 0 obj<</Author(Hoang \\(Nhung\\) (nho))>>endobj\n"
        b"trailer<</Info 2 0 R>>\n%%EOF\n"
    )
    out = io.BytesIO()

    changed = scrub_pdf(io.BytesIO(pdf), out)

    cleaned = out.getvalue()
    assert changed and len(cleaned) == len(pdf)
    assert NAME.encode() not in cleaned and ASCII_NAME not in cleaned and b"Nhung" not in cleaned
    assert b"<dc:format>application/pdf</dc:format>" in cleaned  # what names nobody stays
    assert b"/Author(" in cleaned and cleaned.count(b"endobj") == 2


def test_files_without_tags_are_left_as_they_are() -> None:
    for scrub, data in (
        (scrub_iso_media, files.mp4()),
        (scrub_mp3, (b"\xff\xfb\x90\x64" + b"\x00" * 413) * 4),
        (scrub_wav, files.wav()),
        (scrub_pdf, files.pdf()),
        (scrub_ogg, _ogg_stream(1, [*vorbis_packets([], b""), *AUDIO_PACKETS], 255)),
        (scrub_ogg, _ogg_stream(2, [*opus_packets([], b" "), *AUDIO_PACKETS], 4)),
        (scrub_matroska, untagged_webm()),
    ):
        out = io.BytesIO()
        assert scrub(io.BytesIO(data), out) is False
        assert out.getvalue() == data


# --- Ogg --------------------------------------------------------------------------------------


def _ogg_crc(page: bytes) -> int:
    """The Ogg CRC, bit by bit (written apart from the scrubber's table on purpose)."""
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def _ogg_stream(serial: int, packets: list[bytes], per_page: int) -> bytes:
    """A logical Ogg stream: headers on pages of their own, at most ``per_page`` lacing values
    a page, so a long packet spans pages; every page's CRC computed."""
    pages: list[bytes] = []
    lacing: list[int] = []
    body = b""
    continued = False
    granule = -1

    def page(last: bool = False) -> None:
        nonlocal lacing, body, continued
        flags = (0x01 if continued else 0) | (0x02 if not pages else 0) | (0x04 if last else 0)
        head = b"OggS\x00" + bytes([flags]) + struct.pack("<qII", granule, serial, len(pages))
        raw = head + b"\x00" * 4 + bytes([len(lacing)]) + bytes(lacing) + body
        pages.append(raw[:22] + struct.pack("<I", _ogg_crc(raw)) + raw[26:])
        continued = bool(lacing) and lacing[-1] == 255
        lacing, body = [], b""

    for index, packet in enumerate(packets):
        values = [255] * (len(packet) // 255) + [len(packet) % 255]
        for at, value in enumerate(values):
            if len(lacing) == per_page:
                page()
            lacing.append(value)
            body += packet[at * 255 : at * 255 + value]
        granule = max(0, index - 2) * 960
        if index < 3:  # each header ends its page
            page()
    page(last=True)
    return b"".join(pages)


def _comments(magic: bytes, vendor: bytes, comments: list[bytes], framing: bool) -> bytes:
    data = magic + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
    for comment in comments:
        data += struct.pack("<I", len(comment)) + comment
    return data + (b"\x01" if framing else b"")


TAGS = [
    b"ARTIST=" + NAME.encode(),
    b"TITLE=Chuy\xe1\xbb\x87n c\xe1\xbb\xa7a " + NAME.encode(),
    b"LOCATION=" + GPS,
    b"DESCRIPTION=" + b"Em ke chuyen. " * 60 + ASCII_NAME,  # longer than a page of 4 segments
]
AUDIO_PACKETS = [bytes([0]) + SOUND[i * 97 : i * 97 + 300] for i in range(12)]


def vorbis_packets(comments: list[bytes] = TAGS, vendor: bytes = b"Lavf60.3.100") -> list[bytes]:
    identification = b"\x01vorbis" + struct.pack("<IBIiii", 0, 1, 16000, 0, 48000, 0) + b"\xb8\x01"
    setup = b"\x05vorbis" + bytes(range(40))
    return [identification, _comments(b"\x03vorbis", vendor, comments, True), setup]


def opus_packets(comments: list[bytes] = TAGS, vendor: bytes = b"libopus 1.4") -> list[bytes]:
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    # Opus has two headers; the third packet here is already sound.
    return [head, _comments(b"OpusTags", vendor, comments, False)]


def tagged_ogg(per_page: int = 4) -> bytes:
    """A chained OGG: a Vorbis stream, then an Opus one, both naming the child."""
    vorbis = _ogg_stream(0x7E57, [*vorbis_packets(), *AUDIO_PACKETS], per_page)
    opus = _ogg_stream(0x0B05, [*opus_packets(), *AUDIO_PACKETS], per_page)
    return vorbis + opus


def read_ogg(data: bytes) -> tuple[list[bytes], dict[int, list[bytes]], list[set[int]]]:
    """Every page of an OGG file (each CRC, sequence number and flag checked, pages tiling the
    file), each stream's packets put back together, and which packets each page carries."""
    pages: list[bytes] = []
    carried: list[set[int]] = []
    packets: dict[int, list[bytes]] = {}
    partial: dict[int, bytes] = {}
    at = 0
    while at < len(data):
        assert data[at : at + 5] == b"OggS\x00", f"no page at {at}"
        flags, serial, sequence, crc, count = struct.unpack_from("<B8xIIIB", data, at + 5)
        lacing = data[at + 27 : at + 27 + count]
        page = data[at : at + 27 + count + sum(lacing)]
        assert len(page) == 27 + count + sum(lacing)
        assert crc == _ogg_crc(page[:22] + b"\x00" * 4 + page[26:]), f"bad CRC at {at}"
        assert bool(flags & 0x02) == (serial not in packets)
        packets.setdefault(serial, [])
        assert sequence == sum(1 for p in pages if p[14:18] == page[14:18])
        assert bool(flags & 0x01) == (serial in partial)
        body_at = 27 + count
        carried.append(set())
        for value in lacing:
            carried[-1].add(len(packets[serial]))
            partial[serial] = partial.get(serial, b"") + page[body_at : body_at + value]
            body_at += value
            if value < 255:
                packets[serial].append(partial.pop(serial))
        pages.append(page)
        at += len(page)
    assert not partial
    return pages, packets, carried


def parse_comments(packet: bytes, magic: bytes) -> tuple[bytes, list[bytes], bytes]:
    assert packet.startswith(magic)
    at = len(magic)
    (vendor_length,) = struct.unpack_from("<I", packet, at)
    vendor = packet[at + 4 : at + 4 + vendor_length]
    at += 4 + vendor_length
    (count,) = struct.unpack_from("<I", packet, at)
    at += 4
    comments = []
    for _ in range(count):
        (length,) = struct.unpack_from("<I", packet, at)
        comments.append(packet[at + 4 : at + 4 + length])
        at += 4 + length
    return vendor, comments, packet[at:]


def test_the_test_ogg_crc_is_the_standard_one() -> None:
    # CRC-32/CKSUM's check value without its final inversion: what Ogg uses.
    assert _ogg_crc(b"123456789") == 0x765E7680 ^ 0xFFFFFFFF
    assert ogg_crc(b"\x00" * 22 + b"\xff" * 4) == _ogg_crc(bytes(26))


def test_ogg_comments_are_blanked_length_for_length_across_pages() -> None:
    for per_page in (1, 4, 255):
        sent = tagged_ogg(per_page)
        sent_pages, sent_packets, carried = read_ogg(sent)
        assert NAME.encode() in sent and ASCII_NAME in sent and GPS in sent
        out = io.BytesIO()

        assert scrub_ogg(io.BytesIO(sent), out) is True

        stored = out.getvalue()
        assert len(stored) == len(sent)
        assert not [form for form in _name_forms() if form in stored]
        pages, packets, _carried = read_ogg(stored)  # every CRC right, every packet whole
        assert [len(p) for p in pages] == [len(p) for p in sent_pages]
        assert packets.keys() == sent_packets.keys() == {0x7E57, 0x0B05}
        for serial, magic, framing in (
            (0x7E57, b"\x03vorbis", b"\x01"),
            (0x0B05, b"OpusTags", b""),
        ):
            vendor, comments, rest = parse_comments(packets[serial][1], magic)
            assert vendor.strip() == b"" and len(vendor) > 0
            assert [len(c) for c in comments] == [len(c) for c in TAGS]
            assert all(c.startswith(b"X=") and c[2:].strip() == b"" for c in comments)
            assert rest == framing
            # Identification, setup and sound are the same packets, in the same pages.
            assert packets[serial][0] == sent_packets[serial][0]
            assert packets[serial][2:] == sent_packets[serial][2:]
        # Only pages that carry a comment header changed (not all need to: one may hold only a
        # header's last byte, or its empty last segment).
        changed = {i for i, (a, b) in enumerate(zip(pages, sent_pages, strict=True)) if a != b}
        assert changed and changed <= {i for i, carrying in enumerate(carried) if 1 in carrying}


def test_an_ogg_flac_stream_loses_its_comments_and_picture() -> None:
    streaminfo = b"\x00" + (34).to_bytes(3, "big") + bytes(34)
    first = b"\x7fFLAC\x01\x00" + (2).to_bytes(2, "big") + b"fLaC" + streaminfo
    comment_block = _comments(b"", b"reference libFLAC", TAGS, False)
    comment = bytes([4]) + len(comment_block).to_bytes(3, "big") + comment_block
    picture_data = b"\xff\xd8\xff\xe1Exif" + NAME.encode() + bytes(40)
    picture = bytes([0x80 | 6]) + len(picture_data).to_bytes(3, "big") + picture_data
    frames = [b"\xff\xf8" + SOUND[:200], b"\xff\xf8" + SOUND[200:400]]
    sent = _ogg_stream(7, [first, comment, picture, *frames], 255)
    out = io.BytesIO()

    assert scrub_ogg(io.BytesIO(sent), out) is True

    _pages, packets, _carried = read_ogg(out.getvalue())
    assert NAME.encode() not in out.getvalue() and b"Exif" not in out.getvalue()
    assert packets[7][0] == first and packets[7][3:] == frames
    _vendor, comments, _rest = parse_comments(packets[7][1][4:], b"")
    assert packets[7][1][:4] == comment[:4] and len(comments) == len(TAGS)
    assert packets[7][2] == bytes([0x80 | 1]) + picture[1:4] + bytes(len(picture_data))


# --- WebM -------------------------------------------------------------------------------------


def _vint(value: int, width: int | None = None) -> bytes:
    width = width or next(w for w in range(1, 9) if value < (1 << (7 * w)) - 1)
    return ((1 << (7 * width)) | value).to_bytes(width, "big")


def _element(ident: int, payload: bytes) -> bytes:
    return ident.to_bytes((ident.bit_length() + 7) // 8, "big") + _vint(len(payload)) + payload


UNKNOWN = b"\x01\xff\xff\xff\xff\xff\xff\xff"
SEGMENT, CLUSTER, TAGS_ID, INFO, TRACKS, VOID = (
    0x18538067,
    0x1F43B675,
    0x1254C367,
    0x1549A966,
    0x1654AE6B,
    0xEC,
)
MASTERS = frozenset({0x1A45DFA3, SEGMENT, 0x114D9B74, 0x4DBB, INFO, TRACKS, 0xAE, CLUSTER})
MASTERS |= {TAGS_ID, 0x7373, 0x67C8}
# What ends a cluster of unknown size: the next element of the segment.
SEGMENT_CHILDREN = frozenset({CLUSTER, TAGS_ID, INFO, TRACKS, 0x114D9B74, 0x1C53BB6B, 0x1941A469})
BLOCKS = [SOUND[i * 500 : i * 500 + 500] for i in range(6)]
EBML_HEADER = _element(
    0x1A45DFA3,
    _element(0x4286, b"\x01")
    + _element(0x42F7, b"\x01")
    + _element(0x4282, b"webm")
    + _element(0x4287, b"\x04")
    + _element(0x4285, b"\x02"),
)


def tagged_webm(*, streamed: bool = False) -> bytes:
    """A WebM as a phone or a browser writes it: the title and the applications in Info (with
    a CRC-32), the child's name in a track and in an ARTIST tag, sound in SimpleBlocks. Written
    to a file: sizes known, a seek index to the tags before the clusters. Streamed: segment
    and clusters of unknown size (as MediaRecorder writes them), and the tags after them."""
    header = EBML_HEADER
    fields = (
        _element(0x2AD7B1, (1_000_000).to_bytes(3, "big"))
        + _element(0x7BA9, b"Chuyen cua " + NAME.encode())
        + _element(0x4D80, b"Lavf60.3.100")
        + _element(0x5741, b"Android, " + ASCII_NAME)
    )
    info = _element(INFO, _element(0xBF, struct.pack("<I", zlib.crc32(fields))) + fields)
    tracks = _element(
        TRACKS,
        _element(
            0xAE,
            _element(0xD7, b"\x01")
            + _element(0x83, b"\x02")
            + _element(0x86, b"A_OPUS")
            + _element(0x536E, b"Giong " + NAME.encode()),
        ),
    )
    simple = _element(0x67C8, _element(0x45A3, b"ARTIST") + _element(0x4487, NAME.encode()))
    tags = _element(TAGS_ID, _element(0x7373, _element(0x63C0, b"") + simple))
    blocks = [_element(0xA3, b"\x81\x00\x00\x80" + block) for block in BLOCKS]
    if streamed:
        clusters = b"".join(
            b"\x1f\x43\xb6\x75" + UNKNOWN + _element(0xE7, bytes([i])) + b"".join(blocks[i::2])
            for i in range(2)
        )
        return header + b"\x18\x53\x80\x67" + UNKNOWN + info + tracks + clusters + tags
    seek = _element(0x4DBB, _element(0x53AB, TAGS_ID.to_bytes(4, "big")) + _element(0x53AC, b""))
    clusters = b"".join(
        _element(CLUSTER, _element(0xE7, bytes([i])) + b"".join(blocks[i::2])) for i in range(2)
    )
    seek_head = _element(0x114D9B74, seek)
    body = seek_head + info + tracks + tags + clusters
    return header + _element(SEGMENT, body)


def untagged_webm() -> bytes:
    info = _element(INFO, _element(0x2AD7B1, b"\x0f\x42\x40") + _element(0x4D80, b"  "))
    tracks = _element(TRACKS, _element(0xAE, _element(0xD7, b"\x01") + _element(0x86, b"A_OPUS")))
    cluster = _element(CLUSTER, _element(0xE7, b"\x00") + _element(0xA3, b"\x81\x00\x00\x80"))
    return EBML_HEADER + _element(SEGMENT, info + tracks + cluster)


def read_webm(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(depth, ID, offset, payload) of every element, the structure walked end to end: each
    master's children tile it exactly, and unknown sizes end where the parent's next sibling
    begins."""
    found: list[tuple[int, int, int, bytes]] = []

    def walk(at: int, end: int, depth: int) -> int:
        while at < end:
            width = next(w for w in range(1, 5) if data[at] & (0x80 >> (w - 1)))
            ident = int.from_bytes(data[at : at + width], "big")
            if (depth and ident in (SEGMENT, 0x1A45DFA3)) or (
                depth > 1 and ident in SEGMENT_CHILDREN
            ):
                return at  # the end of an element of unknown size
            size_width = next(w for w in range(1, 9) if data[at + width] & (0x80 >> (w - 1)))
            raw = data[at + width : at + width + size_width]
            size = int.from_bytes(raw, "big") & ((1 << (7 * size_width)) - 1)
            start = at + width + size_width
            if size == (1 << (7 * size_width)) - 1:
                stop = walk(start, end, depth + 1)
            else:
                stop = start + size
                assert stop <= end, f"element {ident:x} at {at} overruns its parent"
                if ident in MASTERS:
                    assert walk(start, stop, depth + 1) == stop
            if ident == 0xBF:
                assert struct.unpack("<I", data[start:stop])[0] == zlib.crc32(data[stop:end])
            found.append((depth, ident, at, data[start:stop]))
            at = stop
        assert at == end, "the elements must tile their parent"
        return at

    walk(0, len(data), 0)
    return found


def test_webm_tags_become_voids_and_the_structure_holds() -> None:
    for streamed in (False, True):
        sent = tagged_webm(streamed=streamed)
        sent_elements = read_webm(sent)
        assert sum(1 for e in sent_elements if e[1] == TAGS_ID) == 1
        assert NAME.encode() in sent and ASCII_NAME in sent
        out = io.BytesIO()

        assert scrub_matroska(io.BytesIO(sent), out) is True

        stored = out.getvalue()
        assert len(stored) == len(sent)
        assert not [form for form in _name_forms() if form in stored]
        elements = read_webm(stored)  # walks end to end, the Info CRC-32 checked
        ids = [ident for _depth, ident, _at, _payload in elements]
        assert TAGS_ID not in ids and 0x7BA9 not in ids
        # The tags' place is one Void of the same length, at the same offset.
        (tags_at,) = [at for _d, ident, at, _p in sent_elements if ident == TAGS_ID]
        (void,) = [e for e in elements if e[2] == tags_at]
        assert void[1] == VOID and void[3] == bytes(len(void[3]))
        by_id = {ident: payload for _d, ident, _at, payload in elements}
        assert by_id[0x4D80].strip() == by_id[0x5741].strip() == by_id[0x536E].strip() == b""
        assert by_id[0x86] == b"A_OPUS" and by_id[0x2AD7B1] == (1_000_000).to_bytes(3, "big")
        blocks = [(at, p) for _d, ident, at, p in elements if ident == 0xA3]
        assert blocks == [(at, p) for _d, ident, at, p in sent_elements if ident == 0xA3]
        assert sorted(p[4:] for _at, p in blocks) == sorted(BLOCKS)
        if not streamed:
            # The seek entry that pointed at the tags is gone too.
            assert 0x4DBB not in ids and 0x53AB not in ids


def test_a_short_tags_element_becomes_a_short_void() -> None:
    # Tags of 5, 8 and 9 bytes: the Void's size takes 4, 7 and 8 bytes.
    for payload in (b"", b"\x73\x73\x80", b"\x73\x73\x81\x00"):
        tags = _element(TAGS_ID, payload)
        sent = EBML_HEADER + _element(SEGMENT, tags + _element(0xEC, b"\x00"))
        out = io.BytesIO()

        assert scrub_matroska(io.BytesIO(sent), out) is True

        cleaned = out.getvalue()
        assert len(cleaned) == len(sent)
        elements = read_webm(cleaned)
        assert [ident for _d, ident, _a, _p in elements if ident in (TAGS_ID, VOID)] == [VOID] * 2


async def test_ogg_and_webm_recordings_lose_their_tags_at_intake(submitted: Submitted) -> None:
    ogg = tagged_ogg()
    stored_ogg = await submitted(STORY, "ke.ogg", ogg)
    assert len(stored_ogg) == len(ogg)
    assert not [form for form in _name_forms() if form in stored_ogg]
    _pages, packets, _carried = read_ogg(stored_ogg)
    assert packets == {
        serial: [*sent[:1], packets[serial][1], *sent[2:]]
        for serial, sent in read_ogg(ogg)[1].items()
    }

    for streamed in (False, True):
        webm = tagged_webm(streamed=streamed)
        stored_webm = await submitted(STORY, "ke.webm", webm)
        assert len(stored_webm) == len(webm)
        assert not [form for form in _name_forms() if form in stored_webm]
        assert [e for e in read_webm(stored_webm) if e[1] == 0xA3] == [
            e for e in read_webm(webm) if e[1] == 0xA3
        ]


class _CountingReader(io.BytesIO):
    """Counts the bytes read out of it (seeks are free)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_scrub_file_writes_only_when_something_changes() -> None:
    untagged = (
        (scrub_iso_media, files.mp4()),
        (scrub_mp3, (b"\xff\xfb\x90\x64" + b"\x00" * 413) * 4),
        (scrub_wav, files.wav()),
        (scrub_pdf, files.pdf()),
        (scrub_ogg, _ogg_stream(1, [*vorbis_packets([], b""), *AUDIO_PACKETS], 255)),
        (scrub_matroska, untagged_webm()),
    )
    for scrub, data in untagged:
        out = io.BytesIO()
        assert scrub_file(scrub, io.BytesIO(data), out) is False
        assert out.getvalue() == b"", scrub.__name__

    tagged = (
        (scrub_iso_media, phone_video()),
        (scrub_iso_media, phone_video(index_last=True)),
        (scrub_mp3, tagged_mp3()),
        (scrub_wav, tagged_wav()),
        (scrub_docx, authored_docx()),
        (scrub_pdf, authored_pdf()),
        (scrub_ogg, tagged_ogg()),
        (scrub_matroska, tagged_webm()),
        (scrub_matroska, tagged_webm(streamed=True)),
    )
    for scrub, data in tagged:
        direct, twice = io.BytesIO(), io.BytesIO()
        assert scrub(io.BytesIO(data), direct) is True
        assert scrub_file(scrub, io.BytesIO(data), twice) is True
        assert twice.getvalue() == direct.getvalue(), scrub.__name__


def test_the_first_pass_skips_the_media_of_a_large_recording() -> None:
    # ftyp, 8 MiB of media, then the index at the end, as phones write it.
    media = _box(b"mdat", bytes(8 * 1024 * 1024))
    video = _box(b"ftyp", b"isom\x00\x00\x02\x00isommp41") + media + _box(b"moov", b"\x00" * 64)
    source = _CountingReader(video)
    out = io.BytesIO()
    assert scrub_file(scrub_iso_media, source, out) is False
    assert source.bytes_read < 1024
    assert out.getvalue() == b""


async def test_a_direct_upload_is_read_back_once_and_loses_its_tags(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    monkeypatch: pytest.MonkeyPatch,
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    wav = tagged_wav()
    slot = await app.post(
        f"/api/v1/contests/{STORY}/uploads",
        json={"content_type": "audio/wav", "size": len(wav), "filename": "ke.wav"},
    )
    assert slot.status_code == 201, slot.text
    assert (await upload_to_slot(app, store, slot.json(), wav)).status_code in (200, 201, 204)
    reads: list[str] = []
    original = type(store).get_stream

    async def counted(self: Storage, key: str) -> AsyncIterator[bytes]:
        reads.append(key)
        return await original(self, key)  # type: ignore[arg-type]

    monkeypatch.setattr(type(store), "get_stream", counted)
    fields = {**entrant_fields(), "upload_id": slot.json()["upload_id"]}

    made = await api_submit(app, STORY, fields)

    assert made.status_code == 201, made.text
    # The request only looked at its first bytes; its processing job hashed and scrubbed it
    # from one read of the object (the cleaned copy is then written back).
    assert reads == []
    assert await run_jobs() == 1
    assert len(reads) == 1
    monkeypatch.undo()
    code = made.json()["entry"]["receipt_code"]
    _asset, stored = await _stored_original(sessionmaker, store, code)
    assert ASCII_NAME in wav and ASCII_NAME not in stored and len(stored) == len(wav)
