"""The provider contract: the generic guarantees of every instrumented SDK, run once per provider
case (``providers/``). See ``case.py``."""
