"""What every provider shares: the safe wrappers, the invocation (span + metrics + events) lifecycle,
the stream proxies and the "already inside a GenAI call" guard.

Provider packages describe an API family with an :class:`~._core.operation.Operation`; this package
turns it into spans. Nothing here knows an SDK's types.
"""

from .invocation import GenAITelemetry
from .operation import Operation, StreamAccumulator
from .wrappers import async_wrapper, sync_wrapper

__all__ = ["GenAITelemetry", "Operation", "StreamAccumulator", "async_wrapper", "sync_wrapper"]
