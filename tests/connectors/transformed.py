"""Connections with transformers and the aggregate serializer, for the tests of every door (HTTP,
the command line, MCP): each door must let a caller send, and show them, what the connection
takes, and answer what it serializes.

`connector` connects them, with tests/persistence/library.py's entity commands (their records
where FOOBARA_DATABASE_URL says, in memory by default): `foobara run tests.connectors.transformed
Publish --text hi` runs one of them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel

from foobara_py import Command, Domain, Organization, Sensitive
from foobara_py.connectors import Connector, ConnectorRequest, header
from tests.persistence import library

desk = Domain("Desk", organization=Organization("DoorTests"))


class PostInputs(BaseModel):
    text: str
    author: str = "anonymous"
    door: str = ""
    draft: bool = False
    tags: list[str] = []


class Post(BaseModel):
    text: str
    author: str
    door: str
    draft: bool
    tags: list[str]
    signature: Annotated[str, Sensitive] = "s3cret"


@desk.command
class Publish(Command[PostInputs, Post]):
    """Publishes a post: its author from a header, the door from the request."""

    def execute(self) -> Post:
        return Post(**dict(self.inputs))


@desk.command
class Preview(Command[PostInputs, Post]):
    """Shows a post without publishing it."""

    def execute(self) -> Post:
        return Post(**dict(self.inputs))


@desk.command
class Measure(Command[PostInputs, Post]):
    """The post, which the connection turns into its length."""

    def execute(self) -> Post:
        return Post(**dict(self.inputs))


def door_of(request: ConnectorRequest) -> str:
    return request.door


connector = Connector()
connector.connect(
    Publish,
    inputs={"reject": ["draft"], "set": {"author": header("X-Author"), "door": door_of}},
    result={"reject": ["draft"]},
)
connector.connect(Preview, inputs={"only": ["text", "tags"]}, result={"only": ["text", "tags"]})
connector.connect(Measure, result=lambda post: len(post.text))
connector.connect(library.FindBook, serializer="aggregate")
connector.connect(library.CountCopies)
connector.connect(library.CreateAuthor)
connector.connect(library.CreateBook)
