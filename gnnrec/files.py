"""Result and model files from the command line: checked writable before long work, written atomically."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .data import atomic_write_bytes


def write_json(path: str | None, obj: dict) -> None:
    """``obj`` as indented JSON at ``path`` (nothing when ``path`` is empty), written atomically."""
    if path:
        atomic_write_bytes(Path(path), json.dumps(obj, indent=1).encode())
        print(f"wrote {path}")


def check_writable(path: str | Path | None, what: str) -> None:
    """Before long work: raise ValueError unless a file can be written at ``path`` (its folder is
    created as the final write would; a temporary file is made there and removed)."""
    if not path:
        return
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"{what} {path}: is a folder; give a file name, e.g. {target / 'out.json'} (nothing was run)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".check"):
            pass
    except OSError as e:
        raise ValueError(f"{what} {path}: cannot write there ({e.strerror or type(e).__name__}); choose a writable "
                         "path (nothing was run)") from None
