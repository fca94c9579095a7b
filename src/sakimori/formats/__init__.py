"""Pure parsers and renderers, one module per format: bytes in, domain objects out, no I/O."""
