"""The optional LLM reviewer of ``sakimori probe``: one provider interface, two protocols.

:mod:`~sakimori.probe.llm.interface` holds the interface, the configuration and the result types;
:mod:`~sakimori.probe.llm.anthropic` speaks the Anthropic Messages API and
:mod:`~sakimori.probe.llm.openai` any OpenAI-compatible Chat Completions endpoint (which covers
local model servers). Every request goes through :mod:`~sakimori.probe.llm.http`.
:mod:`~sakimori.probe.llm.prompts` builds the prompts and reads the answers strictly, and
:mod:`~sakimori.probe.llm.review` runs the reviewer over a report, passing every proposed patch
through the deterministic gate (:mod:`sakimori.probe.gate`) and logging a transcript.

Nothing the model says is accepted on its word: a verdict is shown as advice, and a patch only
when the gate accepts it.
"""
