"""The process-lifecycle side of an invocation: which spans are still open, and what happens to them
when the process ends, however it ends (see ``docs/lifecycle.md``).

* Every :class:`~.invocation.Invocation` registers itself in :data:`open_invocations` when its span
  starts and leaves it when the span ends (a dict insert and pop: ~0.1 µs per call).
* **Interpreter exit** (the main thread returns, ``sys.exit``, an unhandled exception, Ctrl-C): the
  handler :func:`_end_open_invocations` runs from ``threading._shutdown``, i.e. before every
  ``atexit`` handler, so before the OTel SDK's providers shut down and flush. It ends each span that
  is still open (a stream the app left unread, a call in flight in a daemon thread) as *abandoned*:
  at the time the consumer last received something, with what was received. After it has run,
  :data:`exiting` is true and nothing of ours starts a thread any more.
* **Finalization**: once ``sys.is_finalizing()`` is true, objects collected during module teardown
  (a stream proxy referenced by a module global) must not start threads, take locks or do I/O:
  :func:`finalizing` tells them to do nothing (their spans were ended by the exit handler).
* **SIGTERM** (``docker stop``, ``kill``): :func:`install_sigterm_flush` (called by the
  distribution's pipeline set-up: the configurator and ``autolog()``) replaces the *default*
  disposition with a handler that ends open spans, flushes the trace and metric providers for at most
  :data:`SIGTERM_FLUSH_TIMEOUT_S` seconds, restores the default and re-sends SIGTERM, so the process
  still dies of the signal (same exit status as without us). A handler the app installed is never
  replaced.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

from .faults import log_fault

_logger = logging.getLogger("otel_genai.instrumentation")

#: id(invocation) -> invocation, for every span of ours that has started and not ended
open_invocations: dict[int, Any] = {}

#: True once the exit handler ran: the process is ending, nothing may start a thread
exiting = False

#: how long a SIGTERM waits for the providers' flush before the process dies of the signal (s)
SIGTERM_FLUSH_TIMEOUT_S = 2.0

_is_finalizing = sys.is_finalizing


def finalizing() -> bool:
    """True while the interpreter tears down (``sys.is_finalizing()``): do nothing from ``__del__``."""
    return _is_finalizing()


def _end_open_invocations() -> None:
    """End every open span as abandoned (see the module docstring); never raises."""
    global exiting
    exiting = True
    for invocation in list(open_invocations.values()):
        try:
            invocation.abandon()
        except Exception:
            log_fault("lifecycle.exit")
    try:
        from . import metrics

        metrics.drain(metrics.DRAIN_LOCK_TIMEOUT_S)  # so the metric readers' shutdown sees every call
    except Exception:
        log_fault("lifecycle.exit.metrics")


def _register_exit_handler() -> None:
    register = getattr(threading, "_register_atexit", None)  # CPython >= 3.9; runs before atexit
    try:
        if register is not None:
            register(_end_open_invocations)
            return
    except RuntimeError:  # the interpreter is already shutting down
        return
    import atexit

    atexit.register(_end_open_invocations)


def _after_fork_in_child() -> None:
    """A forked child owns none of its parent's open spans: ending them there would duplicate them."""
    open_invocations.clear()


_register_exit_handler()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# --- SIGTERM ---------------------------------------------------------------------------------------
def install_sigterm_flush() -> bool:
    """Flush our spans on SIGTERM when its disposition is still the default (see the module docstring).

    Only from the main thread (Python's rule for signal handlers); idempotent. Returns True when our
    handler is (now) installed, False when the app has its own handler or we are not on the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        current = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):
        return False
    if current is _on_sigterm:
        return True
    if current is not signal.SIG_DFL:
        return False  # the app's own handler (or SIG_IGN) stays as it is
    signal.signal(signal.SIGTERM, _on_sigterm)
    return True


def _flush_providers() -> None:
    from opentelemetry import metrics, trace

    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
        flush = getattr(provider, "force_flush", None)
        if flush is not None:
            try:
                flush()
            except Exception:
                log_fault("lifecycle.sigterm.flush")


def _on_sigterm(signum: int, frame: Any) -> None:
    """End open spans, flush for at most ``SIGTERM_FLUSH_TIMEOUT_S``, then die of SIGTERM as by default."""
    try:
        _end_open_invocations()
        # in a thread: the signal may have interrupted the main thread inside the SDK (holding one of
        # its locks), and the SDK's force_flush() has no timeout of its own
        flusher = threading.Thread(target=_flush_providers, name="otel-genai-sigterm-flush", daemon=True)
        flusher.start()
        flusher.join(SIGTERM_FLUSH_TIMEOUT_S)
    except Exception:
        log_fault("lifecycle.sigterm")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
