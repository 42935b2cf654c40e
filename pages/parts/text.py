"""Text on the page: literal (never Markdown) messages, and messages flashed to the next run."""

from __future__ import annotations

import re

import streamlit as st

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text) -> str:
    """Text (file names, link values, error messages) shown literally in a Markdown element."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def alert(level: str, text) -> None:
    """``st.error``/``warning``/``info``/``success`` of plain text (never read as Markdown)."""
    getattr(st, level)(plain(text))


def flash(level: str, text: str) -> None:
    """A message shown once, at the top of the next page run (callbacks cannot draw)."""
    st.session_state.setdefault("flash", []).append((level, text))


def show_flash() -> None:
    for level, text in st.session_state.pop("flash", []):
        alert(level, text)
