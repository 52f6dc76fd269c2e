"""``otel-genai demo``: an OpenAI-compatible fixture endpoint and the example app that calls it."""
