"""One router per resource; every route calls a use case of ``sakimori.services.access``."""
