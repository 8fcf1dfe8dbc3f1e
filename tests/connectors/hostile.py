"""Commands for the security tests: secrets in inputs and results, failures that might echo them,
and code that raises where a door must not let it through. Importable by the CLI and MCP
subprocesses the tests start (`python -m foobara_py run tests/connectors/hostile.py ...`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr

from foobara_py import Command, Domain, Organization, Sensitive
from foobara_py.connectors import Call, Connector, ConnectorRequest, current_user

# Every secret the tests send or the commands hold: none may reach a client or a log line.
SECRETS = (
    "hunter2-password", "s3cret-pin-9876", "key-0123456789abcdef", "token-of-hunter2", "default-secret-xyz", "55119731"
)  # fmt: skip
PIN = 55119731  # a secret number: sent as a number (JSON) or as text (a flag, `--pin=055119731`)
# Bearer-token-of-ann: the credential an authenticator that raises was reading.
CREDENTIAL = "Bearer-token-of-ann"

org = Organization("SecurityTests")
vault = Domain("Vault", organization=org)


class Credentials(BaseModel):
    username: str
    password: Annotated[str, Sensitive] = Field(max_length=64)
    api_key: SecretStr = Field(default=SecretStr("default-secret-xyz"), max_length=20)
    pin: Annotated[int, Sensitive] = 0


class Session(BaseModel):
    username: str
    token: Annotated[str, Sensitive]


@vault.command
class SignIn(Command[Credentials, Session]):
    """Secrets in, a secret out (left out of what is sent)."""

    def execute(self) -> Session:
        return Session(username=self.inputs.username, token=f"token-of-{self.inputs.password.split('-')[0]}")


@vault.command
class LeakySession(Command[Credentials, Session]):
    """Returns what its result type refuses, holding the secret: a mistake in the command."""

    def execute(self) -> Session:
        result: Any = {"username": ["not", "a", "string"], "token": self.inputs.password}
        return result  # type: ignore[no-any-return]


@vault.command
class Crash(Command[Credentials, str]):
    """Raises in its own code."""

    def execute(self) -> str:
        raise RuntimeError("the vault door is stuck")


@vault.command
class Jammed(Command[Credentials, str]):
    """Raises with the secrets it was given in its message."""

    def execute(self) -> str:
        raise RuntimeError(f"the vault rejected {self.inputs.password} with pin {self.inputs.pin}")


@vault.command
class Receipt(Command[Credentials, str]):
    """Succeeds; a callback of its succeed transition then raises with the secrets (logged)."""

    def execute(self) -> str:
        return "signed in"


@Receipt.after("succeed")
def print_receipt(command: Receipt, transition: Any) -> None:
    raise RuntimeError(f"no paper for {command.inputs.password}, pin {command.inputs.pin}")


@vault.command
class Hidden(Command[Credentials, str]):
    """Registered, never connected."""

    def execute(self) -> str:
        return "hidden"


RUNS: list[str] = []  # the commands that ran in this process, with their user


class Note(BaseModel):
    text: str = ""
    password: Annotated[str, Sensitive] = ""
    pin: Annotated[int, Sensitive] = 0


@vault.command
class WhoAmI(Command[Note, str]):
    """Says who called it; behind an authenticator that raises."""

    def execute(self) -> str:
        RUNS.append(f"WhoAmI as {current_user()}")
        return str(current_user())


@vault.command
class MaybeWhoAmI(Command[Note, str]):
    """Behind an authenticator that raises, with authentication optional."""

    def execute(self) -> str:
        RUNS.append(f"MaybeWhoAmI as {current_user()}")
        return str(current_user())


@vault.command
class Ruled(Command[Note, str]):
    """Behind a rule that raises."""

    def execute(self) -> str:
        RUNS.append("Ruled")
        return "ran"


def raising_authenticator(request: ConnectorRequest) -> Any:
    raise RuntimeError(f"authenticator crashed reading {request.headers.get('authorization')}")


def raising_rule(call: Call, user: Any) -> bool:
    raise RuntimeError(f"rule crashed reading {call.inputs.password} and {call.inputs.pin}")


def connector() -> Connector:
    """What the doors serve: Hidden is registered and never connected."""
    found = Connector(SignIn, LeakySession, Crash, Jammed, Receipt)
    found.connect(WhoAmI, authenticator=raising_authenticator, requires_auth=True)
    found.connect(MaybeWhoAmI, authenticator=raising_authenticator, authentication_optional=True)
    found.connect(Ruled, allow_if=raising_rule)
    return found


CONNECTOR = connector()  # what `foobara run|help|list|mcp tests/connectors/hostile.py` serves
