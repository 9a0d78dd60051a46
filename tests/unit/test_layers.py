"""The import contracts hold, and they are not decoration: each kind of violation fails them.

A copy of the source tree gets one planted import of each kind the contracts forbid (a pure
module reaching the database, a use case speaking HTTP or queueing, a lower layer importing
the one above it...). `lint-imports` must then fail and name every planted import.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kernel", "infra", "hotline", "dispatch", "callcenter", "kb", "reports", "agents_ui")
LINT = Path(sys.executable).with_name("lint-imports")

# (module file, planted line, what the report must name)
PLANTS = [
    # a pure module reaching the ORM through another module of the project
    (
        "dispatch/tickets/domain.py",
        "import dispatch.tickets.models",
        "domain -> dispatch.tickets.models",
    ),
    ("kb/domain.py", "import flask_socketio", "kb.domain -> flask_socketio"),
    ("kb/domain.py", "import jieba", "kb.domain -> jieba"),
    ("callcenter/records/sync.py", "import redis", "callcenter.records.sync -> redis"),
    ("callcenter/records/sync.py", "import flask", "callcenter.records.sync -> flask"),
    ("dispatch/tickets/actions.py", "import rq", "dispatch.tickets.actions -> rq"),
    ("callcenter/acd/engine.py", "import flask", "callcenter.acd.engine -> flask"),
    # upward: the shared kernel importing a package, a package importing the composition root
    ("kernel/roles.py", "import infra.db", "kernel.roles -> infra.db"),
    ("dispatch/tickets/actions.py", "import hotline.bootstrap", "actions -> hotline.bootstrap"),
    # inside dispatch: the ticket core importing a channel
    ("dispatch/tickets/actions.py", "import dispatch.open311.spec", "actions -> dispatch.open311"),
    # siblings that must stay independent
    ("kb/index.py", "import callcenter.acd.engine", "kb.index -> callcenter.acd.engine"),
    (
        "dispatch/followup/queues.py",
        "import dispatch.supervision.stats",
        "queues -> dispatch.supervision.stats",
    ),
]


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT)], cwd=tree, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    copy.mkdir()
    for name in PACKAGES:
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_tree_as_it_is_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken" in result.stdout


def test_every_planted_violation_breaks_a_contract(tree: Path) -> None:
    for path, line, _ in PLANTS:
        with (tree / path).open("a", encoding="utf-8") as f:
            f.write(f"\n{line}  # planted by the test\n")
    result = _lint(tree)
    assert result.returncode != 0
    report = " ".join(result.stdout.split())  # the report wraps long lines
    missing = [named for _, _, named in PLANTS if named not in report]
    assert not missing, f"not reported: {missing}\n{result.stdout}"


LONGEST_FILE = 800  # lines
LONGEST_FUNCTION = 120  # lines, decorators and docstring included


def test_no_file_or_function_is_too_long_to_read() -> None:
    """Outside migrations and benches: a module fits in one sitting, a function on a screen or
    two (the layout issue split the ones that did not)."""
    import ast

    long: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in ("migrations", "bench", "build") or rel.parts[0].startswith("."):
            continue
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > LONGEST_FILE:
            long.append(f"{rel}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                size = (node.end_lineno or node.lineno) - first + 1
                if size > LONGEST_FUNCTION:
                    long.append(f"{rel}:{node.lineno} {node.name}: {size} lines")
    assert not long, "\n".join(long)
