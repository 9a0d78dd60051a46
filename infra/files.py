"""Where attachment bytes live: a content-addressed folder (one file per SHA-256)."""

import hashlib
import os
import tempfile
from pathlib import Path


class FileStore:
    """Store bytes under `root/ab/abcdef...` named by their SHA-256; identical files once."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes) -> str:
        return self.put_new(data)[0]

    def put_new(self, data: bytes) -> tuple[str, bool]:
        """Store the bytes; return their digest and whether this call wrote the file."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest, False
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a crash never leaves a half-written file under the name.
        fd, tmp = tempfile.mkstemp(dir=target.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
        return digest, True

    def discard(self, digest: str) -> None:
        """Remove a stored file (one no attachment refers to)."""
        self.path(digest).unlink(missing_ok=True)

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError("not a SHA-256 digest")
        return self.root / digest[:2] / digest
