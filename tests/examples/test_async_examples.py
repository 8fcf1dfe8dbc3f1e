"""The async examples run offline, as a user runs them, and print what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples" / "async_commands"


def run_example(name: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    return completed.stdout


def test_fetch_api_data() -> None:
    out = run_example("fetch_api_data.py")
    assert "FetchUserData(user_id=1): Ada Lovelace <ada@example.com>" in out
    assert "FetchUserData(user_id=999): ['runtime.user_not_found'] - User 999 not found" in out
    assert "FetchUserData(user_id='not a number'): ['data.user_id.cannot_cast']" in out
    assert "FetchData(closed port): runtime.execution_error (httpx.ConnectError)" in out
    assert "fetch_user_name(user_id=2): Alan Turing" in out
    assert "FetchUserData after the API stopped: ['runtime.network_error']" in out


def test_batch_processing() -> None:
    out = run_example("batch_processing.py")
    assert "FetchMultipleUsersConcurrent: ['Ada Lovelace', 'Alan Turing', 'Grace Hopper']" in out
    assert "ProcessBatch: 20 items processed" in out
    assert "ProcessBatch(max_concurrency=0): ['data.max_concurrency.below_minimum']" in out
    assert "FetchWithRetry (2 failures, 3 tries): {'key': 'batch', 'attempts': 3}" in out
    assert "FetchWithRetry (always failing): ['runtime.fetch_failed']" in out
    assert "FetchWithTimeout(0.2s on a 1s endpoint): ['runtime.request_timeout']" in out


def test_concurrent_commands() -> None:
    out = run_example("concurrent_commands.py")
    assert "AggregateUserData(user_id=1): {'profile'" in out
    for name in ("fetch_user_friends", "fetch_user_posts", "fetch_user_profile"):
        assert f"examples::social::{name}>runtime.user_not_found" in out
    assert "AggregateUserDataLenient(user_id=999): ['runtime.user_not_found']" in out
    assert "Three aggregations at once: [2, 1, 1] friends" in out


@pytest.mark.parametrize("name", ["fetch_api_data.py", "batch_processing.py", "concurrent_commands.py"])
def test_examples_say_they_start_a_local_api(name: str) -> None:
    assert "127.0.0.1" in (EXAMPLES / name).read_text().split('"""')[1]
