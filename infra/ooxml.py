"""Is this upload really a Word (.docx) or Excel (.xlsx) file? Checked before anything parses it.

Both are zip packages, and "starts with PK" is true of any zip: a renamed archive, a jar or a
zip bomb would pass for Word. A real package holds `[Content_Types].xml` and its main part
(`word/document.xml`, `xl/workbook.xml`), and unpacks to a bounded size. The sizes are read
from the zip's directory, before anything is inflated; Python's zipfile never inflates a
member past its declared size, so the directory bounds what any later parser reads.

Stdlib only: ticket attachments (dispatch.tickets.attachments) and the knowledge-base import
(kb.transfer) both use it.
"""

import io
import zipfile
from dataclasses import dataclass

MAX_UNPACKED_BYTES = 50 * 1024 * 1024
MAX_MEMBERS = 10_000
CONTENT_TYPES = "[Content_Types].xml"


@dataclass(frozen=True, slots=True)
class Package:
    app: str  # what a person calls the program: Word, Excel
    suffix: str
    main_part: str


PACKAGES = {
    ".docx": Package("Word", ".docx", "word/document.xml"),
    ".xlsx": Package("Excel", ".xlsx", "xl/workbook.xml"),
}


class NotAPackage(Exception):
    """The bytes are not the Office file their name says; `message` says so in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_package(data: bytes, suffix: str) -> None:
    """Accept `data` only as a real, bounded package of the kind `suffix` names.

    :raises NotAPackage: not a zip, a zip without the package's parts, or too big unpacked.
    :raises KeyError: `suffix` is neither .docx nor .xlsx.
    """
    kind = PACKAGES[suffix]
    invalid = (
        f"不是有效的 {kind.app}（{kind.suffix}）文件，请用 {kind.app} 打开后另存为 {kind.suffix}"
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise NotAPackage(invalid) from None
    if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
        raise NotAPackage(
            f"文件解压后超过 {MAX_UNPACKED_BYTES // (1024 * 1024)} MB，请拆分或压缩图片后再上传"
        )
    names = {m.filename for m in members}
    if CONTENT_TYPES not in names or kind.main_part not in names:
        raise NotAPackage(invalid)
