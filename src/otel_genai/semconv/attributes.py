"""Attribute names and enum values: the single place the project's telemetry names live.

Sources:

* OTel GenAI semantic conventions, semantic-conventions v1.41.1 (``docs/gen-ai/gen-ai-spans.md``,
  ``model/gen-ai/registry.yaml``), plus the post-1.41.1 names that ``opentelemetry-util-genai`` 1.3b0
  already emits (``gen_ai.usage.cache_write.input_tokens``, ``gen_ai.usage.reasoning.output_tokens``).
* OTel general conventions for ``server.*`` and ``error.type``.
* MLflow's span attribute keys (``mlflow.tracing.constant.SpanAttributeKey``) so that the same spans
  render with token usage in MLflow's trace UI.

The deprecated ``gen_ai.system`` and the per-message ``gen_ai.*.message`` events are never emitted.
"""

from __future__ import annotations

# --- gen_ai.* span attributes (semconv v1.41.1) ------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
# opentelemetry-util-genai 1.3b0 (post-1.41.1): the ``previous_response_id`` a request continues from
GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID = "gen_ai.request.previous_response.id"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"

GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"  # seconds

GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"  # includes cached input tokens
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"

# content attributes (opt-in, governed by the content-capture policy)
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions"

GEN_AI_TOKEN_TYPE = "gen_ai.token.type"

# --- general conventions ------------------------------------------------------------------------
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

# --- provider-specific (semconv openai.* registry) ------------------------------------------------
OPENAI_API_TYPE = "openai.api.type"
OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT = "openai.response.system_fingerprint"

# the Anthropic API's ``request-id`` response header (the name the anthropic SDK's own spans use;
# no semconv name yet)
ANTHROPIC_REQUEST_ID = "anthropic.request.id"


class GenAIOperationName:
    """Values of ``gen_ai.operation.name`` (semconv v1.41.1)."""

    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    EMBEDDINGS = "embeddings"
    GENERATE_CONTENT = "generate_content"
    CREATE_AGENT = "create_agent"
    INVOKE_AGENT = "invoke_agent"
    EXECUTE_TOOL = "execute_tool"


class GenAIProviderName:
    """Well-known values of ``gen_ai.provider.name`` (semconv v1.41.1)."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    AZURE_AI_OPENAI = "azure.ai.openai"
    AWS_BEDROCK = "aws.bedrock"
    GCP_VERTEX_AI = "gcp.vertex_ai"
    GCP_GEMINI = "gcp.gemini"  # the Gemini Developer API (generativelanguage.googleapis.com)


class GenAIOutputType:
    """Values of ``gen_ai.output.type`` (semconv v1.41.1)."""

    TEXT = "text"
    JSON = "json"
    IMAGE = "image"
    SPEECH = "speech"


class GenAIFinishReason:
    """``finish_reason`` values of the output-message schema (semconv v1.41.1
    ``gen-ai-output-messages.json``) that providers' own reasons are mapped to."""

    STOP = "stop"
    LENGTH = "length"
    CONTENT_FILTER = "content_filter"
    TOOL_CALL = "tool_call"
    ERROR = "error"


class OpenAIApiType:
    """Values of ``openai.api.type`` (semconv v1.41.1)."""

    CHAT_COMPLETIONS = "chat_completions"
    RESPONSES = "responses"


#: ``finish_reason`` of the output-message schema (semconv v1.41.1 ``gen-ai-output-messages.json``:
#: stop, length, content_filter, tool_call, error) for a generation that did not finish normally;
#: used for a stream the consumer left before the provider sent its finish reason
FINISH_REASON_ERROR = "error"


class GenAITokenType:
    """Values of ``gen_ai.token.type`` on ``gen_ai.client.token.usage``."""

    INPUT = "input"
    OUTPUT = "output"


# --- MLflow span attribute keys (mlflow.tracing.constant.SpanAttributeKey) -------------------------
MLFLOW_SPAN_TYPE = "mlflow.spanType"
MLFLOW_CHAT_TOKEN_USAGE = "mlflow.chat.tokenUsage"
MLFLOW_LLM_MODEL = "mlflow.llm.model"
MLFLOW_LLM_PROVIDER = "mlflow.llm.provider"
MLFLOW_SPAN_INPUTS = "mlflow.spanInputs"
MLFLOW_SPAN_OUTPUTS = "mlflow.spanOutputs"
MLFLOW_MESSAGE_FORMAT = "mlflow.message.format"
MLFLOW_CHAT_TOOLS = "mlflow.chat.tools"


class MLflowSpanType:
    """Values of ``mlflow.spanType`` (``mlflow.entities.SpanType``)."""

    CHAT_MODEL = "CHAT_MODEL"
    LLM = "LLM"
    EMBEDDING = "EMBEDDING"
    TOOL = "TOOL"
    AGENT = "AGENT"
    CHAIN = "CHAIN"
    RETRIEVER = "RETRIEVER"


# keys of the token-usage JSON in ``mlflow.chat.tokenUsage`` (mlflow.tracing.constant.TokenUsageKey)
MLFLOW_INPUT_TOKENS = "input_tokens"
MLFLOW_OUTPUT_TOKENS = "output_tokens"
MLFLOW_TOTAL_TOKENS = "total_tokens"
MLFLOW_CACHE_READ_INPUT_TOKENS = "cache_read_input_tokens"
MLFLOW_CACHE_CREATION_INPUT_TOKENS = "cache_creation_input_tokens"

# the log record emitted in EVENT_ONLY / SPAN_AND_EVENT content mode
GEN_AI_INFERENCE_DETAILS_EVENT = "gen_ai.client.inference.operation.details"


def error_type(exc: BaseException) -> str:
    """``error.type`` for an exception: its fully-qualified class name as users import it.

    Private module segments are dropped (``openai._exceptions.RateLimitError`` ->
    ``openai.RateLimitError``); builtins keep their bare name (``TimeoutError``).
    """
    cls = type(exc)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    public = []
    for segment in module.split("."):
        if segment.startswith("_"):
            break
        public.append(segment)
    return ".".join(public + [cls.__qualname__]) if public else cls.__qualname__


# --- agent and tool spans (semconv v1.41.1 ``invoke_agent`` / ``execute_tool``; otel_genai.trace) ----
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_AGENT_DESCRIPTION = "gen_ai.agent.description"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"  # opt-in content
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"  # opt-in content


class GenAIToolType:
    """Values of ``gen_ai.tool.type`` (semconv v1.41.1)."""

    FUNCTION = "function"
    EXTENSION = "extension"
    DATASTORE = "datastore"
