"""``otel-genai demo`` and the examples' local endpoint: OpenAI Chat Completions and Responses, Anthropic
Messages (the project's own canned answers, exact wire formats) and the example app that calls it."""
