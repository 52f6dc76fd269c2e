"""The Gemini SDK through an AI gateway, traced by otel-genai.

Seed: MLflow's AI Gateway passthrough for Gemini (``/gateway/gemini/v1beta/models/{endpoint}:generateContent``;
mlflow/mlflow PR #19425, "Add passthrough support for Gemini generateContent and streamGenerateContent
APIs"), whose client snippet points ``google-genai`` at the gateway with ``http_options.base_url``
and asks the gateway endpoint ``gemini-v1``, ported. Only these lines differ from it: the two setup
lines before the client (``serve_unless_live()`` serves the local demo endpoint under the same
``/gateway/gemini`` path, ``otel_genai.autolog()`` traces the SDK), the base URL read from them, and
the streamed call added after the plain one.

Each call is one ``chat gemini-v1`` span whose ``server.address`` / ``server.port`` are the gateway's
(the client's real base URL) and whose usage is on the trace::

    python examples/gemini_gateway.py            # the local demo endpoint, no key needed
    python examples/gemini_gateway.py --live     # a real MLflow AI Gateway (MLFLOW_GATEWAY_URL, default http://localhost:5000)
    otel-genai traces show --last
"""

import os

from google import genai

import otel_genai
from otel_genai.demo.endpoint import serve_unless_live

local = serve_unless_live("gemini")  # the local demo endpoint, unless --live
otel_genai.autolog()
gateway = local or os.environ.get("MLFLOW_GATEWAY_URL", "http://localhost:5000")

client = genai.Client(
    api_key="dummy",
    http_options={
        "base_url": f"{gateway}/gateway/gemini",
    },
)
response = client.models.generate_content(
    model="gemini-v1",
    contents="Hello",
)
print(response.candidates[0].content.parts[0].text)

for chunk in client.models.generate_content_stream(model="gemini-v1", contents="Hello again"):
    print(chunk.text, end="")
print()
client.close()
