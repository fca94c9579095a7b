"""Entry point of the ``sakimori`` command."""

from __future__ import annotations


def main() -> None:
    raise SystemExit("sakimori: the command line is being built")
