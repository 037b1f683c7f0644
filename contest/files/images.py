"""What is shown of a drawing: an upright, size-bounded preview and thumbnail rebuilt from pixels
alone, so no metadata (GPS of a child's home, camera serial, ICC or XMP) survives into what is
published. Images are validated by decoding, with a pixel limit against decompression bombs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO

import pillow_heif
from PIL import Image, ImageCms, ImageOps

from contest.files.interfaces import UnreadableImageError
from contest.files.limits import MAX_IMAGE_PIXELS, PREVIEW_SIZE, THUMBNAIL_SIZE
from contest.i18n import gettext

# Pillow warns past this many pixels and refuses past twice as many; we refuse past it.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
# Phones save their photos as HEIC; registering is global to Pillow, so it happens once, here.
pillow_heif.register_heif_opener()
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
PREVIEW_QUALITY = 85


@dataclass(frozen=True, slots=True)
class Derivatives:
    """What an image upload yields: its size, and the preview and thumbnail encoded with
    their own sizes."""

    width: int
    height: int
    preview: bytes
    preview_size: tuple[int, int]
    thumbnail: bytes
    thumbnail_size: tuple[int, int]


def _bomb() -> UnreadableImageError:
    return UnreadableImageError(
        gettext(
            "This image is too large to open (more than %(megapixels)s megapixels). "
            "Please send a smaller photo or scan.",
            megapixels=MAX_IMAGE_PIXELS // 1_000_000,
        )
    )


def _unreadable() -> UnreadableImageError:
    return UnreadableImageError(
        gettext("This image could not be opened; it may be damaged. Please send it again.")
    )


def check_header(head: bytes) -> None:
    """Refuse a decompression bomb from the first bytes of an image, before it is stored or
    decoded: the header states the pixel count. A header these bytes do not hold, or cannot
    be read, is left to ``make_derivatives``, which decodes the whole file."""
    try:
        with Image.open(io.BytesIO(head), formats=IMAGE_FORMATS) as image:
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb() from None
    except Exception:  # any reader's complaint about a partial or damaged header
        return
    if width * height > MAX_IMAGE_PIXELS:
        raise _bomb()


def make_derivatives(source: IO[bytes]) -> Derivatives:
    """Decode an image once and derive its upright, metadata-free preview and thumbnail.

    Raises UnreadableImageError for a damaged file or a decompression bomb (more pixels than
    MAX_IMAGE_PIXELS, whatever the file's size).
    """
    try:
        with Image.open(source, formats=IMAGE_FORMATS) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise _bomb()
            orientation = image.getexif().get(0x0112, 1)
            if orientation in (5, 6, 7, 8):
                width, height = height, width
            icc = image.info.get("icc_profile")
            # JPEG can decode straight to a smaller scale: far less memory for big photos.
            image.draft("RGB", (PREVIEW_SIZE, PREVIEW_SIZE))
            upright = ImageOps.exif_transpose(image)
            rgb = _to_srgb(upright, icc if isinstance(icc, bytes) else None)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb() from None
    except UnreadableImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError) as exc:
        raise _unreadable() from exc
    preview, preview_size = _encode(rgb, PREVIEW_SIZE)
    thumbnail, thumbnail_size = _encode(rgb, THUMBNAIL_SIZE)
    return Derivatives(width, height, preview, preview_size, thumbnail, thumbnail_size)


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas show as paper, not black.
        rgba = image.convert("RGBA")
        paper = Image.new("RGB", rgba.size, (255, 255, 255))
        paper.paste(rgba, mask=rgba.getchannel("A"))
        image = paper
    elif image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if icc and image.mode == "RGB":
        try:
            converted = ImageCms.profileToProfile(
                image,
                ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                ImageCms.createProfile("sRGB"),
                outputMode="RGB",
            )
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None
        if converted is not None:
            image = converted
    return image.convert("RGB")


def _encode(image: Image.Image, bound: int) -> tuple[bytes, tuple[int, int]]:
    scaled = image.copy()
    scaled.thumbnail((bound, bound), Image.Resampling.LANCZOS)
    # Rebuilt from pixels alone: no EXIF, GPS, ICC, XMP or comment can ride along.
    clean = Image.frombytes("RGB", scaled.size, scaled.tobytes())
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=PREVIEW_QUALITY, optimize=True, progressive=True)
    return out.getvalue(), clean.size
