"""The Acme::Math domain of tests/fixtures/ruby_acme/acme.rb, written with foobara-py."""

from __future__ import annotations

from pydantic import BaseModel, Field

from foobara_py import Command, Domain, Email, Organization, PossibleError

acme = Organization("Acme")
math = Domain("Math", organization=acme)


class AddInputs(BaseModel):
    a: int = Field(description="first operand")
    b: int = Field(0, description="second operand")


@math.command
class Add(Command[AddInputs, int]):
    """Adds two integers"""

    def execute(self) -> int:
        return self.inputs.a + self.inputs.b


class DivideInputs(BaseModel):
    dividend: int
    divisor: int


@math.command
class Divide(Command[DivideInputs, int]):
    """Integer division"""

    possible_errors = [
        PossibleError(
            "division_by_zero",
            message="Cannot divide by zero",
            context={"dividend": int, "divisor": int},
        )
    ]

    def execute(self) -> int:
        self.check_divisor()
        return self.inputs.dividend // self.inputs.divisor

    def check_divisor(self) -> None:
        if self.inputs.divisor == 0:
            self.add_runtime_error(
                "division_by_zero",
                f"Cannot divide {self.inputs.dividend} by zero",
                context={"dividend": self.inputs.dividend, "divisor": self.inputs.divisor},
            )


class UserAttributes(BaseModel):
    name: str
    email: Email | None = None


class CreateUserInputs(BaseModel):
    user: UserAttributes


class CreateUserResult(BaseModel):
    name: str
    email: Email | None = None
    greeting: str | None = None


@math.command
class CreateUser(Command[CreateUserInputs, CreateUserResult]):
    """Takes a nested user attributes hash"""

    def execute(self) -> CreateUserResult:
        user = self.inputs.user
        return CreateUserResult(name=user.name, email=user.email, greeting=f"Hello, {user.name}")


@math.model
class User(BaseModel):
    name: str
    email: Email | None = None


class RegisterUserInputs(BaseModel):
    user: User


@math.command
class RegisterUser(Command[RegisterUserInputs, User]):
    """Takes a User model input"""

    def execute(self) -> User:
        return self.inputs.user
