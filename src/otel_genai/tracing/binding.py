"""A decorated function's call as its inputs: ``{parameter: value}``, defaults applied, ``self`` /
``cls`` left out (what ``mlflow.spanInputs`` and ``gen_ai.tool.call.arguments`` record).

Only called while content is captured; the signature is read on the first such call, not at
decoration time.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

_SIMPLE_KINDS = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class InputBinder:
    """``binder(args, kwargs) -> {parameter: value}`` for one function.

    Signatures of plain positional-or-keyword parameters (the common case) are bound by a loop that
    costs a fraction of ``inspect.Signature.bind``; anything else goes through ``bind``. A call that
    does not fit the signature gives ``{"args": [...], "kwargs": {...}}`` (the call itself then raises
    the user's ``TypeError``). Never raises for a well-formed ``args`` tuple and ``kwargs`` dict.
    """

    __slots__ = ("func", "prepared", "signature", "names", "defaults", "skip_first")

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.prepared = False

    def __call__(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        if not self.prepared:
            self._prepare()
        if self.signature is None:
            return {"args": list(args), "kwargs": kwargs} if kwargs else {"args": list(args)}
        if self.names is not None and len(args) <= len(self.names):
            arguments = self._bind_simple(args, kwargs)
            if arguments is not None:
                return arguments
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            return {"args": list(args), "kwargs": kwargs}
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        if self.skip_first:
            arguments.pop(next(iter(self.signature.parameters)), None)
        return arguments

    def _prepare(self) -> None:
        self.prepared = True
        try:
            sig = inspect.signature(self.func)
        except (TypeError, ValueError):
            self.signature, self.names, self.defaults, self.skip_first = None, None, {}, False
            return
        params = list(sig.parameters.values())
        self.signature = sig
        self.skip_first = bool(params) and params[0].name in ("self", "cls")
        self.names = tuple(p.name for p in params) if all(p.kind in _SIMPLE_KINDS for p in params) else None
        self.defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}

    def _bind_simple(self, args: tuple, kwargs: dict) -> dict[str, Any] | None:
        """The fast path; ``None`` when the call needs ``Signature.bind`` (a missing argument, a
        keyword that repeats a positional one or names no parameter)."""
        names, defaults = self.names, self.defaults
        arguments: dict[str, Any] = {}
        count = len(args)
        for i, name in enumerate(names):
            if i < count:
                arguments[name] = args[i]
            elif name in kwargs:
                arguments[name] = kwargs[name]
            elif name in defaults:
                arguments[name] = defaults[name]
            else:
                return None  # a missing argument: the call itself will say so
        if kwargs and not all(k in arguments and names.index(k) >= count for k in kwargs):
            return None
        if self.skip_first:
            arguments.pop(names[0], None)
        return arguments
