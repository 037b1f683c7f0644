"""What is shown carries no name and no place: the gallery's pictures have no EXIF or GPS, and
documents and recordings lose their author, artist and location tags at intake."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import wave
import zipfile

import httpx
from PIL import Image
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.models import Asset, Contest, ContestStatus, Entry, Prize
from contest.privacy import metadata
from judging.viewers import docx_text
from storage import LocalStorage, Storage
from tests.intake import files
from tests.intake.support import DRAWING, STORY, WRITING, entrant_fields
from tests.privacy.support import GUARDIAN, NAME, api_submit
from tests.results.support import Row, make_results

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
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"/>',
        )
        archive.writestr(
            "word/document.xml",
            '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Cuốn sách em yêu</w:t></w:r>'
            f'</w:p><w:p><w:ins w:id="1" w:author="{NAME}" w:date="2024-10-01T00:00:00Z"><w:r>'
            "<w:t>Dế Mèn phiêu lưu ký</w:t></w:r></w:ins></w:p></w:body></w:document>",
        )
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        archive.writestr(
            "docProps/core.xml",
            '<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/'
            'package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:creator>{NAME}</dc:creator><cp:lastModifiedBy>{GUARDIAN}</cp:lastModifiedBy>"
            "</cp:coreProperties>",
        )
        archive.writestr(
            "docProps/app.xml",
            f'<?xml version="1.0"?><Properties><Company>Nhà {GUARDIAN}</Company></Properties>',
        )
    return out.getvalue()


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


async def _submitted(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    slug: str,
    filename: str,
    data: bytes,
) -> bytes:
    made = await api_submit(app, slug, entrant_fields(), [(filename, data)])
    assert made.status_code == 201, made.text
    _asset, stored = await _stored_original(
        sessionmaker, store, made.json()["entry"]["receipt_code"]
    )
    return stored


async def test_the_galleries_pictures_carry_no_exif_and_no_place(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
) -> None:
    photo = files.photo_jpeg()
    with Image.open(io.BytesIO(photo)) as source:
        assert source.getexif().get_ifd(0x8825), "the test photo must carry GPS"
    made = await api_submit(app, DRAWING, entrant_fields(consent="full_name"), [("p.jpg", photo)])
    code = made.json()["entry"]["receipt_code"]
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
        if isinstance(store, LocalStorage):
            served = await app.get(link)
        else:
            async with httpx.AsyncClient() as plain:
                served = await plain.get(link)
        assert served.status_code == 200
        data = served.content
        assert b"Exif" not in data and b"PhoneMaker" not in data and b"secret comment" not in data
        with Image.open(io.BytesIO(data)) as shown:
            assert dict(shown.getexif()) == {} and not shown.getexif().get_ifd(0x8825)
            assert not {"exif", "xmp", "comment", "icc_profile"} & set(shown.info)


async def test_a_phone_video_loses_its_place_and_names_and_keeps_its_media(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], store: Storage
) -> None:
    for index_last in (False, True):
        sent = phone_video(index_last=index_last)

        assert GPS in sent and NAME.encode() in sent
        stored = await _submitted(app, sessionmaker, store, STORY, "video.mp4", sent)

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


async def test_audio_loses_its_artist_tags(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], store: Storage
) -> None:
    mp3 = tagged_mp3()
    assert NAME.encode() in mp3 and ASCII_NAME in mp3
    stored_mp3 = await _submitted(app, sessionmaker, store, STORY, "ke.mp3", mp3)
    assert not [form for form in _name_forms() if form in stored_mp3]
    assert stored_mp3.startswith(b"\xff\xfb") and stored_mp3 in mp3

    wav = tagged_wav()
    stored_wav = await _submitted(app, sessionmaker, store, STORY, "ke.wav", wav)
    assert ASCII_NAME in wav and ASCII_NAME not in stored_wav and len(stored_wav) == len(wav)
    with wave.open(io.BytesIO(stored_wav)) as audio:
        assert audio.readframes(audio.getnframes()) == SOUND


async def test_documents_lose_their_author_and_keep_their_text(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], store: Storage
) -> None:
    docx = authored_docx()
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        assert NAME.encode() in package.read("docProps/core.xml")
    stored_docx = await _submitted(app, sessionmaker, store, WRITING, "bai.docx", docx)
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
    stored_pdf = await _submitted(app, sessionmaker, store, WRITING, "bai.pdf", pdf)
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

    changed = metadata.scrub_pdf(io.BytesIO(pdf), out)

    cleaned = out.getvalue()
    assert changed and len(cleaned) == len(pdf)
    assert NAME.encode() not in cleaned and ASCII_NAME not in cleaned and b"Nhung" not in cleaned
    assert b"<dc:format>application/pdf</dc:format>" in cleaned  # what names nobody stays
    assert b"/Author(" in cleaned and cleaned.count(b"endobj") == 2


def test_files_without_tags_are_left_as_they_are() -> None:
    for scrub, data in (
        (metadata.scrub_iso_media, files.mp4()),
        (metadata.scrub_mp3, (b"\xff\xfb\x90\x64" + b"\x00" * 413) * 4),
        (metadata.scrub_wav, files.wav()),
        (metadata.scrub_pdf, files.pdf()),
    ):
        out = io.BytesIO()
        assert scrub(io.BytesIO(data), out) is False
        assert out.getvalue() == data
