"""OpenTelemetry instrumentors for GenAI SDKs (``BaseInstrumentor`` subclasses), one package per SDK.

:data:`INSTRUMENTORS` maps each instrumented SDK's import name to its instrumentor, for
``otel_genai.autolog()``; ``opentelemetry-instrument`` finds the same classes through the
``opentelemetry_instrumentor`` entry points named in :data:`ENTRY_POINTS`.
"""

INSTRUMENTORS = {
    "openai": "otel_genai.instrumentation.openai:OpenAIInstrumentor",
    "anthropic": "otel_genai.instrumentation.anthropic:AnthropicInstrumentor",
    "google.genai": "otel_genai.instrumentation.google_genai:GoogleGenAIInstrumentor",
    "langchain_core": "otel_genai.instrumentation.langchain:LangChainInstrumentor",
}

#: instrumented SDK -> the name of our ``opentelemetry_instrumentor`` entry point for it (pyproject.toml)
ENTRY_POINTS = {
    "openai": "otel_genai_openai",
    "anthropic": "otel_genai_anthropic",
    "google.genai": "otel_genai_google_genai",
    "langchain_core": "otel_genai_langchain",
}
