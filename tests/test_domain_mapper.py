"""Domain mappers: types from generic parameters, casting, lookup by score, registration, and
run_mapped_subcommand in sync and async commands (with its errors)."""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel, Field, ValidationError

from foobara_py import (
    AsyncCommand,
    CannotAccessDomainError,
    Command,
    CouldNotProcessResultError,
    Domain,
    FrameworkUsageError,
    Organization,
    SubcommandNotRegisteredError,
    registry,
)
from foobara_py.domain_mapper import (
    AmbiguousDomainMapperError,
    DomainMapper,
    ForgotToDependOnDomainMapperError,
    NoDomainMapperFoundError,
    all_mappers,
    domain_mapper,
    find_mapper,
    register_mapper,
)

storefront = Organization("Storefront")
crm = Domain("Crm", organization=storefront)
customers = Domain("Customers", organization=storefront, depends_on=[crm])
sync = Domain("CrmSync", organization=storefront, depends_on=[customers])
isolated = Domain("Isolated", organization=storefront)


# --- the CRM's concepts (another system's shapes) -----------------------------------------


class CrmContact(BaseModel):
    full_name: str
    email_address: str
    company: str | None = None


class VipCrmContact(CrmContact):
    tier: str


class CrmCustomerRecord(BaseModel):
    external_id: str
    display_name: str


# --- the app's concepts -------------------------------------------------------------------


class NewCustomer(BaseModel):
    name: str
    email: str
    vip: bool = False


class Customer(BaseModel):
    id: int
    name: str
    email: str
    vip: bool


@customers.command
class CreateCustomer(Command[NewCustomer, Customer]):
    def execute(self) -> Customer:
        if self.inputs.email.endswith("@blocked.example"):
            self.add_runtime_error("blocked", "That address is blocked")
        return Customer(id=7, **self.inputs.model_dump())


@customers.command
class CreateCustomerAsync(AsyncCommand[NewCustomer, Customer]):
    async def execute(self) -> Customer:
        await asyncio.sleep(0)
        return Customer(id=8, **self.inputs.model_dump())


# --- mappers between them -----------------------------------------------------------------


@domain_mapper(customers)
class ContactToNewCustomer(DomainMapper[CrmContact, CreateCustomer]):
    """A CRM contact as the inputs of CreateCustomer (a command as `to` means its inputs)."""

    def map(self) -> NewCustomer:
        return NewCustomer(name=self.from_value.full_name, email=self.from_value.email_address)


@domain_mapper(customers)
class VipContactToNewCustomer(DomainMapper[VipCrmContact, NewCustomer]):
    def map(self) -> NewCustomer:
        contact = self.from_value
        return NewCustomer(name=contact.full_name, email=contact.email_address, vip=True)


@domain_mapper(customers)
class CustomerToCrmRecord(DomainMapper[CreateCustomer, CrmCustomerRecord]):
    """CreateCustomer's result (a command as `from` means its result) as a CRM record."""

    def map(self) -> dict[str, Any]:  # a dict is cast to the to type
        return {"external_id": f"cus_{self.from_value.id}", "display_name": self.from_value.name}


class SyncContactInputs(BaseModel):
    contact: CrmContact


class SyncPayloadInputs(BaseModel):
    payload: dict[str, Any]


@sync.command
class SyncContact(Command[SyncContactInputs, CrmCustomerRecord]):
    depends_on = (CreateCustomer, ContactToNewCustomer, VipContactToNewCustomer, CustomerToCrmRecord)

    def execute(self) -> CrmCustomerRecord:
        return self.run_mapped_subcommand(CreateCustomer, self.inputs.contact, to=CrmCustomerRecord)


@sync.command
class SyncPayload(Command[SyncPayloadInputs, Customer]):
    """A webhook's raw payload: a dict, mapped by the mapper whose from model it fits."""

    depends_on = (CreateCustomer, ContactToNewCustomer, CustomerToCrmRecord)

    def execute(self) -> Customer:
        return self.run_mapped_subcommand(CreateCustomer, self.inputs.payload)


@sync.command
class SyncContactAsync(AsyncCommand[SyncContactInputs, CrmCustomerRecord]):
    depends_on = (CreateCustomerAsync, ContactToNewCustomer, VipContactToNewCustomer, CustomerToCrmRecord)

    async def execute(self) -> CrmCustomerRecord:
        return await self.run_mapped_subcommand(CreateCustomerAsync, self.inputs.contact, to=CrmCustomerRecord)


ADA = {"full_name": "Ada Lovelace", "email_address": "ada@example.com"}


@pytest.fixture(autouse=True)
def _keep_test_mappers_in_their_test() -> Iterator[None]:
    """Mappers a test defines must not change what other tests find: each test registers into a
    copy of the registry holding the module's own mappers and commands."""
    with registry.isolated(inherit=True):
        yield


# --- the mapper itself --------------------------------------------------------------------


def test_types_come_from_the_generic_parameters() -> None:
    assert ContactToNewCustomer.from_type() is CrmContact
    assert ContactToNewCustomer.to_type() is NewCustomer  # CreateCustomer's inputs
    assert CustomerToCrmRecord.from_type() is Customer  # CreateCustomer's result
    assert CustomerToCrmRecord.to_type() is CrmCustomerRecord
    assert ContactToNewCustomer.full_name() == "Storefront::Customers::ContactToNewCustomer"
    assert ContactToNewCustomer.domain() is customers


def test_map_value_takes_an_instance_or_a_dict() -> None:
    from_instance = ContactToNewCustomer.map_value(CrmContact(**ADA))
    from_dict = ContactToNewCustomer.map_value(ADA)
    assert from_instance == from_dict == NewCustomer(name="Ada Lovelace", email="ada@example.com")


def test_map_value_casts_the_result_to_the_to_type() -> None:
    record = CustomerToCrmRecord.map_value({"id": 3, "name": "Ada", "email": "a@x", "vip": False})
    assert record == CrmCustomerRecord(external_id="cus_3", display_name="Ada")


def test_map_value_with_a_value_that_does_not_fit_raises_pydantics_error() -> None:
    with pytest.raises(ValidationError, match="email_address"):
        ContactToNewCustomer.map_value({"full_name": "Ada"})


def test_a_map_whose_result_does_not_fit_is_a_bug_in_the_mapper() -> None:
    class Broken(DomainMapper[CrmContact, NewCustomer]):
        abstract = True

        def map(self) -> NewCustomer:
            return {"name": "no email"}  # type: ignore[return-value]

    with pytest.raises(CouldNotProcessResultError, match=r"Broken\.map\(\) returned .* NewCustomer: email: Field"):
        Broken.map_value(ADA)


def test_generic_bases_are_resolved_by_their_subclasses() -> None:
    ToT = TypeVar("ToT")

    class FromContact(DomainMapper[CrmContact, ToT]):
        """A base: its to type is still open, so it is not registered."""

    class ContactToName(FromContact[str]):
        abstract = True

        def map(self) -> str:
            return self.from_value.full_name

    assert FromContact not in all_mappers()
    assert ContactToName.from_type() is CrmContact and ContactToName.to_type() is str
    assert ContactToName.map_value(ADA) == "Ada Lovelace"
    with pytest.raises(FrameworkUsageError, match="does not say what it maps from and to"):
        FromContact.map_value(ADA)


def test_mapper_definitions_that_cannot_work_fail_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match="the string 'CrmContact'"):

        class ByName(DomainMapper["CrmContact", NewCustomer]):
            pass

    with pytest.raises(TypeError, match="map is async"):

        class Async(DomainMapper[CrmContact, NewCustomer]):
            async def map(self) -> NewCustomer:  # type: ignore[override]
                raise NotImplementedError

    class NoInputs(Command[None, int]):
        def execute(self) -> int:
            return 1

    with pytest.raises(FrameworkUsageError, match="NoInputs, which takes no inputs"):

        class ToNothing(DomainMapper[CrmContact, NoInputs]):
            pass


# --- registration and lookup --------------------------------------------------------------

scoring = Domain("Scoring", organization=storefront)


class Ticket(BaseModel):
    title: str


class UrgentTicket(Ticket):
    deadline: str


class Task(BaseModel):
    summary: str
    urgent: bool = False


class SpecialTask(Task):
    pass


@domain_mapper(scoring)
class TicketToTask(DomainMapper[Ticket, Task]):
    def map(self) -> Task:
        return Task(summary=self.from_value.title)


@domain_mapper(scoring)
class UrgentTicketToTask(DomainMapper[UrgentTicket, Task]):
    def map(self) -> Task:
        return Task(summary=f"{self.from_value.title} by {self.from_value.deadline}", urgent=True)


def test_the_exact_class_beats_a_subclass() -> None:
    urgent = UrgentTicket(title="Fix", deadline="Friday")
    assert find_mapper(from_=urgent, to=Task, domains=[scoring]) is UrgentTicketToTask
    assert find_mapper(from_=Ticket(title="Fix"), to=Task, domains=[scoring]) is TicketToTask


def test_a_subclass_beats_a_value_the_from_type_only_accepts() -> None:
    class LoudTicket(Ticket):
        pass

    # TicketToTask takes it as a subclass; UrgentTicketToTask refuses it (no deadline).
    assert find_mapper(from_=LoudTicket(title="Fix"), to=Task, domains=[scoring]) is TicketToTask


def test_a_dict_picks_the_mapper_whose_from_model_it_fits() -> None:
    assert find_mapper(from_={"title": "Fix"}, to=Task, domains=[scoring]) is TicketToTask
    # Fits both from models equally: which mapper is meant cannot be told.
    with pytest.raises(AmbiguousDomainMapperError, match="2 domain mappers map a dict to Task equally well") as info:
        find_mapper(from_={"title": "Fix", "deadline": "Friday"}, to=Task, domains=[scoring])
    assert isinstance(info.value, NoDomainMapperFoundError)
    assert set(info.value.candidates) == {TicketToTask, UrgentTicketToTask}


def test_lookup_by_type() -> None:
    assert find_mapper(from_=UrgentTicket, to=Task, domains=[scoring]) is UrgentTicketToTask
    assert find_mapper(from_=Ticket, to=Task, domains=[scoring]) is TicketToTask
    # A command stands for its inputs on the to side and its result on the from side.
    assert find_mapper(from_=CrmContact, to=CreateCustomer) is ContactToNewCustomer
    assert find_mapper(from_=CreateCustomer, to=CrmCustomerRecord) is CustomerToCrmRecord


def test_an_exact_to_type_beats_a_subclass_of_it() -> None:
    @domain_mapper(scoring)
    class TicketToSpecialTask(DomainMapper[Ticket, SpecialTask]):
        def map(self) -> SpecialTask:
            return SpecialTask(summary=self.from_value.title)

    ticket = Ticket(title="Fix")
    assert find_mapper(from_=ticket, to=Task, domains=[scoring]) is TicketToTask
    assert find_mapper(from_=ticket, to=SpecialTask, domains=[scoring]) is TicketToSpecialTask


def test_no_mapper_found_names_the_from_and_to_types_and_why() -> None:
    with pytest.raises(NoDomainMapperFoundError) as info:
        find_mapper(from_={"headline": "Fix"}, to=Task, domains=[scoring])
    error = info.value
    assert isinstance(error, LookupError) and isinstance(error, FrameworkUsageError)
    message = str(error)
    assert message.startswith("No domain mapper maps a dict to Task. Mappers to it that did not take it: ")
    assert "Storefront::Scoring::TicketToTask (from Ticket): title: Field required" in message
    assert "Fix" not in message  # values are never shown: they may hold secrets
    assert set(error.refused) == {TicketToTask, UrgentTicketToTask}

    with pytest.raises(NoDomainMapperFoundError, match=r"^No domain mapper maps a Ticket to int$"):
        find_mapper(from_=Ticket(title="Fix"), to=int)
    with pytest.raises(NoDomainMapperFoundError, match=r"maps a Ticket to Task$"):
        find_mapper(from_=Ticket(title="Fix"), to=Task, domains=[crm, None])


def test_domains_narrow_the_search() -> None:
    assert set(all_mappers([scoring])) == {TicketToTask, UrgentTicketToTask}
    assert ContactToNewCustomer in all_mappers([customers])
    assert ContactToNewCustomer not in all_mappers([scoring, None])


def test_redefining_a_mapper_replaces_it() -> None:
    def define(label: str) -> type[DomainMapper[Any, Any]]:
        @domain_mapper(scoring)
        class NoteToTask(DomainMapper[int, Task]):
            def map(self) -> Task:
                return Task(summary=f"{label} {self.from_value}")

        return NoteToTask

    first, second = define("first"), define("second")
    assert first is not second
    names = [m.__qualname__ for m in all_mappers([scoring])]
    assert names.count(second.__qualname__) == 1
    assert find_mapper(from_=5, to=Task, domains=[scoring]) is second
    assert second.map_value(5).summary == "second 5"


def test_a_mapper_is_in_the_global_domain_until_placed() -> None:
    class Global(DomainMapper[float, Task]):
        def map(self) -> Task:
            return Task(summary=str(self.from_value))

    assert Global.full_name() == "Global" and Global in all_mappers([None])
    register_mapper(Global, isolated)  # moves it
    assert Global.full_name() == "Storefront::Isolated::Global"
    assert Global not in all_mappers([None]) and Global in all_mappers([isolated])
    with pytest.raises(TypeError, match="not a DomainMapper subclass"):
        register_mapper(Task, scoring)  # type: ignore[type-var]


# --- depends_on ---------------------------------------------------------------------------


def test_depends_on_holds_commands_and_mappers_apart() -> None:
    assert SyncContact.subcommands() == frozenset({CreateCustomer})
    assert SyncContact.domain_mappers() == frozenset(
        {ContactToNewCustomer, VipContactToNewCustomer, CustomerToCrmRecord}
    )
    with pytest.raises(TypeError, match="neither a command class nor a domain mapper"):

        class Bad(Command[None, int]):
            depends_on = (Task,)  # type: ignore[assignment]

    ToT = TypeVar("ToT")

    class OpenBase(DomainMapper[Ticket, ToT]):
        pass

    with pytest.raises(TypeError, match="a generic mapper base"):

        class AlsoBad(Command[None, int]):
            depends_on = (OpenBase,)


# --- run_mapped_subcommand ----------------------------------------------------------------


def test_maps_the_inputs_and_the_result() -> None:
    outcome = SyncContact.run(contact=ADA)
    assert outcome.unwrap() == CrmCustomerRecord(external_id="cus_7", display_name="Ada Lovelace")


def test_the_best_declared_mapper_is_used() -> None:
    vip = {**ADA, "tier": "gold"}

    class SyncVip(Command[None, Customer]):
        depends_on = (CreateCustomer, ContactToNewCustomer, VipContactToNewCustomer)

        def execute(self) -> Customer:
            return self.run_mapped_subcommand(CreateCustomer, VipCrmContact(**vip))

    assert SyncVip.run().unwrap().vip is True


def test_a_dict_is_mapped_by_the_mapper_it_fits() -> None:
    customer = SyncPayload.run(payload={**ADA, "company": "Analytical Engines"}).unwrap()
    assert customer == Customer(id=7, name="Ada Lovelace", email="ada@example.com", vip=False)


def test_inputs_given_by_name_override_the_mapped_ones() -> None:
    class SyncAsVip(Command[SyncContactInputs, Customer]):
        depends_on = (CreateCustomer, ContactToNewCustomer)

        def execute(self) -> Customer:
            return self.run_mapped_subcommand(CreateCustomer, self.inputs.contact, vip=True)

    assert SyncAsVip.run(contact=ADA).unwrap().vip is True


def test_mapped_inputs_are_passed_by_alias() -> None:
    class Transfer(BaseModel):
        from_account: str = Field(alias="from")
        amount: int

    class MakeTransfer(Command[Transfer, str]):
        def execute(self) -> str:
            return f"{self.inputs.amount} from {self.inputs.from_account}"

    class Payment(BaseModel):
        payer: str
        cents: int

    @domain_mapper(isolated)
    class PaymentToTransfer(DomainMapper[Payment, Transfer]):
        def map(self) -> Transfer:
            return Transfer.model_validate({"from": self.from_value.payer, "amount": self.from_value.cents})

    class Pay(Command[Payment, str]):
        depends_on = (MakeTransfer, PaymentToTransfer)

        def execute(self) -> str:
            return self.run_mapped_subcommand(MakeTransfer, self.inputs)

    assert Pay.run(payer="ada", cents=5).unwrap() == "5 from ada"


def test_only_the_result_is_mapped_when_no_value_is_given() -> None:
    class CreateThenRecord(Command[NewCustomer, CrmCustomerRecord]):
        depends_on = (CreateCustomer, CustomerToCrmRecord)

        def execute(self) -> CrmCustomerRecord:
            return self.run_mapped_subcommand(CreateCustomer, to=CrmCustomerRecord, **self.inputs.model_dump())

    record = CreateThenRecord.run(name="Ada", email="ada@example.com").unwrap()
    assert record.external_id == "cus_7"


def test_a_result_typed_any_is_mapped_by_its_value() -> None:
    class LooseCreate(Command[NewCustomer, Any]):
        def execute(self) -> Any:
            return {"id": 9, "name": self.inputs.name, "email": self.inputs.email, "vip": False}

    class CreateLoosely(Command[None, CrmCustomerRecord]):
        depends_on = (LooseCreate, CustomerToCrmRecord)

        def execute(self) -> CrmCustomerRecord:
            return self.run_mapped_subcommand(LooseCreate, to=CrmCustomerRecord, name="Ada", email="a@x")

    assert CreateLoosely.run().unwrap().external_id == "cus_9"


def test_a_value_that_does_not_fit_fails_the_run_with_the_mappers_data_errors() -> None:
    outcome = SyncPayload.run(payload={"full_name": "Ada", "email_address": 5j})
    assert not outcome.is_success()
    prefix = "storefront::customers::contact_to_new_customer>"
    assert outcome.error_keys == [f"{prefix}data.from.email_address.cannot_cast"]

    outcome = SyncPayload.run(payload={"full_name": "Ada"})
    assert outcome.error_keys == [f"{prefix}data.from.email_address.missing_required_attribute"]
    assert outcome.errors[0].message == "Missing required attribute email_address"


def test_a_from_type_foobara_cannot_describe_still_reports_a_data_error() -> None:
    @dataclass
    class Point:
        x: int

    @domain_mapper(isolated)
    class PointToTask(DomainMapper[Point, Task]):
        def map(self) -> Task:
            return Task(summary=str(self.from_value.x))

    class SummarizeTask(Command[Task, str]):
        def execute(self) -> str:
            return self.inputs.summary

    class MapPoint(Command[None, str]):
        depends_on = (SummarizeTask, PointToTask)

        def execute(self) -> str:
            return self.run_mapped_subcommand(SummarizeTask, {"x": "not a number"})

    assert PointToTask.map_value({"x": 3}) == Task(summary="3")  # a dict for a dataclass
    outcome = MapPoint.run()
    assert outcome.error_keys == ["storefront::isolated::point_to_task>data.from.cannot_cast"]
    assert outcome.errors[0].message.startswith("At from: Cannot cast to Point")


def test_subcommand_errors_keep_their_runtime_path() -> None:
    outcome = SyncContact.run(contact={**ADA, "email_address": "x@blocked.example"})
    assert outcome.error_keys == ["storefront::customers::create_customer>runtime.blocked"]


def test_forgetting_to_depend_on_the_mapper_raises() -> None:
    class Forgetful(Command[SyncContactInputs, Customer]):
        depends_on = (CreateCustomer,)

        def execute(self) -> Customer:
            return self.run_mapped_subcommand(CreateCustomer, self.inputs.contact)

    with pytest.raises(ForgotToDependOnDomainMapperError) as info:
        Forgetful.run(contact=ADA)
    assert isinstance(info.value, FrameworkUsageError)
    assert info.value.mappers == [ContactToNewCustomer]
    assert str(info.value) == (
        "Forgetful needs the domain mapper Storefront::Customers::ContactToNewCustomer but does not declare it: "
        "add it to Forgetful.depends_on"
    )


def test_forgetting_the_result_mapper_raises_before_the_subcommand_runs() -> None:
    ran: list[str] = []

    class Receipt(BaseModel):
        number: int

    class Recorded(Command[NewCustomer, Receipt]):
        def execute(self) -> Receipt:
            ran.append(self.inputs.name)
            return Receipt(number=1)

    @domain_mapper(isolated)
    class ReceiptToTask(DomainMapper[Recorded, Task]):
        def map(self) -> Task:
            return Task(summary=f"receipt {self.from_value.number}")

    class Forgetful(Command[None, Task]):
        depends_on = (Recorded,)

        def execute(self) -> Task:
            return self.run_mapped_subcommand(Recorded, to=Task, name="Ada", email="a@x")

    with pytest.raises(ForgotToDependOnDomainMapperError, match="ReceiptToTask"):
        Forgetful.run()
    assert ran == []


def test_no_mapper_raises() -> None:
    class Unmappable(Command[None, Customer]):
        depends_on = (CreateCustomer, ContactToNewCustomer)

        def execute(self) -> Customer:
            return self.run_mapped_subcommand(CreateCustomer, Ticket(title="Fix"))

    with pytest.raises(NoDomainMapperFoundError, match="maps a Ticket to the inputs of Storefront::Customers::Create"):
        Unmappable.run()


def test_the_subcommand_must_be_declared_too() -> None:
    class Undeclared(Command[None, Customer]):
        depends_on = (ContactToNewCustomer,)

        def execute(self) -> Customer:
            return self.run_mapped_subcommand(CreateCustomer, CrmContact(**ADA))

    with pytest.raises(SubcommandNotRegisteredError):
        Undeclared.run()


def test_nothing_to_map_is_a_usage_error() -> None:
    class Pointless(Command[None, Customer]):
        depends_on = (CreateCustomer,)

        def execute(self) -> Customer:
            return self.run_mapped_subcommand(CreateCustomer, name="Ada", email="a@x")

    with pytest.raises(FrameworkUsageError, match="with nothing to map"):
        Pointless.run()


def test_a_mapper_from_a_domain_the_command_cannot_reach() -> None:
    class Echo(Command[Task, Task]):  # the global domain: any command may run it
        def execute(self) -> Task:
            return self.inputs

    @sync.command
    class Insider(Command[None, Task]):
        depends_on = (Echo, TicketToTask)  # CrmSync does not depend on Scoring

        def execute(self) -> Task:
            return self.run_mapped_subcommand(Echo, Ticket(title="x"))

    with pytest.raises(CannotAccessDomainError) as info:
        Insider.run()
    assert str(info.value) == (
        "Storefront::CrmSync::Insider (domain Storefront::CrmSync) cannot use the domain mapper "
        "Storefront::Scoring::TicketToTask: domain Storefront::CrmSync does not depend on Storefront::Scoring"
    )


def test_an_exception_in_map_fails_the_run_like_any_other() -> None:
    class Lead(BaseModel):
        handle: str

    @domain_mapper(isolated)
    class Fragile(DomainMapper[Lead, NewCustomer]):
        def map(self) -> NewCustomer:
            raise KeyError("no such field")

    class UsesFragile(Command[None, Customer]):
        depends_on = (CreateCustomer, Fragile)

        def execute(self) -> Customer:
            return self.run_mapped_subcommand(CreateCustomer, Lead(handle="x"))

    outcome = UsesFragile.run()
    assert outcome.error_keys == ["runtime.execution_error"]
    assert isinstance(outcome.errors[0].cause, KeyError)


# --- async --------------------------------------------------------------------------------


async def test_async_maps_the_inputs_and_the_result() -> None:
    record = (await SyncContactAsync.run(contact=ADA)).unwrap()
    assert record == CrmCustomerRecord(external_id="cus_8", display_name="Ada Lovelace")


async def test_async_runs_sync_subcommands_and_several_at_once() -> None:
    class SyncMany(AsyncCommand[None, list[CrmCustomerRecord]]):
        depends_on = (CreateCustomer, CreateCustomerAsync, ContactToNewCustomer, CustomerToCrmRecord)

        async def execute(self) -> list[CrmCustomerRecord]:
            contact = CrmContact(**ADA)
            return list(
                await asyncio.gather(
                    self.run_mapped_subcommand(CreateCustomer, contact, to=CrmCustomerRecord),
                    self.run_mapped_subcommand(CreateCustomerAsync, contact, to=CrmCustomerRecord),
                )
            )

    records = (await SyncMany.run()).unwrap()
    assert [r.external_id for r in records] == ["cus_7", "cus_8"]


async def test_async_bad_value_fails_the_run() -> None:
    class AsyncPayload(AsyncCommand[SyncPayloadInputs, Customer]):
        depends_on = (CreateCustomerAsync, ContactToNewCustomer)

        async def execute(self) -> Customer:
            return await self.run_mapped_subcommand(CreateCustomerAsync, self.inputs.payload)

    outcome = await AsyncPayload.run(payload={"email_address": "a@x"})
    assert outcome.error_keys == [
        "storefront::customers::contact_to_new_customer>data.from.full_name.missing_required_attribute"
    ]


async def test_async_forgetting_the_mapper_raises() -> None:
    class Forgetful(AsyncCommand[SyncContactInputs, Customer]):
        depends_on = (CreateCustomerAsync,)

        async def execute(self) -> Customer:
            return await self.run_mapped_subcommand(CreateCustomerAsync, self.inputs.contact)

    with pytest.raises(ForgotToDependOnDomainMapperError):
        await Forgetful.run(contact=ADA)


# --- the guide ----------------------------------------------------------------------------

GUIDE = Path(__file__).parents[1] / "docs" / "domain_mappers.md"


def test_the_guide_runs_as_written() -> None:
    namespace: dict[str, Any] = {"__name__": "domain_mappers_guide"}
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    for code in blocks:
        compiled = compile(code, str(GUIDE), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
        result = eval(compiled, namespace)  # a coroutine when the block awaits
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    assert len(blocks) == 5
    assert namespace["record"].external_id == "cus_1"
    assert namespace["customer"].name == "Ada"
