"""Use cases: orchestrate fetch, parse, match and store, each in its own transaction."""
