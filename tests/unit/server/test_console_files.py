"""The console's static files: complete (every module an import names is served), and free of
what its Content-Security-Policy or its injection-safety rules forbid."""

from __future__ import annotations

import re
from types import SimpleNamespace

from kirin_api.server.routes_console import console_files, content_security_policy

IMPORT = re.compile(r"""^\s*import\s.*?from\s+["']\./([\w.-]+)["'];""", re.MULTILINE | re.DOTALL)


def test_every_imported_module_is_served() -> None:
    files = console_files()
    assert {"index.html", "app.js", "style.css"} <= files.keys()
    for name, file in files.items():
        if name.endswith(".js"):
            for imported in IMPORT.findall(file.body.decode()):
                assert imported in files, f"{name} imports {imported}, which is not served"


def test_no_html_is_built_from_strings_and_nothing_comes_from_elsewhere() -> None:
    for name, file in console_files().items():
        text = file.body.decode()
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval"):
            assert forbidden not in text, f"{name} uses {forbidden}"
        # No CDN, no web fonts: every URL the files name is relative or a placeholder.
        for url in re.findall(r"https?://[\w.-]+", text):
            assert url in ("http://www.w3.org", "https://..."), f"{name} names {url}"
    index = console_files()["index.html"].body.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", index), "inline script (the CSP forbids it)"
    assert not re.search(r"\son\w+=", index), "inline event handler (the CSP forbids it)"
    assert " style=" not in index, "inline style (the CSP forbids it)"


class _Storage:
    def __init__(self, presigned: str | None) -> None:
        self.presigned = presigned

    def presigned_url(self, key: str, expires_in: int) -> str | None:
        return self.presigned


def _policy(public_url: str | None, presigned: str | None) -> str:
    context = SimpleNamespace(public_url=public_url, storage=_Storage(presigned))
    return content_security_policy(context)  # type: ignore[arg-type]


def test_media_may_come_from_where_result_links_point_and_nothing_else_may() -> None:
    local = _policy(None, None)
    assert "media-src 'self' blob:;" in local
    assert "img-src 'self' blob:;" in local
    both = _policy("https://kirin.example.com/api", "https://bucket.s3.example:9000/k?X-Sig=1")
    origins = "https://bucket.s3.example:9000 https://kirin.example.com"
    assert f"media-src 'self' blob: {origins};" in both
    for directive in ("script-src 'self'", "style-src 'self'", "connect-src 'self'"):
        assert f"{directive};" in both
