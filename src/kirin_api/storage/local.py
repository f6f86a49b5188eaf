"""Blobs as files under one directory (the embedded, one-machine setup)."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kirin_api.storage.base import BlobNotFound, StorageError


def validate_key(key: str) -> str:
    """``key`` if it is a relative POSIX path that stays inside the storage, else ValueError.

    Refused: empty keys, absolute paths, backslashes (a second separator on Windows), ``.`` and
    ``..`` segments, empty segments (``a//b``) and NUL characters.
    """
    if not isinstance(key, str) or not key:
        raise ValueError("a blob key must be a non-empty string")
    if key.startswith("/") or "\\" in key or "\x00" in key:
        raise ValueError(f"invalid blob key {key!r}: relative POSIX paths only")
    if any(part in {"", ".", ".."} for part in key.split("/")):
        raise ValueError(f"invalid blob key {key!r}: empty, '.' and '..' segments are refused")
    return key


# Every result link of every task read checks its key: the few keys a polling client reads repeat.
_validated_link_key = functools.lru_cache(maxsize=4096)(validate_key)


class LocalBlobStorage:
    """:class:`~kirin_api.storage.base.BlobStorage` on the directory ``root`` (made on first write).

    Writes go to a temporary file in the target directory, then ``os.replace`` it into place, so a
    reader sees the old blob or the new one, never half of one. Content types are not kept: the
    server serving a file derives it from the key's extension.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    @contextlib.contextmanager
    def _atomic(self, key: str) -> Iterator[Path]:
        """A temporary path to fill; moved onto the key's path when the block succeeds."""
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
            os.close(fd)
        except OSError as error:
            raise StorageError(f"cannot write blob {key!r} under {self.root}: {error}") from error
        tmp = Path(name)
        try:
            yield tmp
            os.replace(tmp, target)
        except OSError as error:
            raise StorageError(f"cannot write blob {key!r} under {self.root}: {error}") from error
        finally:
            tmp.unlink(missing_ok=True)

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        with self._atomic(key) as tmp:
            shutil.copyfile(source, tmp)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with self._atomic(key) as tmp, open(tmp, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
            raise BlobNotFound(f"no blob {key!r}") from error
        except OSError as error:
            raise StorageError(f"cannot read blob {key!r} under {self.root}: {error}") from error

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except IsADirectoryError:
            pass  # a "directory" key is not a blob: nothing to delete
        except OSError as error:
            raise StorageError(f"cannot delete blob {key!r} under {self.root}: {error}") from error

    def local_path(self, key: str) -> Path | None:
        """The file of ``key`` (it may not exist: check :meth:`exists`)."""
        return self._path(key)

    def presigned_url(self, key: str, expires_in: int) -> str | None:
        """None: the server signs and serves these files itself (``storage.signing``)."""
        _validated_link_key(key)
        return None

    def ping(self) -> None:
        """Raise :class:`StorageError` unless ``root`` exists (or can be made) and is writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root, prefix=".ping-") as probe:
                probe.write(b"ok")
        except OSError as error:
            raise StorageError(f"storage directory {self.root} is not writable: {error}") from error
