"""gnnrec.app.glossary: every word it explains is shown somewhere, and every word a page asks for exists."""

from __future__ import annotations

import re
from pathlib import Path

from gnnrec.app.glossary import HOW, TERMS, term

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p.read_text() for p in [*ROOT.glob("pages/**/*.py"), *ROOT.glob("gnnrec/app/*.py")] if p.name != "glossary.py"]


def test_every_term_asked_for_exists_and_every_term_is_used():
    asked = {k for s in SOURCES for k in re.findall(r"""term\(\s*["']([a-z_]+)["']""", s)}
    assert asked, "no page asks for a term: the pattern no longer matches the pages"
    assert asked <= set(TERMS), f"pages ask for undefined terms: {sorted(asked - set(TERMS))}"
    unused = {k for k in TERMS if not any(f'"{k}"' in s or f"'{k}'" in s for s in SOURCES)}
    assert not unused, f"glossary terms no page shows: {sorted(unused)}"


def test_every_page_has_how_it_works_and_terms_are_sentences():
    assert set(HOW) == {"recommend", "neighbourhood", "compare", "train"}
    for key, text in TERMS.items():
        assert term(key) == text and (text[0].isupper() or text[0].isdigit()) and text.rstrip().endswith((".", ")")), key
