"""MkDocs hook: reference.md's option tables are written from the schemas at build time
(inception_tl.config.reference), so the documented defaults are the code's."""

from __future__ import annotations

from typing import Any

MARKER = "<!-- options: written from the schemas at build time -->"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    from inception_tl.config.reference import options_markdown

    return markdown.replace(MARKER, options_markdown())
