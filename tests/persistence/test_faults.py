"""Stores that cannot be reached: a failed outcome that names the store, never its password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from foobara_py import persistence, transaction
from tests.persistence.library import Book, CreateBook, FindBook
from tests.servers import free_port


@pytest.fixture
def unreachable(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param
    persistence.reset()


@pytest.mark.parametrize(
    "unreachable",
    [
        f"postgresql://librarian:s3cret-pw@127.0.0.1:{free_port()}/library",
        f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0",
        # libpq takes the password in the query string too, and SQLAlchemy a password with a / or # unescaped
        f"postgresql://127.0.0.1:{free_port()}/library?user=librarian&password=s3cret-pw",
        f"postgresql://librarian:s3cret-pw/#x@127.0.0.1:{free_port()}/library",
    ],
    indirect=True,
    ids=["postgresql", "redis", "postgresql-query", "postgresql-unescaped"],
)
def test_a_store_that_is_down_gives_a_failed_outcome_naming_it(unreachable: str) -> None:
    persistence.configure(unreachable)
    for outcome in (CreateBook.run(title="Lost?"), FindBook.run(book=1)):
        assert outcome.error_keys == ["runtime.store_unavailable"]
        error = outcome.errors[0]
        assert "127.0.0.1" in error.message and "***" in error.message
        assert "s3cret-pw" not in error.message
        assert "s3cret-pw" not in repr(outcome.to_dict())
        assert "Traceback" not in error.message


def test_nothing_committed_is_lost_when_the_store_goes_away_and_comes_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/library.db"
    persistence.configure(url)
    kept = CreateBook.run(title="Kept", copies=1).unwrap().id
    (tmp_path / "moved").mkdir()
    for name in tmp_path.iterdir():
        if name.name.startswith("library.db"):
            name.rename(tmp_path / "moved" / name.name)
    persistence.configure(f"sqlite:///{tmp_path}/missing-dir/library.db")
    assert CreateBook.run(title="Nowhere").error_keys == ["runtime.store_unavailable"]
    persistence.configure(f"sqlite:///{tmp_path}/moved/library.db")
    with transaction():
        assert [b.title for b in Book.all()] == ["Kept"]
    assert FindBook.run(book=kept).unwrap().copies == 1
    persistence.reset()


def test_a_run_that_keeps_conflicting_gives_up_with_transaction_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from foobara_py import Command, lifecycle
    from tests.persistence.library import Counter, CounterInputs

    persistence.configure("memory://")
    with transaction():
        key = Counter.create(value=0).id
    attempts: list[int] = []

    class IncrementAgainstTheOdds(Command[CounterInputs, int]):
        def execute(self) -> int:
            attempts.append(1)
            self.inputs.counter.value += 1

            def meddle() -> None:  # another transaction changes the counter before this one commits
                with transaction():
                    Counter.load(key).value += 100

            thread = threading.Thread(target=meddle)
            thread.start()
            thread.join()
            return self.inputs.counter.value

    monkeypatch.setattr(lifecycle, "CONFLICT_ATTEMPTS", 3)
    outcome = IncrementAgainstTheOdds.run(counter=key)
    assert outcome.error_keys == ["runtime.transaction_conflict"]
    assert outcome.errors[0].context == {"attempts": 3}
    assert len(attempts) == 3
    with transaction():
        assert Counter.load(key).value == 300  # the other transactions' changes, none of this run's
    persistence.reset()
