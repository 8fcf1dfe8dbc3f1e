"""Commands the connector tests connect, beside tests/acme.py's Acme::Math."""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

from pydantic import BaseModel

from foobara_py import AsyncCommand, Command, Domain, Organization, Sensitive

org = Organization("ConnectorTests")
tools = Domain("Tools", organization=org)
other = Domain("Other", organization=org)


class Empty(BaseModel):
    pass


class Login(BaseModel):
    username: str
    password: Annotated[str, Sensitive]


class Account(BaseModel):
    username: str
    token: Annotated[str, Sensitive]


@tools.command
class SignIn(Command[Login, Account]):
    """A sensitive input and a sensitive result attribute."""

    def execute(self) -> Account:
        return Account(username=self.inputs.username, token=f"token-of-{self.inputs.password}")


@tools.command
class ThreadName(Command[Empty, str]):
    """The thread the command runs in."""

    def execute(self) -> str:
        return threading.current_thread().name


class Nap(BaseModel):
    seconds: float = 0.0


@tools.command
class AsyncThreadName(AsyncCommand[Nap, str]):
    """Sleeps on the loop, then says which thread it ran in."""

    async def execute(self) -> str:
        await asyncio.sleep(self.inputs.seconds)
        return threading.current_thread().name


@tools.command
class BadResult(Command[Empty, int]):
    """Returns what its result type refuses: a mistake that escapes `run`."""

    def execute(self) -> int:
        result: Any = "not a number, and a secret: hunter2"
        return result  # type: ignore[no-any-return]


@tools.command
class Explode(Command[Empty, int]):
    """Raises in its own code: a `runtime.execution_error`."""

    def execute(self) -> int:
        raise ValueError("it blew up")


class Base(Command[Empty, int]):
    abstract = True


@tools.command
class Concrete(Base):
    def execute(self) -> int:
        return 1


@other.command
class Add(Command[Empty, int]):
    """Shares its short name with Acme::Math::Add."""

    def execute(self) -> int:
        return 0


class Name(BaseModel):
    name: str


@tools.command
class Grüße(Command[Name, str]):  # a name outside ASCII: its MCP tool name escapes it
    """Greets, in German."""

    def execute(self) -> str:
        return f"Grüß Gott, {self.inputs.name}"
