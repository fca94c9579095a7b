"""OpenAI-compatible Chat Completions: ``POST /v1/chat/completions``.

The protocol of OpenAI and of most local model servers (llama.cpp's server, vLLM, Ollama,
LM Studio). Request: ``Authorization: Bearer <key>`` when a key is set (local servers often need
none); a body with ``model``, ``max_tokens`` and a ``system`` and a ``user`` message. Answer:
``choices[0].message.content``, ``choices[0].finish_reason``, and ``usage.prompt_tokens`` /
``usage.completion_tokens`` (zero when a local server reports no usage).
"""

from __future__ import annotations

from typing import Any

from sakimori.errors import MalformedDocument
from sakimori.probe.llm.http import HttpProvider
from sakimori.probe.llm.interface import Completion, LLMConfig

PATH = "/v1/chat/completions"


class OpenAIProvider(HttpProvider):
    name = "openai"

    def __init__(self, config: LLMConfig, key: str | None) -> None:
        super().__init__(config, {"authorization": f"Bearer {key}"} if key else {})

    def complete(self, system: str, prompt: str) -> Completion:
        body = {
            "model": self.config.model,
            "max_tokens": self.config.max_tokens,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": prompt},
            ],
        }
        return parse_chat(self._client.post(PATH, body), f"{self.config.base_url}{PATH}")


def parse_chat(document: dict[str, Any], where: str) -> Completion:
    """A Chat Completions answer as a :class:`Completion`; MalformedDocument if it is not one."""
    choices = document.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedDocument("not a Chat Completions answer (no choices)", where=where)
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    refusal = message.get("refusal") if isinstance(message, dict) else None
    if content is None and isinstance(refusal, str) and refusal:
        raise MalformedDocument(f"the model refused: {refusal[:300]}", where=where)
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise MalformedDocument("the answer's message content is not text", where=where)
    usage = document.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    input_tokens = usage.get("prompt_tokens", 0)
    output_tokens = usage.get("completion_tokens", 0)
    if not isinstance(input_tokens, int) or not isinstance(output_tokens, int):
        raise MalformedDocument("the answer's usage token counts are not numbers", where=where)
    model = document.get("model")
    finish = choices[0].get("finish_reason")
    return Completion(
        content,
        input_tokens,
        output_tokens,
        model if isinstance(model, str) else "",
        finish if isinstance(finish, str) else None,
    )
