"""Reading a JSON file anyone could have put in a folder: a bounded regular file, or a clear refusal."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 20_000_000  # read at most this much (the committed results files are under 1 MB)
MAX_INT_DIGITS = 18  # ids, counts and steps; a longer integer is none of ours (and costs CPU to convert)


class Refused(ValueError):
    """Why a file was not read (the message names the file, not its folder)."""


def _int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise Refused(f"it holds a {len(text)}-digit integer")
    return int(text)


def read_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes. Opened without
    waiting (a FIFO with no writer would block the caller for good) and checked on the open file
    (a link to ``/dev/zero`` or a FIFO is refused, not read); at most ``limit + 1`` bytes are read."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise Refused(f"{path.name} is not a regular file")
            raw = f.read(limit + 1)
    except OSError as e:
        raise Refused(f"{path.name} cannot be read ({e.strerror or type(e).__name__})") from None
    if len(raw) > limit:
        raise Refused(f"{path.name} is over the {limit:,}-byte limit")
    return raw


def read_json(path: Path, limit: int = MAX_FILE_BYTES) -> object:
    """:func:`read_bytes`, parsed as JSON with integers of at most :data:`MAX_INT_DIGITS` digits
    and nesting within Python's recursion limit; :class:`Refused` says why not."""
    path = Path(path)
    raw = read_bytes(path, limit)
    try:
        return json.loads(raw.decode("utf-8"), parse_int=_int)
    except RecursionError:
        raise Refused(f"{path.name} is nested too deep") from None
    except Refused as e:
        raise Refused(f"{path.name}: {e}") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise Refused(f"{path.name} cannot be read as JSON ({type(e).__name__}: {str(e)[:120]})") from None
