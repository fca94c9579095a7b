"""The ``sakimori`` command line (Typer + Rich)."""
