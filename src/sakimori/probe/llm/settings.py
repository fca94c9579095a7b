"""The reviewer's and the gate's settings: command-line options over the settings file.

The settings file (``$SAKIMORI_CONFIG``, default ``$SAKIMORI_HOME/sakimori.toml``) may hold::

    [probe.llm]
    provider = "openai"                   # or "anthropic"
    url = "http://127.0.0.1:8080"         # default: the provider's public API
    model = "qwen2.5-coder-32b"
    key_env = "LOCAL_LLM_KEY"             # the variable holding the key (never the key itself)
    timeout = 120                         # seconds per call
    max_tokens = 4096
    max_findings = 20                     # findings reviewed per run
    max_response_bytes = 2000000

    [probe.llm.prices."qwen2.5-coder-32b"]
    input = 0.0                           # US dollars per million input tokens
    output = 0.0

    [probe.gate]
    test_command = "python -m pytest -q"  # split like a shell would, run without one
    test_timeout = 600

Options given on the command line win over the file. The reviewer runs only when ``--llm`` is
given: a settings file alone never sends code anywhere.
"""

from __future__ import annotations

import os
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sakimori.errors import ConfigurationError
from sakimori.probe.gate import GateSettings
from sakimori.probe.llm.interface import LLMConfig, Price


@dataclass(frozen=True, slots=True)
class ReviewOptions:
    """The command line's reviewer options; None means "not given"."""

    provider: str
    url: str | None = None
    model: str | None = None
    key_env: str | None = None
    timeout: float | None = None
    max_findings: int | None = None
    price_input: float | None = None
    price_output: float | None = None
    test_command: str | None = None
    test_timeout: float | None = None


def read_sections(home: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``[probe]`` table of the settings file ({} when there is no file)."""
    env = os.environ if environ is None else environ
    path = Path(env.get("SAKIMORI_CONFIG") or home / "sakimori.toml")
    if not path.is_file():
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read settings: {exc}", where=str(path)) from None
    probe = document.get("probe", {})
    if not isinstance(probe, dict):
        raise ConfigurationError("[probe] must be a table", where=str(path))
    return probe


def _table(sections: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = sections.get(name, {})
    if not isinstance(value, dict):
        raise ConfigurationError(f"[probe.{name}] must be a table")
    return value


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"[probe] {name} must be a number, not {value!r}")
    return float(value)


def llm_config(options: ReviewOptions, sections: Mapping[str, Any]) -> tuple[LLMConfig, int]:
    """The provider configuration and the number of findings to review."""
    table = _table(sections, "llm")
    prices: dict[str, Price] = {}
    raw_prices = table.get("prices", {})
    if not isinstance(raw_prices, dict):
        raise ConfigurationError("[probe.llm.prices] must be a table of models")
    for model, price in raw_prices.items():
        if not isinstance(price, dict):
            raise ConfigurationError(f"[probe.llm.prices.{model!r}] must hold input and output")
        prices[model] = Price(
            _number(price.get("input"), "input") or 0.0,
            _number(price.get("output"), "output") or 0.0,
        )
    model = options.model or str(table.get("model") or "")
    if options.price_input is not None or options.price_output is not None:
        prices[model] = Price(options.price_input or 0.0, options.price_output or 0.0)
    timeout = options.timeout or _number(table.get("timeout"), "timeout") or 120.0
    max_tokens = int(_number(table.get("max_tokens"), "max_tokens") or 4096)
    max_bytes = int(_number(table.get("max_response_bytes"), "max_response_bytes") or 2_000_000)
    max_findings = options.max_findings
    if max_findings is None:
        max_findings = int(_number(table.get("max_findings"), "max_findings") or 20)
    if max_findings < 0:
        raise ConfigurationError("the number of findings to review cannot be negative")
    config = LLMConfig(
        provider=options.provider,
        model=model,
        url=options.url or str(table.get("url") or ""),
        key_env=options.key_env or table.get("key_env") or None,
        timeout=timeout,
        max_tokens=max_tokens,
        max_response_bytes=max_bytes,
        prices=prices,
    )
    return config, max_findings


def gate_settings(options: ReviewOptions, sections: Mapping[str, Any]) -> GateSettings:
    table = _table(sections, "gate")
    command: Any = options.test_command or table.get("test_command")
    if isinstance(command, str):
        try:
            argv = tuple(shlex.split(command))
        except ValueError as exc:
            raise ConfigurationError(f"the test command does not parse: {exc}") from None
    elif isinstance(command, list) and all(isinstance(part, str) for part in command):
        argv = tuple(command)
    elif command is None:
        argv = ()
    else:
        raise ConfigurationError("[probe.gate] test_command must be a text or a list of texts")
    timeout = options.test_timeout or _number(table.get("test_timeout"), "test_timeout") or 600.0
    return GateSettings(test_command=argv, test_timeout=timeout)
