"""The URL of an upload, which both the server (it hands it out and serves it) and the worker
(it reads the upload behind it straight from storage) must understand.

``{base}/uploads/{upload_id}.{ext}?expires={unix}&signature={sig}``: ``base`` is the server's
public URL (or the request's); ``expires`` is the upload's own expiry; ``signature`` signs the
upload id and the expiry with the server-wide URL secret (:mod:`.signing`). So the URL works
for a browser or a remote service like a result URL does, and the worker can tell, without the
network, that a URL is one this server issued: a signature it can verify. Which account may use
the upload is the store's to say, not the URL's.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from kirin_api.storage.signing import sign

# The file name extension of each content type an upload may have.
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
}
_PATH = re.compile(r"(?:^|/)uploads/(upl_[0-9A-Za-z]{1,60})\.(png|jpg|mp4|mov)$")


def _signed_name(upload_id: str) -> str:
    # Not a blob key: a name of its own, so no signed /files link can pass for an upload link.
    return f"upload:{upload_id}"


def upload_path(upload_id: str, content_type: str, expires: int, secret: bytes) -> str:
    """``/uploads/{id}.{ext}?expires=...&signature=...`` (to append to a base URL)."""
    query = urlencode(
        {"expires": int(expires), "signature": sign(_signed_name(upload_id), expires, secret)}
    )
    return f"/uploads/{upload_id}.{EXTENSIONS[content_type]}?{query}"


def valid_signature(upload_id: str, expires: int, signature: str, secret: bytes) -> bool:
    """Whether ``signature`` is this server's for ``upload_id`` and ``expires`` (expired or not:
    the caller tells "expired" apart from "not ours")."""
    if not signature.isascii():
        return False
    expected = sign(_signed_name(upload_id), expires, secret)
    return hmac.compare_digest(expected.encode(), signature.encode())


@dataclass(frozen=True)
class UploadLink:
    upload_id: str
    extension: str
    expires: int


def parse_upload_url(url: str, secret: bytes) -> UploadLink | None:
    """The upload a URL names, if this server signed it (whatever host it carries: the server
    may be reached under several names); None for any other URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    match = _PATH.search(parts.path)
    if match is None:
        return None
    query = parse_qs(parts.query)
    expires_text = (query.get("expires") or [""])[0]
    signature = (query.get("signature") or [""])[0]
    if not expires_text.isdecimal() or not signature:
        return None
    expires = int(expires_text)
    if not valid_signature(match.group(1), expires, signature, secret):
        return None
    return UploadLink(upload_id=match.group(1), extension=match.group(2), expires=expires)
