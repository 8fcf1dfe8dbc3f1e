from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.docs.blocks import RanDocument, run_document

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="session")
def ran_document(local_api_url: str, redis_url: str) -> Callable[[str], RanDocument]:
    """Runs a document once per session (by its path from the repository's root) and keeps the
    result, so the guides' own tests and the every-block test share one run. The documents call
    https://api.example.com and api.github.com (here the local API) and redis://localhost (here
    the test redis-server)."""
    replacements = {
        "https://api.example.com": local_api_url,
        "https://api.github.com": local_api_url,
        "redis://localhost": redis_url,
    }
    runs: dict[str, RanDocument] = {}

    def ran(name: str) -> RanDocument:
        if name not in runs:
            runs[name] = run_document(ROOT / name, replacements)
        return runs[name]

    return ran
