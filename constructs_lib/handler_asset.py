"""The handler's Lambda asset: its source with docstrings and comments blanked.

The handler is a package of small, documented modules (``lambda/training_job``); zipped as written
it would be 26 KB, blanked it is under 20 KB. Each docstring becomes ``""`` and each comment goes,
line for line, so the asset runs the same code and a traceback's line numbers are the source's.
The copy is written once per source (its folder is named by the hash of the source and of this
module), so every synth stages the same bytes.
"""

from __future__ import annotations

import ast
import hashlib
import io
import shutil
import tempfile
import tokenize
from functools import cache
from pathlib import Path

_SKIPPED = ("__pycache__",)


def blank_docs(source: str) -> str:
    """``source`` with every docstring ``""`` and every comment removed; line numbers kept."""
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, int, str]] = []  # (start row, col, end row, col, text); rows from 1
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                assert first.end_lineno is not None and first.end_col_offset is not None
                edits.append((first.lineno, first.col_offset, first.end_lineno, first.end_col_offset, '""'))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            edits.append((*token.start, *token.end, ""))
    for start_row, start_col, end_row, end_col, text in sorted(edits, reverse=True):
        head, tail = lines[start_row - 1][:start_col], lines[end_row - 1][end_col:]
        joined = (head + text).rstrip() if tail.strip() == "" else head + text + tail.rstrip("\n")
        lines[start_row - 1 : end_row] = [joined + "\n"] + ["\n"] * (end_row - start_row)
    return "".join(line if line.strip() else "\n" for line in lines)


def _files(source: Path) -> list[Path]:
    return sorted(
        path for path in source.rglob("*.py") if not any(part in _SKIPPED for part in path.relative_to(source).parts)
    )


@cache
def blanked_copy(source: Path) -> Path:
    """A folder holding ``source``'s Python files, blanked (written once per content)."""
    sources = {path.relative_to(source): path.read_bytes() for path in _files(source)}
    digest = hashlib.sha256(Path(__file__).read_bytes())  # a change of the blanking is a new copy
    for relative, content in sources.items():
        digest.update(str(relative).encode() + b"\0" + content + b"\0")
    target = Path(tempfile.gettempdir()) / f"cdk-sagemaker-training-handler-{digest.hexdigest()[:16]}"
    if not (target / "index.py").is_file():
        staging = Path(tempfile.mkdtemp(prefix=target.name + "-", dir=target.parent))
        staging.chmod(0o755)
        for relative, content in sources.items():
            out = staging / relative
            out.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            out.write_text(blank_docs(content.decode("utf-8")), encoding="utf-8")
            # Lambda imports only files all may read, from folders all may enter
            # (https://docs.aws.amazon.com/lambda/latest/dg/python-package.html).
            out.chmod(0o644)
        try:
            staging.rename(target)
        except OSError:  # another process wrote the same copy first
            shutil.rmtree(staging, ignore_errors=True)
    return target
