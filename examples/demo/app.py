"""A notes service: the commands of one organization served over HTTP and MCP by `foobara serve`.

    foobara serve examples/demo/app.py          # then open http://127.0.0.1:8000/help

Demo::Notes keeps notes on SQLite (the file foobara-demo/notes.db in the temporary directory, or
wherever FOOBARA_DATABASE_URL says). Demo::Accounts tells a caller who they are. Callers identify
themselves with a bearer token (`Authorization: Bearer demo-token`); the two demo tokens are in
TOKENS. Deleting a note needs a token, and an editor's one at that.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field

from foobara_py import AsyncCommand, Command, Domain, Entity, Organization, Sensitive, persistence
from foobara_py.connectors import Call, Connector, ConnectorRequest, current_user

demo = Organization("Demo")
notes = Domain("Notes", organization=demo)
accounts = Domain("Accounts", organization=demo)


# --- who is calling ------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    name: str
    editor: bool


# The demo's tokens. A real service checks the token with whoever issued it (a session table, a JWT
# signature, an identity provider); the commands only see `current_user()`.
TOKENS = {"demo-token": User("ann", editor=True), "reader-token": User("bob", editor=False)}


def bearer_token(request: ConnectorRequest) -> User | None:
    """The user whose token the Authorization header carries, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return TOKENS.get(token.strip()) if scheme.lower() == "bearer" else None


def editors_only(call: Call, user: User | None) -> tuple[bool, str]:
    return user is not None and user.editor, "only editors may delete notes"


# --- notes ---------------------------------------------------------------------------------------

Password = Annotated[str, Sensitive(exposed=True)]  # sent by clients, never shown back or logged


@notes.model
class Note(Entity):
    id: int | None = None
    title: str
    body: str = ""
    author: str | None = None
    lock: Annotated[str | None, Sensitive] = None  # the password's salted hash; never in a result


class CreateNoteInputs(BaseModel):
    title: str = Field(max_length=100, description="What the note is about", examples=["hello"])
    body: str = Field("", max_length=10_000)
    password: Password | None = Field(None, description="Locks the note: FindNote then asks for it")


@notes.command
class CreateNote(Command[CreateNoteInputs, Note]):
    """Writes a note; the caller, when they give a token, is its author."""

    possible_errors = ["data.title.blank"]

    def validate(self) -> None:
        if not self.inputs.title.strip():
            self.add_input_error("title", "blank", "A note needs a title")

    def execute(self) -> Note:
        user = current_user()
        password = self.inputs.password
        return Note.create(
            title=self.inputs.title.strip(),
            body=self.inputs.body,
            author=user.name if user else None,
            lock=_hashed(password) if password else None,
        )


class ListNotesInputs(BaseModel):
    search: str = Field("", description="Only notes whose title holds this (any case)")


class NoteSummary(BaseModel):
    id: int
    title: str
    author: str | None
    locked: bool


@notes.command
class ListNotes(AsyncCommand[ListNotesInputs, list[NoteSummary]]):
    """The notes' titles, newest first."""

    depends_on_entities = (Note,)  # it reads notes its types do not hold: its runs are transactions on them

    async def execute(self) -> list[NoteSummary]:  # awaits aiosqlite: the server keeps serving
        search = self.inputs.search.casefold()
        found = [
            NoteSummary(id=note.id or 0, title=note.title, author=note.author, locked=note.lock is not None)
            for note in await Note.aall()
            if search in note.title.casefold()
        ]
        return sorted(found, key=lambda summary: summary.id, reverse=True)


class FindNoteInputs(BaseModel):
    note: Note  # a note's id: a missing one is `data.note.not_found` (HTTP 404)
    password: Password | None = None


def stored_note(note: Note, command: Command[Any, Any] | AsyncCommand[Any, Any]) -> None:
    """An entity input also takes the attributes of a new record; a note to find or delete is a stored one."""
    if not note.is_persisted:
        command.add_input_error("note", "not_found", "Give the id of a stored note")


@notes.command
class FindNote(Command[FindNoteInputs, Note]):
    """One note. A locked note needs its password."""

    possible_errors = ["wrong_password"]

    def validate_records(self) -> None:
        stored_note(self.inputs.note, self)

    def execute(self) -> Note:
        note = self.inputs.note
        if note.lock and not _matches(self.inputs.password, note.lock):
            self.add_runtime_error("wrong_password", f"Note {note.id} is locked: give its password")
        return note


class DeleteNoteInputs(BaseModel):
    note: Note


@notes.command
class DeleteNote(AsyncCommand[DeleteNoteInputs, int]):
    """Deletes a note (editors only); its id."""

    async def validate_records(self) -> None:
        stored_note(self.inputs.note, self)

    async def execute(self) -> int:
        await self.inputs.note.ahard_delete()
        return self.inputs.note.id or 0


def _hashed(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"{salt.hex()}${_digest(password, salt)}"


def _matches(password: str | None, lock: str) -> bool:
    salt, _, digest = lock.partition("$")
    return password is not None and hmac.compare_digest(_digest(password, bytes.fromhex(salt)), digest)


def _digest(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000).hex()


# --- accounts ------------------------------------------------------------------------------------


class Me(BaseModel):
    name: str
    editor: bool


@accounts.command
class WhoAmI(Command[None, Me]):
    """The caller, as their token says."""

    def execute(self) -> Me:
        user = current_user()
        return Me(name=user.name, editor=user.editor)


# --- serving -------------------------------------------------------------------------------------


def database_url() -> str:
    """FOOBARA_DATABASE_URL, or a SQLite file in the temporary directory (kept from one run to the next)."""
    url = os.environ.get("FOOBARA_DATABASE_URL")
    if url:
        return url
    path = Path(tempfile.gettempdir()) / "foobara-demo" / "notes.db"
    path.parent.mkdir(exist_ok=True)
    return f"sqlite:///{path}"


persistence.configure(database_url(), entities=[Note])

connector = Connector()  # what `foobara serve` serves; nothing else is reachable
connector.connect(CreateNote, authenticator=bearer_token, authentication_optional=True)
connector.connect(ListNotes)
connector.connect(FindNote)
connector.connect(DeleteNote, authenticator=bearer_token, requires_auth=True, allow_if=editors_only)
connector.connect(WhoAmI, authenticator=bearer_token, requires_auth=True)
