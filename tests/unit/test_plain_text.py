"""`ui.format.plain`: user text inside Markdown stays text (no image, heading, link or colour)."""

from __future__ import annotations

import re

import pytest

from ui.format import plain


@pytest.mark.parametrize("hostile", ["![x](http://evil.example/x.png)", "# Verified by the board",
                                     "[click](javascript:alert(1))", ":red[approved]", "$x^2$",
                                     "<img src=x>", "**bold** _it_ `code`", "> quote", "1. list"])
def test_every_markdown_mark_in_user_text_is_escaped(hostile):
    escaped = plain(hostile)
    # Each ASCII punctuation mark is preceded by a backslash, so Markdown shows it literally.
    for match in re.finditer(r"[!#\[\]()<>*_`:$>^.\-]", escaped):
        assert escaped[match.start() - 1] == "\\", (hostile, escaped)
    assert re.sub(r"\\(.)", r"\1", escaped) == hostile


def test_line_breaks_are_kept_as_markdown_breaks():
    assert plain("one\ntwo") == "one  \ntwo"
