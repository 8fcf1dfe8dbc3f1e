"""Run a Markdown document's ```python blocks, in order, in one fresh namespace per document,
with the conventions that tests/docs/test_code_blocks.py's docstring lists."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foobara_py import all_commands

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+)(?P<info>[^\n`]*)$")
SKIP = re.compile(r"^<!--\s*skip-test:\s*(?P<reason>\S.*?)\s*-->$")


class DocumentError(AssertionError):
    """A document breaks the conventions above."""


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # the first line of code, 1-based, in the document
    language: str
    code: str
    skip_reason: str | None


@dataclass
class RanDocument:
    namespace: dict[str, Any] = field(repr=False)
    printed: str
    blocks_run: int
    checked_claims: int = 0
    skipped: list[Block] = field(default_factory=list)
    replaced_commands: list[str] = field(default_factory=list)  # registered before it ran


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced block of the document, with its language and skip marker."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        language = opening["info"].strip()
        if not language:
            raise DocumentError(f"{path}:{index + 1}: a fenced block without a language (```python, ```sh, ```text...)")
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(opening["fence"]):
            end += 1
        if end == len(lines):
            raise DocumentError(f"{path}:{index + 1}: the block is never closed")
        marker = SKIP.match(lines[index - 1].strip()) if index > 0 else None
        if marker is None and index > 0 and "skip-test" in lines[index - 1]:
            raise DocumentError(f"{path}:{index}: write the marker as <!-- skip-test: the reason -->")
        code = "\n".join(lines[index + 1 : end]) + "\n"
        blocks.append(Block(path, index + 2, language, code, marker["reason"] if marker else None))
        index = end + 1
    return blocks


def python_blocks(path: Path) -> list[Block]:
    blocks = fenced_blocks(path)
    for block in blocks:
        if block.skip_reason is not None and block.language != "python":
            raise DocumentError(f"{path}:{block.line - 1}: only ```python blocks run; no skip-test needed")
    return [b for b in blocks if b.language == "python"]


def _claims(code: str) -> dict[int, str]:
    """Trailing comments by line: {line: text after '#'}."""
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string[1:].strip()
    return comments


def _literal(text: str) -> ast.expr | None:
    """The comment as an expression node, if it is a Python literal (and not `...`)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if value is Ellipsis:
        return None
    return ast.parse(text, mode="eval").body


def compile_block(block: Block, replacements: dict[str, str] | None = None) -> tuple[Any, int]:
    """The block's code object, with its `# literal` claims turned into asserts, and their number."""
    code = block.code
    for old, new in (replacements or {}).items():
        code = code.replace(old, new)
    tree = ast.parse(code, filename=str(block.path))
    comments = _claims(code)
    source_lines = code.splitlines()
    checked = 0
    body: list[ast.stmt] = []
    for statement in tree.body:
        claim = comments.get(statement.end_lineno or 0)
        expected = _literal(claim) if isinstance(statement, ast.Expr) and claim is not None else None
        if expected is None:
            body.append(statement)
            continue
        source = source_lines[statement.lineno - 1].strip()
        check = ast.Assert(
            test=ast.Compare(left=statement.value, ops=[ast.Eq()], comparators=[expected]),
            msg=ast.Constant(f"the document says: {source}"),
        )
        body.append(ast.fix_missing_locations(ast.copy_location(check, statement)))
        checked += 1
    tree.body = body
    ast.increment_lineno(tree, block.line - 1)
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    return compile(tree, str(block.path), "exec", flags=flags, dont_inherit=True), checked


def run_document(path: Path, replacements: dict[str, str] | None = None) -> RanDocument:
    """Run every ```python block of `path` in order, in one new namespace, capturing what it prints,
    and note the commands registered before it that it replaced (by defining the same full name)."""
    namespace: dict[str, Any] = {"__name__": f"doc_{path.stem}"}
    before = {command.full_name(): command for command in all_commands()}
    ran = RanDocument(namespace, "", 0)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        for block in python_blocks(path):
            if block.skip_reason is not None:
                ran.skipped.append(block)
                continue
            compiled, checked = compile_block(block, replacements)
            result = eval(compiled, namespace)  # a coroutine when the block awaits at top level
            if inspect.iscoroutine(result):
                asyncio.run(result)
            ran.blocks_run += 1
            ran.checked_claims += checked
    ran.printed = output.getvalue()
    after = {command.full_name(): command for command in all_commands()}
    ran.replaced_commands = sorted(
        name for name, command in before.items() if after.get(name) is not command and not _defined_in(command, path)
    )
    return ran


def _defined_in(cls: type, path: Path) -> bool:
    """Whether a class comes from (an earlier run of) the document: its methods' code is there."""
    return any(getattr(getattr(v, "__code__", None), "co_filename", None) == str(path) for v in vars(cls).values())
