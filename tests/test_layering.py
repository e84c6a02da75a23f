"""Keep the layers honest: stack/ is sans-IO and imports nothing from harness/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STACK = Path(__file__).resolve().parent.parent / "stack"
FORBIDDEN_MODULES = {"harness", "socket", "threading", "asyncio", "selectors", "subprocess"}


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("path", sorted(STACK.rglob("*.py")), ids=lambda p: str(p.relative_to(STACK)))
def test_stack_module_is_sans_io(path):
    bad = [f"{path.name}:{line} imports {name}" for line, name in imports(path)
           if name.split(".")[0] in FORBIDDEN_MODULES]
    assert not bad, bad
    assert "time.sleep" not in path.read_text(encoding="utf-8")


def test_the_check_sees_a_violation(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("from harness.bench import Bench\nimport socket\n")
    assert [name for _, name in imports(sample)] == ["harness.bench", "socket"]
