"""`foobara manifest MODULE` and `foobara describe MODULE NAME`, run as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import load_fixture

ROOT = Path(__file__).parents[1]


def foobara(*args: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("foobara", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "foobara_py"]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)


@pytest.mark.parametrize("module", ["tests.acme", "tests/acme.py"])
def test_manifest_prints_the_modules_commands(module: str) -> None:
    completed = foobara("manifest", module)
    assert completed.returncode == 0, completed.stderr
    data = json.loads(completed.stdout)
    ruby = load_fixture("ruby_acme", "manifest.json")
    assert sorted(data["command"]) == sorted(ruby["command"])
    assert sorted(data["type"]) == sorted(ruby["type"])


def test_describe_prints_one_entry() -> None:
    completed = foobara("describe", "tests.acme", "Acme::Math::Add")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == load_fixture("ruby_acme", "add_command_manifest.json")


def test_python_dash_m_works_too() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "foobara_py", "describe", "tests.acme", "integer"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert completed.returncode == 0 and json.loads(completed.stdout)["base_type"] == "number"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("describe", "tests.acme", "Acme::Math::Ad"), 2, "did you mean Acme::Math::Add"),
        (("manifest", "no_such_module_here"), 1, "No module named 'no_such_module_here'"),
        (("manifest", "missing.py"), 1, "No such file: missing.py"),
        (("manifest", "json"), 2, "json defines no commands"),
    ],
)
def test_bad_input_gets_a_clear_error_and_no_traceback(args: tuple[str, ...], code: int, message: str) -> None:
    completed = foobara(*args)
    assert completed.returncode == code
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_module_that_fails_to_import_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom at import')\n")
    completed = foobara("manifest", str(broken))
    assert completed.returncode == 1
    assert "RuntimeError: boom at import" in completed.stderr
    assert "Traceback" not in completed.stderr
