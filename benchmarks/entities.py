"""What entities cost on top of SQLAlchemy Core, on SQLite and PostgreSQL.

Two measures, each against its baseline run in the same process on the same database (ratios hold on
noisy machines; absolute times drift):

- inserts: N records created, one command run each (`CreateNote.run(...)`, whose `execute` calls
  `Note.create`), against the same inserts issued through SQLAlchemy Core, one transaction each
  (`with engine.begin() as conn: conn.execute(insert, row)`);
- loads: N records loaded through an entity input (`ReadNote.run(note=key)`), against Core selecting
  them by primary key one at a time (`with engine.connect() as conn: conn.execute(select, ...)`).

SQLAlchemy's ORM doing the same (a `Session` per insert or per `session.get`) is printed for scale.
The two sides run in alternating rounds, so that a slow moment of the machine falls on both.

    python benchmarks/entities.py                 # SQLite, and PostgreSQL on a throwaway cluster
    python benchmarks/entities.py --records 2000  # quicker
    python benchmarks/entities.py --postgres postgresql://user@host/db   # a server of your own
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from foobara_py import Command, Domain, Entity, Organization, persistence

bench = Domain("Notes", organization=Organization("Bench"))


@bench.model
class Note(Entity):
    id: int | None = None
    title: str
    copies: int = 0


class CreateNoteInputs(BaseModel):
    title: str
    copies: int = 0


@bench.command
class CreateNote(Command[CreateNoteInputs, Note]):
    def execute(self) -> Note:
        return Note.create(title=self.inputs.title, copies=self.inputs.copies)


class NoteInputs(BaseModel):
    note: Note


@bench.command
class ReadNote(Command[NoteInputs, Note]):
    def execute(self) -> Note:
        return self.inputs.note


class Base(DeclarativeBase):
    pass


class OrmNote(Base):
    __tablename__ = "orm_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    copies: Mapped[int]


def _rounds(sides: dict[str, Callable[[int, int], None]], records: int, rounds: int) -> dict[str, float]:
    """Seconds each side took for `records` operations, run in alternating rounds."""
    totals = dict.fromkeys(sides, 0.0)
    per_round = records // rounds
    for number in range(rounds):
        start = number * per_round
        for name, side in sides.items() if number % 2 == 0 else reversed(sides.items()):
            began = time.perf_counter()
            side(start, start + per_round)
            totals[name] += time.perf_counter() - began
    return totals


def measure(url: str, records: int, rounds: int) -> dict[str, dict[str, float]]:
    store = persistence.configure(url)
    engine: sa.Engine = store._sync_engine()  # type: ignore[attr-defined]  # the store's own engine
    metadata = sa.MetaData()
    core_table = sa.Table(
        "core_note",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("copies", sa.Integer, nullable=False),
    )
    metadata.create_all(engine)
    Base.metadata.create_all(engine)
    insert = core_table.insert()

    def ours_insert(start: int, end: int) -> None:
        for n in range(start, end):
            outcome = CreateNote.run(title=f"note {n}", copies=n)
            if not outcome.is_success():
                raise SystemExit(f"CreateNote failed: {outcome.errors_sentence}")

    def core_insert(start: int, end: int) -> None:
        for n in range(start, end):
            with engine.begin() as conn:
                conn.execute(insert, {"title": f"note {n}", "copies": n})

    def orm_insert(start: int, end: int) -> None:
        for n in range(start, end):
            with Session(engine) as session, session.begin():
                session.add(OrmNote(title=f"note {n}", copies=n))

    inserts = _rounds({"foobara": ours_insert, "core": core_insert, "orm": orm_insert}, records, rounds)

    note_table = sa.Table(persistence.entity.table_of(Note).name, sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        ours_keys = [row[0] for row in conn.execute(sa.select(note_table.c.id).order_by(note_table.c.id))]
    select = sa.select(note_table).where(note_table.c.id == sa.bindparam("key"))

    def ours_load(start: int, end: int) -> None:
        for key in ours_keys[start:end]:
            outcome = ReadNote.run(note=key)
            if not outcome.is_success():
                raise SystemExit(f"ReadNote failed: {outcome.errors_sentence}")

    def core_load(start: int, end: int) -> None:
        for key in ours_keys[start:end]:
            with engine.connect() as conn:
                conn.execute(select, {"key": key}).one()

    def orm_load(start: int, end: int) -> None:
        for key in ours_keys[start:end]:
            with Session(engine) as session:
                assert session.get(OrmNote, key) is not None

    loads = _rounds({"foobara": ours_load, "core": core_load, "orm": orm_load}, len(ours_keys), rounds)
    persistence.reset()
    store.close()
    return {"inserts": inserts, "loads": loads}


def report(name: str, figures: dict[str, dict[str, float]], records: int) -> None:
    goals = {"inserts": 1.2, "loads": 1.4}
    for measure_name, totals in figures.items():
        core = totals["core"]
        print(
            f"{name:<11} {measure_name:<8} foobara {totals['foobara'] / records * 1e6:7.1f}us"
            f"  core {core / records * 1e6:7.1f}us  orm {totals['orm'] / records * 1e6:7.1f}us"
            f"   foobara/core {totals['foobara'] / core:5.2f}x (goal <= {goals[measure_name]}x)"
            f"   orm/core {totals['orm'] / core:5.2f}x"
        )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: start a throwaway cluster)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as directory:
        report("sqlite", measure(f"sqlite:///{directory}/bench.db", args.records, args.rounds), args.records)

    if args.no_postgres:
        return
    if args.postgres:
        report("postgresql", measure(args.postgres, args.records, args.rounds), args.records)
        return
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from tests import servers

    server = servers.start_postgres()
    try:
        url = servers.create_database(server.url, "bench")
        report("postgresql", measure(url, args.records, args.rounds), args.records)
    finally:
        servers.stop(server)


if __name__ == "__main__":
    main(sys.argv[1:])
