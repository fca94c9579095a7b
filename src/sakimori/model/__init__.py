"""Domain types: frozen dataclasses shared by every layer. No I/O here."""

from sakimori.model.advisory import (
    Advisory,
    AdvisoryInfo,
    AffectedPackage,
    Event,
    EventKind,
    Range,
    RangeType,
    Severity,
)
from sakimori.model.intel import EpssScore, KevEntry
from sakimori.model.inventory import Component, Inventory

__all__ = [
    "Advisory",
    "AdvisoryInfo",
    "AffectedPackage",
    "Component",
    "EpssScore",
    "Event",
    "EventKind",
    "Inventory",
    "KevEntry",
    "Range",
    "RangeType",
    "Severity",
]
