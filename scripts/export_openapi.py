"""Write the API's OpenAPI document to docs/openapi.json (or check it is current).

    python scripts/export_openapi.py          # regenerate docs/openapi.json
    python scripts/export_openapi.py --check  # exit 1 if the checked-in file is stale

The document is built from the application without opening a database.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sakimori.api import create_app
from sakimori.config import Settings

TARGET = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def render() -> str:
    app = create_app(Settings(home=Path("/nonexistent"), database_url="sqlite://"))
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is stale: run python scripts/export_openapi.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
