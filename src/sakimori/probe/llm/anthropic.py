"""The Anthropic Messages API: ``POST /v1/messages``.

Request: headers ``x-api-key`` and ``anthropic-version``; a body with ``model``, ``max_tokens``,
``system`` and one ``user`` message. Answer: ``content`` blocks (the ``text`` blocks are joined),
``stop_reason``, and ``usage.input_tokens`` / ``usage.output_tokens``.
"""

from __future__ import annotations

from typing import Any

from sakimori.errors import MalformedDocument
from sakimori.probe.llm.http import HttpProvider
from sakimori.probe.llm.interface import Completion, LLMConfig

API_VERSION = "2023-06-01"
PATH = "/v1/messages"


class AnthropicProvider(HttpProvider):
    name = "anthropic"

    def __init__(self, config: LLMConfig, key: str) -> None:
        super().__init__(config, {"x-api-key": key, "anthropic-version": API_VERSION})

    def complete(self, system: str, prompt: str) -> Completion:
        body = {
            "model": self.config.model,
            "max_tokens": self.config.max_tokens,
            "system": system,
            "messages": [{"role": "user", "content": prompt}],
        }
        return parse_message(self._client.post(PATH, body), f"{self.config.base_url}{PATH}")


def parse_message(document: dict[str, Any], where: str) -> Completion:
    """A Messages API answer as a :class:`Completion`; MalformedDocument if it is not one."""
    content = document.get("content")
    usage = document.get("usage")
    if not isinstance(content, list) or not isinstance(usage, dict):
        raise MalformedDocument("not a Messages API answer (no content or usage)", where=where)
    texts = [
        block["text"]
        for block in content
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    ]
    input_tokens, output_tokens = usage.get("input_tokens"), usage.get("output_tokens")
    if not isinstance(input_tokens, int) or not isinstance(output_tokens, int):
        raise MalformedDocument("the answer's usage has no token counts", where=where)
    model = document.get("model")
    stop = document.get("stop_reason")
    return Completion(
        "".join(texts),
        input_tokens,
        output_tokens,
        model if isinstance(model, str) else "",
        stop if isinstance(stop, str) else None,
    )
