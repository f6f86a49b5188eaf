"""The console's static files: complete (every module an import names is served), and free of
what its Content-Security-Policy or its injection-safety rules forbid."""

from __future__ import annotations

import re

from kirin_api.server.routes_console import console_files

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
