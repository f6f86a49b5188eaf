"""The API process's heap, settled once the app is built.

By the time the app is built, the process holds a few hundred thousand objects (FastAPI,
pydantic's models, SQLAlchemy, PyAV, the routes and schemas) that live as long as it does.
Python's cyclic garbage collector nonetheless walks all of them on each full (oldest-generation)
collection: under load that was a pause of about 90 ms every few seconds on the event loop, which
every request in flight waited out (measured under ``wrk -t2 -c64``: with the collector off the
pauses went; docs/benchmarks.md). ``gc.freeze()``, called by ``kirin serve`` in each API process
once its app is built, moves what exists then into a permanent generation the collector leaves
alone, so a full collection walks only what was made since: the collector still runs and still
frees the cycles that requests leave behind.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once (startup's own garbage is not kept for ever), then freeze what is left."""
    gc.collect()
    gc.freeze()
