"""The package promises: one core dependency, a light import, and the public names in one place."""

from __future__ import annotations

import subprocess
import sys

import foobara_py

OPTIONAL = {"httpx", "starlette", "uvicorn", "sqlalchemy", "psycopg", "redis", "mcp", "rq", "celery", "yaml", "rich"}


def test_importing_the_package_imports_no_optional_extra() -> None:
    code = "import sys, foobara_py; print(sorted({m.split('.')[0] for m in sys.modules}))"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(eval(completed.stdout))
    assert loaded & OPTIONAL == set()


def test_the_public_api_is_importable_from_the_package() -> None:
    for name in foobara_py.__all__:
        assert getattr(foobara_py, name) is not None
    for name in (
        "Command", "AsyncCommand", "Outcome", "FoobaraError", "CommandFailedError", "CouldNotProcessResultError",
        "SubcommandNotRegisteredError", "CannotAccessDomainError", "command", "async_command", "simple_command",
        "async_simple_command", "Organization", "Domain", "Email", "Sensitive", "PossibleError",
    ):  # fmt: skip
        assert name in foobara_py.__all__
