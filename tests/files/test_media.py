"""What a file is decided from its bytes; what is shown of a drawing carries no metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from contest.files.images import make_derivatives
from contest.files.interfaces import UnreadableImageError, UnsupportedFileError
from contest.files.sniff import check_kind, clean_filename, sniff
from contest.i18n import count_words, use_locale
from tests.intake import files
from tests.support import vi

DRAWING_TYPES = ["jpeg", "png", "webp", "heic", "pdf"]
STORY_TYPES = ["mp3", "m4a", "wav", "ogg", "mp4", "webm", "mov"]


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (files.photo_jpeg(), "jpeg"),
        (files.drawing_png(), "png"),
        (files.drawing_webp(), "webp"),
        (files.photo_heic(), "heic"),
        (files.pdf(), "pdf"),
        (files.docx(), "docx"),
        (files.text_file(), "txt"),
        (files.wav(), "wav"),
        (files.mp3(), "mp3"),
        (files.mp4(), "mp4"),
        (files.mp4(b"M4A "), "m4a"),
        (files.mp4(b"qt  "), "mov"),
        (b"OggS\x00\x02" + b"\x00" * 40, "ogg"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 20, "webm"),
        (files.exe(), "executable"),
        (files.elf(), "executable"),
        (b"#!/bin/sh\nrm -rf /\n", "executable"),
        (files.svg(), "svg"),
        (files.html(), "html"),
        (b"  \n<html><body>hi</body></html>", "html"),
        (b"Bai viet <script>alert(1)</script>", "html"),
        (files.plain_zip(), "zip"),
        (b"\x00\x01\x02\x03binary", None),
        (b"", None),
    ],
)
def test_kinds_are_sniffed_from_the_bytes(data: bytes, kind: str | None) -> None:
    assert sniff(data[:8192]) == kind


@pytest.mark.parametrize(
    "data", [files.exe(), files.svg(), files.html(), files.plain_zip(), files.pdf()[:0] + b"x\x00"]
)
def test_refused_kinds_get_a_415_naming_what_is_accepted(data: bytes) -> None:
    with use_locale("vi"), pytest.raises(UnsupportedFileError) as refused:
        check_kind(sniff(data), DRAWING_TYPES)
    assert refused.value.status_code == 415
    assert refused.value.message == vi(
        "This kind of file is not accepted here. Please send one of: %(types)s.",
        types="JPEG, PNG, WebP, HEIC, PDF",
    )


def test_text_is_never_accepted_where_a_drawing_is_expected() -> None:
    with pytest.raises(UnsupportedFileError):
        check_kind(sniff(files.text_file()), DRAWING_TYPES)


def test_an_audio_only_mp4_counts_as_m4a_and_a_declared_kind_must_match() -> None:
    assert check_kind("mp4", ["m4a"]).name == "m4a"
    assert check_kind("m4a", STORY_TYPES).name == "m4a"
    assert check_kind("png", DRAWING_TYPES, declared="png").name == "png"
    with pytest.raises(UnsupportedFileError):
        check_kind("jpeg", DRAWING_TYPES, declared="png")


def test_previews_are_upright_and_carry_no_metadata() -> None:
    # Pixels stored landscape (red left, blue right); EXIF 6 says "rotate 90° clockwise".
    original = files.photo_jpeg((320, 160), orientation=6)
    with Image.open(io.BytesIO(original)) as source:
        assert source.getexif().get_ifd(0x8825), "the test photo must carry GPS"

    derived = make_derivatives(io.BytesIO(original))

    assert (derived.width, derived.height) == (160, 320)
    for data, size in (
        (derived.preview, derived.preview_size),
        (derived.thumbnail, derived.thumbnail_size),
    ):
        with Image.open(io.BytesIO(data)) as shown:
            assert shown.format == "JPEG"
            assert shown.size == size
            assert shown.height > shown.width
            assert dict(shown.getexif()) == {}
            assert not {"exif", "icc_profile", "xmp", "comment"} & set(shown.info)
            top = shown.convert("RGB").getpixel((shown.width // 2, shown.height // 8))
            bottom = shown.convert("RGB").getpixel((shown.width // 2, shown.height * 7 // 8))
        assert isinstance(top, tuple) and isinstance(bottom, tuple)
        assert top[0] > 150 and top[2] < 100, "the left (red) side is on top once upright"
        assert bottom[2] > 150 and bottom[0] < 100
        assert b"Exif" not in data and b"PhoneMaker" not in data and b"secret comment" not in data


def test_previews_are_bounded_and_heic_and_transparency_are_handled() -> None:
    big = make_derivatives(io.BytesIO(files.photo_jpeg((3000, 1000), gps=False)))
    assert max(big.preview_size) == 1600 and max(big.thumbnail_size) == 400
    heic = make_derivatives(io.BytesIO(files.photo_heic()))
    assert heic.width == 128 and heic.height == 96
    png = make_derivatives(io.BytesIO(files.drawing_png()))
    with Image.open(io.BytesIO(png.preview)) as shown:
        assert shown.convert("RGB").getpixel((5, 5)) == pytest.approx((255, 255, 255), abs=3)


@pytest.mark.parametrize(("width", "height"), [(40_000, 40_000), (9_000, 9_000)])
def test_decompression_bombs_are_refused_before_decoding(width: int, height: int) -> None:
    bomb = files.bomb_png(width, height)
    assert len(bomb) < 20_000
    with use_locale("vi"), pytest.raises(UnreadableImageError) as refused:
        make_derivatives(io.BytesIO(bomb))
    assert refused.value.status_code == 422
    assert refused.value.message == vi(
        "This image is too large to open (more than %(megapixels)s megapixels). "
        "Please send a smaller photo or scan.",
        megapixels=64,
    )


def test_a_damaged_image_is_refused() -> None:
    with pytest.raises(UnreadableImageError):
        make_derivatives(io.BytesIO(files.photo_jpeg()[:300]))


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\Users\\em\\tranh.png", "tranh.png"),
        ("tr\x00anh.png", "tranh.png"),
        ("photo\u202egnp.exe", "photognp.exe"),
        ("\u200fabc\u2066.jpg", "abc.jpg"),
        (".hidden.jpg", "hidden.jpg"),
        ("", None),
        ("../", None),
    ],
)
def test_file_names_are_kept_safe(raw: str, kept: str | None) -> None:
    assert clean_filename(raw) == kept


def test_long_file_names_keep_their_extension() -> None:
    name = clean_filename("Tranh " * 100 + ".heic")
    assert name is not None and len(name) == 180 and name.endswith(".heic")


def test_words_are_counted_between_blanks() -> None:
    assert count_words("  Dế Mèn\nphiêu   lưu ký ") == 5
    assert count_words("") == 0
