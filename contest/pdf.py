"""What every PDF the platform prints shares: the embedded font with every Vietnamese letter,
and QR codes drawn as lossless images that scanners read back (certificates, the event report,
judges' paper sheets)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import qrcode  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped, unused-ignore]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped, unused-ignore]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped, unused-ignore]

FONTS_DIR = Path(__file__).resolve().parent / "static" / "fonts"
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"


@cache
def register_fonts() -> None:
    """DejaVu Sans, embedded: it has every Vietnamese letter with its diacritics."""
    pdfmetrics.registerFont(TTFont(FONT, str(FONTS_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONTS_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)


def qr_image(data: str) -> ImageReader:
    """The QR code as a lossless bitmap, embedded as an image so that it can be read back."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(data)
    code.make(fit=True)
    return ImageReader(code.make_image().get_image())
