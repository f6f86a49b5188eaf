"""Task messages never show a path of ours or a traceback."""

from __future__ import annotations

from kirin_api.worker.messages import clean_message


def test_scratch_paths_are_hidden() -> None:
    text = "internal generation error: cannot read /srv/kirin/scratch/task_1-1/input-1: bad"
    assert clean_message(text, ["/srv/kirin/scratch"]) == (
        "internal generation error: cannot read <file>: bad"
    )


def test_any_absolute_path_is_hidden_but_urls_stay() -> None:
    text = "image: HTTP 404 for https://cdn.example.com/a/b.png (see /usr/lib/python3/x.py)"
    assert clean_message(text) == "image: HTTP 404 for https://cdn.example.com/a/b.png (see <file>)"


def test_a_traceback_never_reaches_the_user() -> None:
    assert clean_message('Traceback (most recent call last):\n  File "/a/b.py"') == "internal error"
    assert clean_message("first line\nsecond line /etc/x") == "first line"
