"""Sakimori: the coordination platform for a national vulnerability counter-measure programme."""

__version__ = "0.1.0"
