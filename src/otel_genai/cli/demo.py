"""``otel-genai demo``: run an instrumented example app against a local endpoint and print its token usage.

The demo's arguments are declared beside the demo itself (:func:`otel_genai.demo.run.register_demo`),
so this module only names it for the CLI's registrar list.
"""

from ..demo.run import DemoError, register_demo

__all__ = ["DemoError", "register_demo"]
