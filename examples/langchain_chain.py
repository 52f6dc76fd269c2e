"""A LangChain chain (``PromptTemplate | ChatOpenAI | StrOutputParser``), traced by otel-genai.

Seed: the MLflow documentation, "Tracing LangChain" > "Example Usage"
(https://mlflow.org/docs/latest/genai/tracing/integrations/listing/langchain/), ported. Only these
lines differ from it: ``import otel_genai`` for ``import mlflow``, ``otel_genai.autolog()`` for
``mlflow.langchain.autolog()`` (it instruments LangChain and the ``openai`` SDK under it), the
page's optional tracking-URI and experiment lines left out (traces go to the embedded store, or
``OTEL_EXPORTER_OTLP_ENDPOINT``), ``serve_unless_live()`` picking the endpoint, ``PromptTemplate``
imported from ``langchain_core.prompts`` (LangChain 1.x has no ``langchain.prompts``), and the answer
printed.

The trace reads as MLflow shows it: ``RunnableSequence`` > ``PromptTemplate``, ``chat gpt-4o-mini``
(one span, the openai SDK's, with its token usage), ``StrOutputParser``::

    python examples/langchain_chain.py            # the local demo endpoint, no key needed
    python examples/langchain_chain.py --live     # the real API (OPENAI_API_KEY)
    otel-genai traces show --last
"""

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_openai import ChatOpenAI

import otel_genai
from otel_genai.demo.endpoint import serve_unless_live

serve_unless_live("openai")  # the local demo endpoint, unless --live

# Enabling autolog for LangChain will enable trace logging.
otel_genai.autolog()

llm = ChatOpenAI(model="gpt-4o-mini", temperature=0.7, max_tokens=1000)

prompt_template = PromptTemplate.from_template(
    "Answer the question as if you are {person}, fully embodying their style, wit, personality, and habits of speech. "
    "Emulate their quirks and mannerisms to the best of your ability, embracing their traits—even if they aren't entirely"
    " constructive or inoffensive. The question is: {question}"
)

chain = prompt_template | llm | StrOutputParser()

# Let's test another call
answer = chain.invoke(
    {
        "person": "Linus Torvalds",
        "question": "Can I just set everyone's access to sudo to make things easier?",
    }
)
print(answer)
