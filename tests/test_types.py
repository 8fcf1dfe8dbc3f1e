"""pydantic types as Foobara type declarations (Ruby's strict, compact form), registered types,
possible errors and what manifests leave out."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, SecretStr

from foobara_py import (
    Array,
    Attributes,
    BigDecimal,
    Boolean,
    Command,
    Date,
    DateTime,
    Domain,
    Duck,
    Email,
    Float,
    Integer,
    Model,
    PossibleError,
    Sensitive,
    String,
    Symbol,
    Tuple,
    UnsupportedTypeError,
    describe,
    manifest,
)
from foobara_py.types import node_for, node_for_model


def declare(annotation: Any) -> Any:
    return node_for(annotation).declaration()


def test_builtin_types_have_python_counterparts() -> None:
    assert [declare(t) for t in (Integer, Float, BigDecimal, String, Symbol, Boolean, Date, DateTime, Duck)] == [
        "integer", "float", "big_decimal", "string", "symbol", "boolean", "date", "datetime", "duck",
    ]  # fmt: skip
    assert declare(Email) == "email"
    assert declare(Attributes) == "attributes"
    assert declare(Array[int]) == {"type": "array", "element_type_declaration": "integer"}
    assert declare(Tuple[int, str]) == {"type": "tuple", "element_type_declarations": ["integer", "string"]}
    assert declare(tuple[int, ...]) == {"type": "array", "element_type_declaration": "integer"}
    assert declare(dict[str, int]) == {
        "type": "associative_array",
        "key_type_declaration": "string",
        "value_type_declaration": "integer",
    }
    assert (declare(int), declare(dt.date), declare(Decimal), declare(Any)) == (
        "integer",
        "date",
        "big_decimal",
        "duck",
    )


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Line(BaseModel):
    sku: str
    quantity: int = 1


class Everything(BaseModel):
    """Not part of any declaration: a plain model is declared inline, as Ruby declares attributes."""

    plain: str
    described: int = Field(description="how many")
    optional: str | None = None
    optional_with_default: int | None = 5
    choice: Literal["a", "b"] = "a"
    color: Color = Color.RED
    bounded: int = Field(0, ge=0, le=10)
    short: str = Field("", max_length=3)
    code: str = Field("A", pattern=r"^[A-Z]$")
    secret: Annotated[str, Sensitive] = ""
    token: SecretStr = SecretStr("")
    lines: list[Line] = Field(default_factory=list)
    pair: tuple[int, str] = (0, "")


def test_a_model_is_declared_in_rubys_strict_compact_form() -> None:
    assert node_for_model(Everything).declaration() == {
        "type": "attributes",
        "element_type_declarations": {
            "plain": "string",
            "described": {"type": "integer", "description": "how many"},
            "optional": {"type": "string", "allow_nil": True},
            "optional_with_default": {"type": "integer", "allow_nil": True},
            "choice": {"type": "string", "one_of": ["a", "b"]},
            "color": {"type": "string", "one_of": ["red", "blue"]},
            "bounded": {"type": "integer", "min": 0, "max": 10},
            "short": {"type": "string", "max_length": 3},
            "code": {"type": "string", "matches": "^[A-Z]$"},
            "secret": {"type": "string", "sensitive": True},
            "token": {"type": "string", "sensitive": True},
            "lines": {
                "type": "array",
                "element_type_declaration": {
                    "type": "attributes",
                    "element_type_declarations": {"sku": "string", "quantity": "integer"},
                    "required": ["sku"],
                    "defaults": {"quantity": 1},
                },
            },
            "pair": {"type": "tuple", "element_type_declarations": ["integer", "string"]},
        },
        "required": ["described", "plain"],
        "defaults": {
            "optional_with_default": 5,
            "choice": "a",
            "color": "red",
            "bounded": 0,
            "short": "",
            "code": "A",
            "lines": "[<Lazily Set>]",
            "pair": [0, ""],
        },
    }


def test_sensitive_attributes_are_left_out_of_connector_declarations_unless_exposed() -> None:
    class Login(BaseModel):
        username: str
        password: Annotated[str, Sensitive(exposed=True)]
        api_key: Annotated[str, Sensitive]

    node = node_for_model(Login)
    assert node.declaration(remove_sensitive=True) == {
        "type": "attributes",
        "element_type_declarations": {
            "username": "string",
            "password": {"type": "string", "sensitive": True, "sensitive_exposed": True},
        },
        "required": ["password", "username"],
    }
    assert "api_key" in node.declaration()["element_type_declarations"]


def test_registered_models_and_types_are_declared_by_name() -> None:
    shop = Domain("Catalog", organization="Typed")
    sku = shop.register_type("sku", Annotated[str, Field(pattern=r"^[A-Z]{3}-\d+$")], description="A stock unit")

    @shop.model
    class Product(BaseModel):
        """Something we sell"""

        sku: sku  # type: ignore[valid-type]
        price: Decimal

    class Tag(Model):
        label: str

    class AddProductInputs(BaseModel):
        product: Product
        tags: list[Tag] = []

    @shop.command
    class AddProduct(Command[AddProductInputs, Product]):
        def execute(self) -> Product:
            return self.inputs.product

    entry = describe("Typed::Catalog::AddProduct")
    assert entry["inputs_type"]["element_type_declarations"] == {
        "product": "Typed::Catalog::Product",
        "tags": {"type": "array", "element_type_declaration": "Tag"},
    }
    assert entry["result_type"] == "Typed::Catalog::Product"
    assert entry["result_types_depended_on"] == ["Typed::Catalog::Product"]
    assert "data.product.sku.does_not_match" in entry["possible_errors"]
    assert "data.tags.#.label.missing_required_attribute" in entry["possible_errors"]

    product = describe("Typed::Catalog::Product")
    assert product["declaration_data"]["attributes_declaration"] == {
        "type": "attributes",
        "element_type_declarations": {"sku": "Typed::Catalog::sku", "price": "big_decimal"},
        "required": ["price", "sku"],
    }
    assert product["description"] == "Something we sell"
    assert product["types_depended_on"] == ["Typed::Catalog::sku", "array", "attributes", "big_decimal", "duck",
                                            "model", "symbol"]  # fmt: skip
    custom = describe("Typed::Catalog::sku")
    assert custom["declaration_data"] == {"type": "string", "matches": r"^[A-Z]{3}-\d+$"}
    assert custom["base_type"] == "string" and custom["description"] == "A stock unit"
    assert describe("Typed::Catalog")["types"] == ["Typed::Catalog::Product", "Typed::Catalog::sku"]
    assert "Tag" in manifest()["type"]

    # Registered types validate like any other.
    assert AddProduct.run(product={"sku": "ABC-1", "price": "9.50"}).unwrap() == Product(
        sku="ABC-1", price=Decimal("9.5")
    )
    assert AddProduct.run(product={"sku": "nope", "price": 1}).error_keys == ["data.product.sku.does_not_match"]


def test_possible_errors_cover_inputs_declarations_and_subcommands() -> None:
    class Item(BaseModel):
        sku: str
        quantity: int = Field(ge=1)

    class OrderInputs(BaseModel):
        items: list[Item]
        email: Email | None = None

    orders = Domain("Orders", organization="Typed")

    @orders.command
    class ReserveItems(Command[OrderInputs, None]):
        possible_errors = [
            PossibleError("out_of_stock", message="Out of stock", context={"sku": str}),
            "data.items.blocked",
        ]

        def execute(self) -> None:
            return None

    @orders.command
    class PlaceOrder(Command[OrderInputs, None]):
        depends_on = (ReserveItems,)

        def execute(self) -> None:
            self.run_subcommand(ReserveItems, **self.inputs.model_dump())

    reserve = describe("Typed::Orders::ReserveItems")["possible_errors"]
    assert reserve["data.items.#.quantity.below_minimum"] == {
        "path": ["items", "#", "quantity"],
        "category": "data",
        "symbol": "below_minimum",
        "key": "data.items.#.quantity.below_minimum",
        "error": "number::SupportedValidators::Min::BelowMinimumError",
    }
    assert reserve["runtime.out_of_stock"]["error"] == "Typed::Orders::ReserveItems::OutOfStockError"
    assert reserve["data.items.blocked"]["path"] == ["items"]
    assert "data.email.must_have_an_at_sign" in reserve

    place = describe("Typed::Orders::PlaceOrder")
    assert place["depends_on"] == ["Typed::Orders::ReserveItems"]
    prefixed = place["possible_errors"]["typed::orders::reserve_items>runtime.out_of_stock"]
    assert prefixed["runtime_path"] == ["typed::orders::reserve_items"]
    assert "typed::orders::reserve_items>data.items.#.sku.cannot_cast" in place["possible_errors"]

    error = describe("Typed::Orders::ReserveItems::OutOfStockError", category="error")
    assert error["context_type_declaration"] == {"type": "attributes", "element_type_declarations": {"sku": "string"}}
    assert (error["message"], error["category"], error["base_error"]) == (
        "Out of stock",
        "runtime",
        "Foobara::RuntimeError",
    )
    assert error["parent"] == ["command", "Typed::Orders::ReserveItems"]
    assert describe("Typed::Orders::ReserveItems::BlockedError", category="error")["base_error"] == (
        "Foobara::Value::DataError"
    )


def test_connector_manifests_leave_out_sensitive_inputs() -> None:
    class Credentials(BaseModel):
        username: str
        password: Annotated[str, Sensitive]

    vault = Domain("Vault", organization="Typed")

    @vault.command
    class Login(Command[Credentials, bool]):
        def execute(self) -> bool:
            return True

    shown = describe("Typed::Vault::Login")
    assert shown["inputs_type"]["element_type_declarations"]["password"] == {"type": "string", "sensitive": True}
    hidden = describe("Typed::Vault::Login", Login, remove_sensitive=True)
    assert "password" not in hidden["inputs_type"]["element_type_declarations"]
    assert hidden["inputs_type"]["required"] == ["username"]
    assert not any("password" in key for key in hidden["possible_errors"])


class Opaque:
    pass


def test_unsupported_annotations_fail_when_the_command_is_defined() -> None:
    class Weird(BaseModel):
        model_config = {"arbitrary_types_allowed": True}
        thing: Opaque

    with pytest.raises(UnsupportedTypeError) as raised:

        class UseWeird(Command[Weird, None]):
            def execute(self) -> None:
                return None

    message = str(raised.value)
    assert "UseWeird" in message and "thing" in message and "Opaque" in message


# --------------------------------------------------------------------------------------------
# Models that refer to themselves


class TreeNode(Model):
    name: str = Field(max_length=8)
    children: list[TreeNode] = []


class TreeInputs(BaseModel):
    tree: TreeNode


def test_a_registered_model_may_refer_to_itself() -> None:
    """Regression: a registered model referring to itself was refused ("refers to itself")."""

    class CountNodes(Command[TreeInputs, int]):
        def execute(self) -> int:
            def count(node: TreeNode) -> int:
                return 1 + sum(count(child) for child in node.children)

            return count(self.inputs.tree)

    deep = {"name": "root", "children": [{"name": "kid", "children": [{"name": "grandkid"}]}]}
    assert CountNodes.run(tree=deep).unwrap() == 3
    assert CountNodes.inputs_type() is TreeInputs
    assert declare(TreeInputs) == {
        "type": "attributes",
        "element_type_declarations": {"tree": "TreeNode"},
        "required": ["tree"],
    }
    # Errors deep inside the recursive structure get their full paths.
    too_long = {"name": "root", "children": [{"name": "kid", "children": [{"name": "much too long"}]}]}
    assert CountNodes.run(tree=too_long).error_keys == ["data.tree.children.0.children.0.name.max_length_exceeded"]
    not_a_list = {"name": "root", "children": [{"name": "kid"}, {"name": "kid2", "children": "none"}]}
    assert CountNodes.run(tree=not_a_list).error_keys == ["data.tree.children.1.children.cannot_cast"]
    missing = {"name": "root", "children": [{"children": []}]}
    assert CountNodes.run(tree=missing).error_keys == ["data.tree.children.0.name.missing_required_attribute"]


def test_models_may_refer_to_each_other() -> None:
    class Person(Model):
        name: str
        employer: Company | None = None

    class Company(Model):
        name: str
        staff: list[Person] = []

    Person.model_rebuild()

    class Hire(Command[Person, str]):
        def execute(self) -> str:
            return self.inputs.employer.staff[0].name if self.inputs.employer else ""

    data = {"name": "Ada", "employer": {"name": "Acme", "staff": [{"name": "Bob", "employer": {"name": "X"}}]}}
    assert Hire.run(**data).unwrap() == "Bob"
    bad = {"name": "Ada", "employer": {"name": "Acme", "staff": [{"name": "Bob", "employer": {"name": 3.5j}}]}}
    assert Hire.run(**bad).error_keys == ["data.employer.staff.0.employer.name.cannot_cast"]
    assert describe("Company")["declaration_data"]["attributes_declaration"]["element_type_declarations"] == {
        "name": "string",
        "staff": {"type": "array", "element_type_declaration": "Person"},
    }


def test_an_unregistered_model_that_refers_to_itself_is_refused_clearly() -> None:
    class Chain(BaseModel):
        next: Chain | None = None

    with pytest.raises(UnsupportedTypeError, match=r"Chain refers to itself.*register it"):

        class Walk(Command[Chain, None]):
            def execute(self) -> None:
                return None


def test_threads_using_a_registered_model_first_all_see_it_whole() -> None:
    """A registered model's node is built once; a thread never sees it half built by another."""
    import sys
    import threading
    import types

    from foobara_py import registry

    with registry.isolated():
        wide = types.new_class(
            "Wide", (Model,), exec_body=lambda ns: ns.update(__annotations__={f"f{i}": int for i in range(1000)})
        )
        seen: list[int] = []

        start = threading.Barrier(8)

        def define(n: int) -> None:
            start.wait()
            inputs = types.new_class(
                f"WideInputs{n}", (BaseModel,), exec_body=lambda ns: ns.update(__annotations__={"wide": wide})
            )
            command = types.new_class(
                f"UseWide{n}", (Command[inputs, None],), exec_body=lambda ns: ns.update(execute=lambda self: None)
            )
            node = command.spec.inputs_node
            seen.append(len(node.fields["wide"].node.fields))

        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        try:
            threads = [threading.Thread(target=define, args=(n,)) for n in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            sys.setswitchinterval(interval)
        assert seen == [1000] * 8


SET_DEFAULT_PROGRAM = """
from pydantic import BaseModel
from foobara_py import Command, manifest_json

class Tagging(BaseModel):
    tags: set[str] = {"red", "green", "blue", "cyan", "magenta", "yellow", "black", "white"}

class Tag(Command[Tagging, None]):
    def execute(self) -> None:
        return None

print(manifest_json())
"""


def test_a_set_default_is_declared_the_same_in_every_process() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(__file__).parents[1] / "src")
    outputs = set()
    for seed in ("1", "2", "3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": src}
        done = subprocess.run(
            [sys.executable, "-c", SET_DEFAULT_PROGRAM], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert '"black",\n' in outputs.pop()
    node = node_for_model(type("Tagging", (BaseModel,), {"__annotations__": {"tags": set[str]}, "tags": {"b", "a"}}))
    assert node.declaration()["defaults"] == {"tags": ["a", "b"]}
