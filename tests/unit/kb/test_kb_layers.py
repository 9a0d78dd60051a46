"""The knowledge base's layering: pure modules stay pure, and kb never reaches up into reports."""

import ast
import subprocess
import sys
from pathlib import Path

KB = Path(__file__).resolve().parents[3] / "kb"
# What kb.domain and kb.search must not load, directly or through another module.
IMPURE = ("flask", "sqlalchemy", "redis", "rq", "flask_socketio", "pjsua2", "jieba")


def test_domain_and_search_load_no_framework_database_or_tokenizer() -> None:
    probe = (
        "import sys, kb.domain, kb.search; "
        f"print(' '.join(sorted(m for m in {IMPURE!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=KB.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == []


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_no_kb_module_imports_reports() -> None:
    # kb sits below reports: reports may use kb, never the other way round
    upward = {
        path.name: sorted(n for n in _imported(path) if n == "reports" or n.startswith("reports."))
        for path in sorted(KB.glob("*.py"))
    }
    assert {name: found for name, found in upward.items() if found} == {}
    assert "articles.py" in upward  # the scan did read the package
