"""Small real files the journeys upload: a photo (JPEG) and a one-page PDF."""

import io

from PIL import Image
from PIL import ImageDraw


def jpeg(width: int = 640, height: int = 480, seed: int = 0) -> bytes:
    """A photo-like JPEG: sky, a grey block of flats, a dark road; `seed` varies it."""
    img = Image.new("RGB", (width, height), (120 + seed % 100, 170, 220))
    draw = ImageDraw.Draw(img)
    draw.rectangle((width // 5, height // 4, width * 3 // 5, height * 4 // 5), fill=(150, 150, 150))
    for row in range(4):
        for col in range(3):
            x = width // 5 + 20 + col * 60
            y = height // 4 + 20 + row * 60
            draw.rectangle((x, y, x + 30, y + 30), fill=(60, 90, 130))
    draw.rectangle((0, height * 4 // 5, width, height), fill=(70, 70, 70))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85)
    return out.getvalue()


def pdf(text: str = "Reply 2026") -> bytes:
    """A valid one-page PDF (ASCII `text` on it), with a correct cross-reference table."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
