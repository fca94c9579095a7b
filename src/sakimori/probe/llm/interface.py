"""The provider interface of the LLM reviewer, its configuration, and what a call returns.

A provider turns a system text and a prompt into a :class:`Completion` (the text and the token
counts the server reported). Failures are Sakimori errors: ``SourceUnavailable`` (cannot
connect, timed out, an HTTP error status), ``MalformedDocument`` (an answer that is not the
protocol's JSON) and ``LimitExceeded`` (an answer larger than ``max_response_bytes``).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from sakimori.errors import ConfigurationError

PROVIDERS = ("anthropic", "openai")
DEFAULT_URLS = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com"}
DEFAULT_KEY_ENVS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million input and output tokens of one model."""

    input: float
    output: float

    def __post_init__(self) -> None:
        if self.input < 0 or self.output < 0:
            raise ConfigurationError("token prices cannot be negative")


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Which server and model to ask, how to authenticate, and the limits of one call.

    ``key_env`` names the environment variable that holds the API key; the key itself is never
    stored in a file, printed or logged. ``prices`` maps model names to their price; a model
    without a price has an unknown cost (``None``), never a guessed one.
    """

    provider: str
    model: str
    url: str = ""
    key_env: str | None = None
    timeout: float = 120.0
    connect_timeout: float = 10.0
    max_tokens: int = 4096
    max_response_bytes: int = 2_000_000
    prices: Mapping[str, Price] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ConfigurationError(
                f"unknown LLM provider {self.provider!r}", hint="choose anthropic or openai"
            )
        if not self.model.strip():
            raise ConfigurationError(
                "no model is configured for the LLM reviewer",
                hint="pass --llm-model or set model in [probe.llm]",
            )
        if self.timeout <= 0 or self.connect_timeout <= 0:
            raise ConfigurationError("LLM timeouts must be greater than zero")
        if self.max_tokens <= 0 or self.max_response_bytes <= 0:
            raise ConfigurationError("LLM limits must be greater than zero")

    @property
    def base_url(self) -> str:
        """The server's base URL without a trailing ``/`` or ``/v1`` (the paths add it)."""
        url = (self.url or DEFAULT_URLS[self.provider]).rstrip("/")
        return url.removesuffix("/v1")

    @property
    def key_variable(self) -> str:
        return self.key_env or DEFAULT_KEY_ENVS[self.provider]

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if environ is None else environ
        return env.get(self.key_variable) or None

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        """The call's cost in US dollars, or None when the model has no configured price."""
        price = self.prices.get(self.model)
        if price is None:
            return None
        return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


@dataclass(frozen=True, slots=True)
class Completion:
    """The model's answer to one request, with the usage the server reported."""

    text: str
    input_tokens: int
    output_tokens: int
    model: str
    stop_reason: str | None = None


class Provider(ABC):
    """One LLM protocol. Implementations are constructed with an :class:`LLMConfig`."""

    #: The protocol's name, as in ``--llm``.
    name: str

    def __init__(self, config: LLMConfig) -> None:
        self.config = config

    @abstractmethod
    def complete(self, system: str, prompt: str) -> Completion:
        """Ask the model once; the answer, or a Sakimori error saying why there is none."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection pool."""

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def make_provider(config: LLMConfig, environ: Mapping[str, str] | None = None) -> Provider:
    """The provider of ``config.provider``, reading its key from the environment."""
    from sakimori.probe.llm.anthropic import AnthropicProvider
    from sakimori.probe.llm.openai import OpenAIProvider

    key = config.api_key(environ)
    if config.provider == "anthropic":
        if key is None:
            raise ConfigurationError(
                f"the Anthropic API key is not set: ${config.key_variable} is empty",
                hint="export the key, or name another variable with --llm-key-env",
            )
        return AnthropicProvider(config, key)
    return OpenAIProvider(config, key)
