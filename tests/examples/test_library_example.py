"""The library example runs as a user runs it, on SQLite, and shows what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "library" / "library.py"


def test_the_library_example_keeps_records_and_rolls_back() -> None:
    env = {k: v for k, v in os.environ.items() if k != "FOOBARA_DATABASE_URL"}
    completed = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    out = completed.stdout
    assert "store: sqlite:///" in out
    assert "added: A Wizard of Earthsea by Ursula K. Le Guin - copies: 1" in out
    assert "borrow: {'id': 1, 'title': 'A Wizard of Earthsea', 'copies': 0, 'author': 1}" in out
    assert "borrow again: No copies of A Wizard of Earthsea left ['runtime.no_copies_left']" in out
    assert "copies after the failed borrow (rolled back): 0" in out
    assert "missing book: ['data.book.not_found']" in out
    assert "copies after ten concurrent returns: 10" in out
