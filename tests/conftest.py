from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(*parts: str) -> Any:
    return json.loads(FIXTURES.joinpath(*parts).read_text())


@pytest.fixture
def ruby_fixture() -> Any:
    return lambda name: load_fixture("ruby_acme", name)
