"""Every ```python block of README.md and docs/*.md runs as written, in order, one fresh namespace
per document (so a block uses what the document's earlier blocks defined), and the values the
documents state are checked. The conventions, for whoever writes a document:

- Every fenced block names its language (```python, ```sh, ```json, ```text); only ```python runs,
  and no Python can hide in an untagged fence.
- A ```python block that is deliberately not runnable (a fragment, a signature) has the HTML
  comment `<!-- skip-test: the reason -->` on the line right before its fence; the reason is
  required. Write a fragment out in full instead whenever it can be.
- A block may `await` at top level (it then runs in `asyncio.run`).
- A bare expression followed by a comment that is a Python literal states its value, and is
  checked: `Add.run(a=1).unwrap()  # 1` runs as `assert Add.run(a=1).unwrap() == 1`. A comment that
  is not a literal is prose and is not checked, so write any other claim as an `assert`.
- https://api.example.com and https://api.github.com are served by a local API, and
  redis://localhost by a test redis-server (tests/docs/conftest.py swaps the text before running).
- The documents run in the tests' process: a document defines no command, mapper, domain or
  organization under a full name that another document or a test module uses. Redefining one
  replaces it in the registry, under the feet of whoever looks it up by name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from foobara_py import AsyncCommand, Command, Domain, DomainMapper, Organization
from tests.docs.blocks import DocumentError, RanDocument, python_blocks, run_document

ROOT = Path(__file__).parents[2]
DOCUMENTS = ["README.md", *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "docs").glob("*.md")))]


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_python_block_runs(ran_document: Callable[[str], RanDocument], name: str) -> None:
    blocks = python_blocks(ROOT / name)
    ran = ran_document(name)
    assert ran.blocks_run == len(blocks) - len(ran.skipped)
    assert ran.replaced_commands == []  # commands of the tests or of another document


def test_few_blocks_are_skipped(ran_document: Callable[[str], RanDocument]) -> None:
    skipped = [f"{b.path.name}:{b.line}: {b.skip_reason}" for name in DOCUMENTS for b in ran_document(name).skipped]
    assert len(skipped) <= 3, skipped


def test_the_documents_state_checked_values(ran_document: Callable[[str], RanDocument]) -> None:
    assert ran_document("README.md").checked_claims >= 3
    assert ran_document("docs/commands.md").checked_claims >= 5


def full_names(ran: RanDocument) -> set[str]:
    """The full names of the commands, mappers, domains and organizations a document defines."""
    names = set()
    for value in ran.namespace.values():
        defined_here = getattr(value, "__module__", None) == ran.namespace["__name__"]
        if isinstance(value, type) and defined_here and issubclass(value, (Command, AsyncCommand, DomainMapper)):
            names.add(value.full_name())
        elif isinstance(value, (Domain, Organization)):
            names.add(value.full_name)
    return names


def test_no_two_documents_define_the_same_name(ran_document: Callable[[str], RanDocument]) -> None:
    seen: dict[str, str] = {}
    clashes = []
    for name in DOCUMENTS:
        for full_name in full_names(ran_document(name)):
            if full_name in seen and full_name != "global_organization::global_domain":
                clashes.append(f"{full_name}: {seen[full_name]} and {name}")
            seen.setdefault(full_name, name)
    assert clashes == []


# --- the harness itself ---------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text)
    return path


def test_a_wrong_stated_value_fails(tmp_path: Path) -> None:
    doc = write(tmp_path, "```python\nx = 2\nx + 1  # 3\n```\n\n```python\nx * 2  # 5\n```\n")
    with pytest.raises(AssertionError, match=r"the document says: x \* 2  # 5"):
        run_document(doc)


def test_prose_comments_are_not_claims(tmp_path: Path) -> None:
    doc = write(tmp_path, "```python\nx = 2\nx + 1  # 3\nx  # the answer, more or less\n```\n")
    assert run_document(doc).checked_claims == 1


def test_a_failing_block_names_its_line_in_the_document(tmp_path: Path) -> None:
    doc = write(tmp_path, "Text\n\n```python\nx = 1\nraise ValueError(x)\n```\n")
    with pytest.raises(ValueError, match="1") as raised:
        run_document(doc)
    assert raised.traceback[-1].lineno + 1 == 5 and raised.traceback[-1].path == doc


def test_blocks_share_a_namespace_and_may_await(tmp_path: Path) -> None:
    doc = write(tmp_path, "```python\nimport asyncio\n```\n\n```python\nawait asyncio.sleep(0)\nx = 1\n```\n")
    assert run_document(doc).namespace["x"] == 1


def test_a_skipped_block_needs_a_reason_and_does_not_run(tmp_path: Path) -> None:
    doc = write(tmp_path, "<!-- skip-test: a signature -->\n```python\nraise SystemExit\n```\n")
    assert [b.skip_reason for b in run_document(doc).skipped] == ["a signature"]
    doc = write(tmp_path, "<!-- skip-test -->\n```python\nraise SystemExit\n```\n")
    with pytest.raises(DocumentError, match="the reason"):
        run_document(doc)


def test_a_block_without_a_language_is_refused(tmp_path: Path) -> None:
    doc = write(tmp_path, "```\nprint('hidden')\n```\n")
    with pytest.raises(DocumentError, match="without a language"):
        run_document(doc)


def test_a_document_replacing_a_command_registered_elsewhere_is_noted(tmp_path: Path) -> None:
    class HarnessProbe(Command[None, int]):
        def execute(self) -> int:
            return 1

    code = "class HarnessProbe(Command[None, int]):\n    def execute(self) -> int:\n        return 2\n"
    doc = write(tmp_path, f"```python\nfrom foobara_py import Command\n\n{code}```\n")
    assert run_document(doc).replaced_commands == ["HarnessProbe"]
    assert run_document(doc).replaced_commands == []  # the document's own, from its first run
