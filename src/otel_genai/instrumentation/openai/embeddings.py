"""OpenAI Embeddings (``embeddings.create``): request, response and stream mapping."""

from __future__ import annotations

# (module, class, method, is_async, Operation factory taking the stream types)
METHODS: tuple = ()
