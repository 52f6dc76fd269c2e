"""The old import path of the SQLite store, kept for callers outside the store package
(``tests/shipping.py``: ``from otel_genai.store.db import TraceStore``).

``TraceStore`` here is the SQLite adapter class, :class:`otel_genai.store.sqlite.SQLiteTraceStore`;
new code opens a store with :func:`otel_genai.store.open_store` and types it with the protocol
:class:`otel_genai.store.TraceStore`.
"""

from .sqlite import SQLiteTraceStore as TraceStore

__all__ = ["TraceStore"]
