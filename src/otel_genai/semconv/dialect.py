"""Which version of the GenAI conventions we emit: semconv v1.41.1 by default, or the GenAI
repository's "latest experimental" names when the user opts in the OpenTelemetry way,
``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` (a comma-separated list, as
``opentelemetry-instrumentation`` parses it).

What the latest dialect changes (open-telemetry/semantic-conventions-genai ``model/gen-ai/``:
``metrics.yaml`` 9ba9b77, ``token-metrics.yaml`` 9b2ce3b, ``gen-ai-output-messages.json`` ae14c02,
and PR #521 for the inference metrics):

* metrics: ``gen_ai.client.inference.duration`` for inference operations (chat, text_completion,
  generate_content; embeddings stay on ``gen_ai.client.operation.duration``),
  ``gen_ai.client.inference.time_to_first_chunk`` / ``time_per_output_chunk``, and instead of the
  ``gen_ai.client.token.usage`` histogram the ``gen_ai.client.inference.usage.*`` token counters (with
  the required ``gen_ai.token.modality``: ``unknown``, as no provider splits its counts by modality
  for us) plus the ``gen_ai.client.inference.operation.{input,output}_tokens`` histograms
  (see ``semconv.metrics``);
* content: output messages carry no ``finish_reason`` (deprecated there: it is on the span's
  ``gen_ai.response.finish_reasons``). Parts of types the schema does not name are valid as its
  ``generic`` parts, unchanged.

Span attributes are the same in both.
"""

from __future__ import annotations

import os
from typing import Mapping

OPT_IN_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"
GEN_AI_LATEST_EXPERIMENTAL = "gen_ai_latest_experimental"


def latest_experimental(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``OTEL_SEMCONV_STABILITY_OPT_IN`` lists ``gen_ai_latest_experimental``; read by the
    instrumentors at ``instrument()``."""
    environ = os.environ if environ is None else environ
    return GEN_AI_LATEST_EXPERIMENTAL in (item.strip() for item in (environ.get(OPT_IN_ENV) or "").split(","))
