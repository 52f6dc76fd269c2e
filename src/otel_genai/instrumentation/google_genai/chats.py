"""``client.chats.create(...).send_message`` / ``send_message_stream`` (and ``client.aio.chats``).

A chat sends its whole curated history plus the new message through ``models.generate_content[_stream]``
(``google.genai.chats``), so without automatic function calling each turn is the ``chat {model}``
span of that call, its input the history. These rows matter only when the chat runs the AFC loop
itself (a chat config with Python function tools): the user's ``send_message`` is then the loop's
``invoke_agent`` span, and each ``models`` call it makes is one of its turns (see ``afc``).
"""

from __future__ import annotations

from typing import Any

from .._core.instrumentor import Method
from .afc import AutomaticFunctionCalling, StreamedAutomaticFunctionCalling
from .models import CHAT_ENTRY

_MODULE = "google.genai.chats"


def chat_request(chat: Any, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The request of ``chat.send_message[_stream](message, config=None)`` in ``models`` form:
    ``model``, ``contents`` (the curated history, then the message as the user's turn; a list
    copy, the chat's own history is never touched) and ``config`` (the call's, else the chat's)."""
    message = args[0] if args else kwargs.get("message")
    config = (args[1] if len(args) > 1 else kwargs.get("config")) or getattr(chat, "_config", None)
    history = list(getattr(chat, "_curated_history", None) or ())
    parts = message if isinstance(message, list) else [message]
    history.append({"role": "user", "parts": parts})
    return {"model": getattr(chat, "_model", None), "contents": history, "config": config}


METHODS = tuple(
    Method(_MODULE, cls, name, is_async, operation, CHAT_ENTRY)
    for cls, is_async in (("Chat", False), ("AsyncChat", True))
    for name, operation in (("send_message", AutomaticFunctionCalling), ("send_message_stream", StreamedAutomaticFunctionCalling))
)
