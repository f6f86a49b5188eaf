"""What a failed task tells its owner: the rule it broke, never where our files are.

Task messages are read by users, so :func:`clean_message` keeps the first line only (never a
traceback) and replaces filesystem paths (the scratch directory, a work dir, a module's file)
with ``<file>``. URLs are left alone: ``//host/path`` is not a path of ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["clean_message"]

# An absolute path of at least two parts, not preceded by what would make it part of a URL or a
# word ("https://h/a/b", "a/b/c").
_PATH = re.compile(r"(?<![\w:/.])/(?:[\w.@+~-]+/)+[\w.@+~-]*")
_MAX_LENGTH = 1000


def clean_message(text: str, hidden: Iterable[str] = ()) -> str:
    """``text`` fit for a user: one line, no paths (``hidden`` ones first: any text that starts
    with them), at most :data:`_MAX_LENGTH` characters."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    if line.startswith("Traceback"):
        return "internal error"
    for prefix in sorted((h for h in hidden if h), key=len, reverse=True):
        line = re.sub(re.escape(prefix) + r"[^\s'\":,;()]*", "<file>", line)
    line = _PATH.sub("<file>", line)
    return line[:_MAX_LENGTH]
