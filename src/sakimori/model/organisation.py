"""Organisations and assets: the kinds, sectors and criticality levels Sakimori knows."""

from __future__ import annotations

import re
from typing import Final

from sakimori.errors import InvalidInput

KINDS: Final = ("coordinator", "agency", "operator", "vendor", "partner")

#: Japan's critical-infrastructure sectors (the Cybersecurity Policy for Critical Infrastructure
#: Protection lists fifteen), by the key Sakimori stores and the name it shows.
SECTORS: Final[dict[str, str]] = {
    "information_communications": "Information and communications",
    "finance": "Finance",
    "aviation": "Aviation",
    "airports": "Airports",
    "railways": "Railways",
    "electric_power": "Electric power",
    "gas": "Gas",
    "government": "Government and administrative services",
    "medical": "Medical",
    "water": "Water",
    "logistics": "Logistics",
    "chemicals": "Chemicals",
    "credit_cards": "Credit cards",
    "petroleum": "Petroleum",
    "ports": "Ports",
}

CRITICALITIES: Final = ("low", "medium", "high", "critical")

_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


def check_slug(text: str, what: str) -> str:
    slug = text.strip().lower()
    if not _SLUG.fullmatch(slug):
        raise InvalidInput(
            f"{what} {text!r} is not a valid short name",
            hint="use lower-case letters, digits, '.', '_' or '-', up to 100 characters",
        )
    return slug


def check_choice(text: str, choices: tuple[str, ...] | list[str], what: str) -> str:
    value = text.strip().lower().replace(" ", "_").replace("&", "").replace("-", "_")
    value = value.replace("__", "_")
    if value not in choices:
        raise InvalidInput(f"unknown {what} {text!r}", hint="one of: " + ", ".join(choices))
    return value


def check_sector(text: str) -> str:
    return check_choice(text, list(SECTORS), "sector")
