"""OpenTelemetry instrumentors for GenAI SDKs (``BaseInstrumentor`` subclasses), one package per SDK."""
