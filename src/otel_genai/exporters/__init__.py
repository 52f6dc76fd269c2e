"""Span exporters: the embedded trace-store exporter (``store``) and OTLP presets."""
