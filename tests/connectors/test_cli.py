"""The command-line door (`foobara run|list|help`), run as a user runs it: a subprocess on tests/acme.py
and on a module written for the test, compared with Ruby's sh-cli-connector where its cases apply."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from foobara_py.connectors import Connector, header
from foobara_py.connectors.cli import example_call
from tests.conftest import load_fixture
from tests.connectors import transformed

ROOT = Path(__file__).parents[2]
Completed = subprocess.CompletedProcess[str]

# Acme::Math as Ruby's cli.json connects it (Summarize is its extra command), plus commands for what
# Acme lacks: a sensitive input, auth and rule failures, and a result that breaks its own type.
TOOLS = '''
import math as _math
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr

from foobara_py import Command, Domain, PossibleError, Sensitive
from tests.acme import acme, math


class Label(BaseModel):
    name: str
    upper: bool = False
    tags: list[str] | None = None


class SummarizeInputs(BaseModel):
    values: list[int] = Field(description="numbers to add up")
    round: bool = Field(True, description="round the mean")
    verbose: bool | None = None
    name: str | None = None
    label: Label | None = None


class Summary(BaseModel):
    total: int
    mean: float
    round: bool
    verbose: bool | None
    name: str | None
    label: Label | None


@math.command
class Summarize(Command[SummarizeInputs, Summary]):
    """Sums a list of integers"""

    def execute(self) -> Summary:
        values = self.inputs.values
        mean = sum(values) / len(values)
        return Summary(
            total=sum(values), mean=_math.floor(mean + 0.5) if self.inputs.round else mean,
            round=self.inputs.round, verbose=self.inputs.verbose, name=self.inputs.name, label=self.inputs.label,
        )


vault = Domain("Vault")


class LoginInputs(BaseModel):
    user: str
    password: SecretStr = Field(min_length=8)
    pin: Annotated[int, Sensitive] = 0


@vault.command
class Login(Command[LoginInputs, str]):
    """Logs in"""

    def execute(self) -> str:
        return f"Welcome {self.inputs.user}"


@vault.command
class Open(Command[None, str]):
    possible_errors = [PossibleError("unauthenticated", message="Unauthenticated")]

    def execute(self) -> str:
        self.add_runtime_error("unauthenticated", "Unauthenticated")
        return "open"


@vault.command
class Peek(Command[None, str]):
    possible_errors = [PossibleError("not_allowed", message="Not allowed")]

    def execute(self) -> str:
        self.add_runtime_error("not_allowed", "Not allowed: vault is closed")
        return "peek"


@vault.command
class Broken(Command[None, int]):
    def execute(self) -> int:
        return "not an integer"  # type: ignore[return-value]
'''


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("cli") / "cli_tools.py"
    path.write_text(TOOLS)
    return str(path)


def foobara(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "foobara_py", *args],
        input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60, check=False, env=env,
    )  # fmt: skip


def outputs(completed: Completed) -> tuple[str, str, int]:
    return completed.stdout, completed.stderr, completed.returncode


# --- Ruby's cases ---------------------------------------------------------------------------

RUBY = {case["case"]: case for case in load_fixture("ruby_acme", "cli.json")}
SAME_AS_RUBY = [
    "add_long_flags", "add_short_command_name", "add_explicit_run_action", "add_short_flags",
    "add_short_flags_attached_value", "add_long_flags_equals", "add_flags_reversed_order", "add_default_b",
    "add_negative_value", "add_missing_required", "add_no_inputs", "add_cannot_cast", "add_cannot_cast_both",
    "add_float_value", "add_unknown_flag", "add_stray_argument", "add_positional_values",
    "add_flag_repeated_last_wins", "add_global_flag_after_command", "divide_ok", "divide_by_zero_runtime_error",
    "create_user_nested_flattened_as_json", "create_user_short_flags_as_json", "create_user_prefixed_flag_not_accepted",
    "create_user_bad_email", "create_user_missing_nested_required", "format_json_add", "format_long_json_add",
    "output_format_json_add", "format_json_hash_result", "format_unknown", "stdin_json_via_f", "stdin_json_nested",
    "array_cannot_cast_element", "array_missing", "array_comma_separated", "bool_default_true_set_flag_rejected",
    "bool_default_true_no_prefix_rejected", "bool_with_value_rejected", "nested_prefixed_unique_rejected",
    "nested_missing_required_child", "summarize_json", "stdin_json_summarize",
]  # fmt: skip
# Intended differences (docs/differences.md): an unknown command exits 2, not 6.
EXIT_CODE_DIFFERENCES = {"unknown_command": 2, "unknown_command_full_name": 2, "unknown_command_run_action": 2}
GLOBALS_WITH_VALUE = {"-f", "--format", "--output-format", "--input-format"}


def ours(argv: list[str], module: str) -> list[str]:
    """Ruby's `[GLOBAL_OPTIONS] [run] NAME [INPUTS]` as `run [GLOBAL_OPTIONS] MODULE NAME [INPUTS]`."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in GLOBALS_WITH_VALUE else 1
    rest = argv[i + 1 :] if argv[i : i + 1] == ["run"] else argv[i:]
    return ["run", *argv[:i], module, *rest]


@pytest.mark.parametrize("name", [*SAME_AS_RUBY, *EXIT_CODE_DIFFERENCES])
def test_ruby_cli_cases(name: str, tools: str) -> None:
    base = name.removesuffix("_as_json")
    case = RUBY[base]
    argv = case["argv"] if base == name else ["-f", "json", *case["argv"]]
    completed = foobara(*ours(argv, tools), stdin=case["stdin"])
    stdout, stderr, code = outputs(completed)
    expected_stdout = case["stdout"]
    if base != name:  # Ruby's YAML-like output of a structure, compared as the JSON we print with -f json
        expected_stdout = json.dumps(dict(line.split(": ", 1) for line in expected_stdout.rstrip(",\n").split(",\n")))
        expected_stdout = json.dumps({k: json.loads(v) for k, v in json.loads(expected_stdout).items()})
    if expected_stdout.startswith("{"):
        assert json.loads(stdout) == json.loads(expected_stdout)
    else:
        assert stdout == expected_stdout
    assert (stderr, code) == (case["stderr"], EXIT_CODE_DIFFERENCES.get(name, case["exit_code"]))


# --- inputs ---------------------------------------------------------------------------------


def summarize(tools: str, *inputs: str) -> dict[str, Any]:
    completed = foobara("run", "-f", "json", tools, "Summarize", *inputs)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


def test_nested_attributes_are_flattened_and_prefixed_only_on_a_collision(tools: str) -> None:
    result = summarize(tools, "--values", "1", "--name", "top", "--label-name", "L", "--upper", "--tags", "a", "b")
    assert result["name"] == "top"
    assert result["label"] == {"name": "L", "upper": True, "tags": ["a", "b"]}
    assert summarize(tools, "--values", "1", "--label-name", "L", "-u", "-t", "x")["label"]["tags"] == ["x"]


def test_an_array_takes_the_values_that_follow_and_a_repeated_flag_adds_to_them(tools: str) -> None:
    assert summarize(tools, "--values", "1", "2", "3")["total"] == 6
    assert summarize(tools, "--values=1", "2", "--name", "n")["total"] == 3
    assert summarize(tools, "--values", "1", "--values", "2", "-4")["total"] == -1


def test_booleans_have_flag_and_skip_flag_by_their_default(tools: str) -> None:
    assert summarize(tools, "--values", "1", "2")["round"] is True
    assert summarize(tools, "--values", "1", "2", "--skip-round") == {
        "total": 3, "mean": 1.5, "round": False, "verbose": None, "name": None, "label": None,
    }  # fmt: skip
    assert summarize(tools, "--values", "1", "--verbose")["verbose"] is True
    assert summarize(tools, "--values", "1", "--skip-verbose")["verbose"] is False
    completed = foobara("run", tools, "Summarize", "--values", "1", "--verbose=false")
    assert outputs(completed) == ("", "--verbose takes no value\n", 6)


def test_stdin_takes_a_json_or_yaml_object_and_flags_win(tools: str) -> None:
    completed = foobara("run", "--stdin", tools, "Add", "--b", "5", stdin='{"a": 1, "b": 2}')
    assert outputs(completed) == ("6\n", "", 0)
    completed = foobara("run", "--stdin", "--input-format", "yaml", tools, "CreateUser", stdin="user:\n  name: Ada\n")
    assert json.loads(completed.stdout)["greeting"] == "Hello, Ada"
    assert outputs(foobara("run", "--stdin", tools, "Add", stdin="a: 4\n")) == ("4\n", "", 0)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("--stdin", "--input-format", "json"), "{not json", "stdin is not valid JSON: Expecting property name"),
        (("--stdin",), "[1, 2]", "stdin must hold an object of inputs"),
        (("--stdin",), "a: [1\n", "stdin is not valid YAML"),
        (("--bogus",), None, "Unexpected argument: --bogus"),
    ],
)
def test_bad_global_options_and_stdin_are_parse_errors(
    args: tuple[str, ...], stdin: str | None, message: str, tools: str
) -> None:
    completed = foobara("run", *args, tools, "Add", "--a", "1", stdin=stdin)
    assert completed.returncode == 6
    assert completed.stderr.startswith(message)
    assert completed.stdout == "" and "Traceback" not in completed.stderr


def test_a_global_option_without_a_value_is_a_parse_error() -> None:
    assert outputs(foobara("run", "-f")) == ("", "Missing value for -f\n", 6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Add", "--a"), "Missing value for --a"),
        (("Add", "--a", "--b", "2"), "Missing value for --a"),
        (("Summarize", "--values"), "Missing value for --values"),
        ((), "Missing command to run: foobara run MODULE NAME [INPUTS]"),
    ],
)
def test_a_flag_without_a_value_is_a_parse_error(args: tuple[str, ...], message: str, tools: str) -> None:
    assert outputs(foobara("run", tools, *args)) == ("", message + "\n", 6)


# --- output and exit codes ------------------------------------------------------------------


def test_a_structure_prints_as_indented_json_and_errors_with_a_format_as_error_hashes(tools: str) -> None:
    completed = foobara("run", tools, "CreateUser", "--name", "Ada")
    assert completed.stdout.startswith('{\n  "name": "Ada",')
    completed = foobara("run", "-f", "json", tools, "Divide", "--dividend", "7", "--divisor", "0")
    assert completed.returncode == 1
    [error] = json.loads(completed.stderr)
    assert error["key"] == "runtime.division_by_zero" and error["context"] == {"dividend": 7, "divisor": 0}


@pytest.mark.parametrize(
    ("name", "code", "stderr"),
    [
        ("Open", 3, "Unauthenticated\n"),
        ("Peek", 4, "Not allowed: vault is closed\n"),
        ("Broken", 5, "Unexpected error\n"),
    ],
)
def test_exit_codes_by_error(name: str, code: int, stderr: str, tools: str) -> None:
    completed = foobara("run", tools, name)
    assert completed.returncode == code
    assert completed.stderr.endswith(stderr)
    assert "Traceback" not in completed.stderr


def test_an_unexpected_error_is_one_line_of_log_and_never_a_traceback(tools: str) -> None:
    completed = foobara("run", tools, "Broken")
    assert completed.stderr.count("\n") == 2  # the core's log line, then the sentence
    assert completed.stderr.startswith("foobara: Unexpected error running Vault::Broken")


def test_sensitive_inputs_are_never_echoed(tools: str) -> None:
    for output_format in ((), ("-f", "json")):
        completed = foobara("run", *output_format, tools, "Login", "--user", "ada", "--password", "hunter2")
        assert completed.returncode == 1
        assert "hunter2" not in completed.stderr
        completed = foobara(
            "run", *output_format, tools, "Login", "--user", "ada", "--password", "x" * 9, "--pin", "12x34"
        )
        assert completed.returncode == 1
        assert "pin" in completed.stderr and "12x34" not in completed.stderr
    completed = foobara("help", tools, "Login")
    assert "--password PASSWORD  string, required, sensitive" in completed.stdout


def test_a_module_failing_to_load_is_exit_1(tmp_path: Path) -> None:
    completed = foobara("run", str(tmp_path / "missing.py"), "Add")
    assert outputs(completed) == ("", f"foobara: No such file: {tmp_path / 'missing.py'}\n", 1)


# --- what is connected ----------------------------------------------------------------------


def test_a_module_holding_a_connector_exposes_only_what_it_connects(tmp_path: Path) -> None:
    module = tmp_path / "only_add.py"
    module.write_text(
        "from foobara_py.connectors import Connector\nfrom tests.acme import Add\n\ncli = Connector(Add)\n"
    )
    assert outputs(foobara("list", str(module))) == ("Acme::Math::Add\n", "", 0)
    assert outputs(foobara("run", str(module), "Add", "-a", "2")) == ("2\n", "", 0)
    completed = foobara("run", str(module), "Acme::Math::Divide", "--dividend", "1", "--divisor", "1")
    assert outputs(completed) == ("", "Could not find command registered for Acme::Math::Divide\n", 2)


def test_list_is_rubys_list(tools: str) -> None:
    ruby = RUBY["list"]["stdout"].splitlines()
    assert foobara("list", "tests/acme.py").stdout.splitlines() == [n for n in ruby if n != "Acme::Math::Summarize"]
    verbose = foobara("list", tools, "--verbose").stdout.splitlines()
    assert verbose[0].split() == ["Acme::Math::Add", "Adds", "two", "integers"]


# --- help -----------------------------------------------------------------------------------


def test_help_of_a_command_lists_its_inputs_result_and_errors(tools: str) -> None:
    completed = foobara("help", tools, "Summarize")
    assert completed.returncode == 0
    lines = [line.strip() for line in completed.stdout.splitlines()]
    assert "Sums a list of integers" in lines
    assert any(line.startswith("-v, --values VALUES") and "required. numbers to add up" in line for line in lines)
    assert any(line.startswith("--skip-round") and "default true. round the mean" in line for line in lines)
    assert any(line.startswith("--verbose, --skip-verbose") for line in lines)
    assert ["-l,", "--label-name", "LABEL_NAME", "string"] in [line.split() for line in lines]  # label is optional
    assert "data.values.cannot_cast" in lines
    assert "Result: Summary" in lines
    assert foobara("run", tools, "Add", "--help").stdout == foobara("help", tools, "Acme::Math::Add").stdout
    assert outputs(foobara("help", tools, "Nope")) == ("", "Could not find command registered for Nope\n", 2)


def test_help_of_a_module_lists_its_commands(tools: str) -> None:
    completed = foobara("help", "tests.acme")
    assert "  Acme::Math::Divide        Integer division" in completed.stdout.splitlines()


def in_a_terminal(*args: str, env: dict[str, str]) -> str:
    leader, follower = pty.openpty()
    try:
        subprocess.run(
            [sys.executable, "-m", "foobara_py", *args],
            stdout=follower, stderr=subprocess.PIPE, cwd=ROOT, timeout=60, check=True, env=env,
        )  # fmt: skip
        return os.read(leader, 65536).decode()
    finally:
        os.close(leader)
        os.close(follower)


def terminal_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return {**env, "TERM": "xterm-256color", "COLUMNS": "120", **extra}


def test_help_is_coloured_in_a_terminal_and_plain_in_a_pipe() -> None:
    assert "\x1b[" in in_a_terminal("help", "tests.acme", "Add", env=terminal_env())
    assert "\x1b[" not in foobara("help", "tests.acme", "Add").stdout


@pytest.fixture
def without_extras(tmp_path: Path) -> dict[str, str]:
    """An environment where pyyaml and rich cannot be imported."""
    for name in ("yaml", "rich"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    return terminal_env(PYTHONPATH=path)


def test_yaml_output_with_pyyaml_and_json_without(without_extras: dict[str, str]) -> None:
    args = ("run", "-f", "yaml", "tests.acme", "CreateUser", "--name", "Ada")
    assert foobara(*args).stdout == "name: Ada\nemail: null\ngreeting: Hello, Ada\n"
    assert outputs(foobara("run", "-f", "yaml", "tests.acme", "Add", "--a", "3")) == ("3\n", "", 0)
    plain = foobara(*args, env=without_extras)
    assert plain.returncode == 0 and json.loads(plain.stdout)["greeting"] == "Hello, Ada"


def test_without_the_extras_stdin_takes_json_help_is_plain(without_extras: dict[str, str]) -> None:
    completed = foobara("run", "--stdin", "tests.acme", "Add", stdin='{"a": 2}', env=without_extras)
    assert outputs(completed) == ("2\n", "", 0)
    completed = foobara("run", "--stdin", "tests.acme", "Add", stdin="a: 2\n", env=without_extras)
    assert completed.returncode == 6
    assert completed.stderr.endswith("and reading YAML needs pyyaml: pip install 'foobara-py[cli]'\n")
    output = in_a_terminal("help", "tests.acme", "Add", env=without_extras)
    assert "-a, --a A" in output and "\x1b[" not in output


# --- records and a connection's inputs ------------------------------------------------------

TRANSFORMED = "tests.connectors.transformed"  # connections with transformers, and the library's records


def with_database(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a run keeping records in a SQLite file of the test's own."""
    return {**os.environ, "FOOBARA_DATABASE_URL": f"sqlite:///{tmp_path / 'records.db'}", **extra}


def test_a_record_input_is_one_flag_taking_its_key(tmp_path: Path) -> None:
    env = with_database(tmp_path)
    demo = "examples/demo/app.py"
    created = json.loads(foobara("run", "-f", "json", demo, "CreateNote", "--title", "hello", env=env).stdout)
    found = foobara("run", "-f", "json", demo, "FindNote", "--note", str(created["id"]), env=env)
    assert (json.loads(found.stdout), found.returncode) == (created, 0)
    assert outputs(foobara("run", demo, "FindNote", "-n", "999", env=env)) == (
        "", "Could not find Demo::Notes::Note for 999\n", 2,
    )  # fmt: skip
    completed = foobara("run", demo, "FindNote", "--note", "one", env=env)
    assert completed.returncode == 1 and completed.stderr.startswith('At note: Cannot cast "one"')
    # The record's attributes are not flags of their own.
    assert outputs(foobara("run", demo, "FindNote", "--title", "hello", env=env)) == (
        "", "Unexpected argument: --title\n", 6,
    )  # fmt: skip
    lines = [line.split() for line in foobara("help", demo, "FindNote").stdout.splitlines()]
    assert ["-n,", "--note", "NOTE", "Demo::Notes::Note", "(id:", "integer),", "required"] in lines


def test_a_list_of_records_takes_their_keys_and_an_optional_record_its_key(tmp_path: Path) -> None:
    env = with_database(tmp_path)
    library = "tests/persistence/library.py"
    assert foobara("run", library, "CreateAuthor", "--name", "Le Guin", env=env).returncode == 0
    completed = foobara("run", "-f", "json", library, "CreateBook", "--title", "Tehanu", "--author", "1", env=env)
    assert json.loads(completed.stdout) == {"id": 1, "title": "Tehanu", "copies": 0, "author": 1}
    foobara("run", library, "CreateBook", "--title", "Always Coming Home", "--copies", "3", env=env)
    assert outputs(foobara("run", library, "CountCopies", "--books", "1", "2", "--books", "2", env=env)) == (
        "6\n", "", 0,
    )  # fmt: skip
    completed = foobara("run", library, "CountCopies", "--books", "1", "7", env=env)
    assert completed.returncode == 2 and "Test::Shelf::Book" in completed.stderr
    help_lines = foobara("help", library, "CountCopies").stdout.splitlines()
    assert any(
        line.split()[:3] == ["-b,", "--books", "BOOKS"]
        and "array of Test::Shelf::Book (id: integer), the values that follow, required" in line
        for line in help_lines
    )
    help_lines = foobara("help", library, "CreateBook").stdout.splitlines()
    assert any("--author AUTHOR  Test::Shelf::Author (id: integer), default null" in line for line in help_lines)
    # Through a connection with the aggregate serializer, the records it reaches are written whole.
    completed = foobara("run", "-f", "json", TRANSFORMED, "FindBook", "--book", "1", env=env)
    assert json.loads(completed.stdout)["author"] == {"id": 1, "name": "Le Guin"}


def test_flags_and_help_are_what_the_connection_lets_a_caller_send(tmp_path: Path) -> None:
    env = with_database(tmp_path, FOOBARA_HEADER_X_AUTHOR="ann")
    completed = foobara("run", "-f", "json", TRANSFORMED, "Publish", "--text", "hi", "--tags", "a", "b", env=env)
    assert json.loads(completed.stdout) == {"text": "hi", "author": "ann", "door": "cli", "tags": ["a", "b"]}
    for flag in ["--draft", "--author", "--door"]:  # rejected; set from a header; set by a function
        completed = foobara("run", TRANSFORMED, "Publish", "--text", "hi", flag, "x", env=env)
        assert outputs(completed) == ("", f"Unexpected argument: {flag}\n", 6)
    completed = foobara("run", "--stdin", TRANSFORMED, "Publish", stdin='{"text": "hi", "author": "eve"}', env=env)
    assert outputs(completed) == ("", "Unexpected attributes [:author]. Expected only [:text, :tags]\n", 1)
    completed = foobara("run", TRANSFORMED, "Preview", "--text", "hi", "--door", "x", env=env)
    assert outputs(completed) == ("", "Unexpected argument: --door\n", 6)
    publish = foobara("help", TRANSFORMED, "Publish").stdout
    inputs = publish.split("Inputs:\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[:3] for line in inputs] == [["-t,", "--text", "TEXT"], ["--tags", "TAGS", "array"]]
    assert "Result: Post (text, author, door, tags)" in publish
    assert "data.draft.cannot_cast" not in publish and "data.text.cannot_cast" in publish
    preview = foobara("help", TRANSFORMED, "Preview").stdout
    assert "--author" not in preview and "Result: Post (text, tags)" in preview
    measure = foobara("help", TRANSFORMED, "Measure").stdout
    assert "--draft" in measure and "Result: any JSON value (the connection transforms the result)" in measure


def test_the_serve_banners_call_sends_only_what_the_connection_takes() -> None:
    connector = Connector()
    connector.connect(transformed.Preview, inputs={"reject": ["text"]})  # required, and no one sends it
    assert connector.run("Preview", {}).error_keys == ["data.text.missing_required_attribute"]
    assert example_call(connector) is None  # a curl line that could only fail is not offered
    # A required input set from the request: a curl line does not carry the header, so it is passed by.
    by_header = Connector()
    by_header.connect(transformed.Publish, inputs={"set": {"text": header("X-Text")}})
    by_header.connect(transformed.Measure)
    assert example_call(by_header) == ("DoorTests::Desk::Measure", {"text": "hello"})
