"""A collection's stamp: which process wrote it last, and whether a write is under way.

And this process's writes.

Every neulora writer stamps a collection's metadata before its first change (``writing:`` + a new
stamp, so a writer that dies midway still shows) and after its last. A stamp names the writing
process: a reader whose open database saw a stamp of another process must reopen the files
(:mod:`neulora.store`).

>>> stamp = new_stamp()
>>> is_foreign(stamp), is_foreign(new_stamp(writing=True)), is_dirty(new_stamp(writing=True))
(False, False, True)
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

META_STAMP = "neulora_stamp"


# prefix of the stamp a writer sets before its first change and replaces after its last
_DIRTY = "writing:"


def new_stamp(*, writing: bool = False) -> str:
    """A fresh stamp naming this process.

    ``writing``: the mark set before a write's first change.
    """
    return (_DIRTY if writing else "") + f"{os.getpid()}-{uuid.uuid4().hex}"


def is_dirty(stamp: Any) -> bool:
    """Whether a write is under way (or died midway) under this stamp."""
    return str(stamp or "").startswith(_DIRTY)


def is_foreign(stamp: Any) -> bool:
    """Whether another process wrote this stamp (or none wrote any)."""
    return not str(stamp or "").removeprefix(_DIRTY).startswith(f"{os.getpid()}-")


def stamp_of(coll: Any) -> Any:
    """The stamp in a Chroma collection's metadata (None if it has none)."""
    return (coll.metadata or {}).get(META_STAMP)


class WriteCount:
    """How many writes this process's handles have made, to any collection.

    A handle that trusts its last look at a collection's stamp for a while (``freshness``) looks
    again at once when this has moved.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def bump(self) -> None:
        with self._lock:
            self.value += 1


LOCAL_WRITES = WriteCount()  # process-wide by nature, as chromadb's table of open databases is
