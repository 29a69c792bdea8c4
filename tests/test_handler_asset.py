"""The handler is a package of small modules (#20), deployed as an asset of at most 20 KB: its
source with docstrings and comments blanked, the same code on the same lines."""

from __future__ import annotations

import ast
import io
import zipfile
from pathlib import Path

import pytest

from constructs_lib.handler_asset import blank_docs, blanked_copy
from constructs_lib.provider import handler_code_path

SOURCE = handler_code_path()
FILES = sorted(p.relative_to(SOURCE) for p in SOURCE.rglob("*.py") if "__pycache__" not in p.parts)


def _without_docstrings(tree: ast.AST) -> str:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                del body[0]
    starts = [(type(n).__name__, n.lineno, n.col_offset) for n in ast.walk(tree) if isinstance(n, ast.stmt | ast.expr)]
    return f"{ast.dump(tree)} {starts}"


@pytest.mark.parametrize("path", FILES, ids=str)
def test_the_asset_runs_the_same_code_on_the_same_lines(path: Path) -> None:
    source = (SOURCE / path).read_text()
    blanked = (blanked_copy(SOURCE) / path).read_text()
    assert blanked == blank_docs(source)
    assert blanked.count("\n") == source.count("\n")
    # The same statements at the same lines and columns; only the docstrings' text differs.
    assert _without_docstrings(ast.parse(blanked)) == _without_docstrings(ast.parse(source))
    assert _comments(blanked) == []


def _comments(source: str) -> list[str]:
    import tokenize

    return [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT]


def test_blanking_keeps_code_after_a_docstring_and_before_a_comment() -> None:
    source = 'def f():\n    """Doc\n    more."""  # why\n    return 1  # one\n\n\nclass E(Exception):\n    """Doc."""\n'
    assert blank_docs(source) == 'def f():\n    ""\n\n    return 1\n\n\nclass E(Exception):\n    ""\n'


def test_the_handler_is_a_package_of_small_files_in_an_asset_of_at_most_20_kb() -> None:
    assert Path("index.py") in FILES and len([p for p in FILES if p.parts[0] == "sagemaker_training_handler"]) >= 6
    for path in FILES:
        assert (SOURCE / path).read_text().count("\n") <= 400, path
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in FILES:
            archive.write(blanked_copy(SOURCE) / path, str(path))
    assert len(buffer.getvalue()) <= 20 * 1024
    assert sorted(p.relative_to(blanked_copy(SOURCE)) for p in blanked_copy(SOURCE).rglob("*.py")) == FILES


def test_the_handler_imports_only_the_standard_library_and_boto3() -> None:
    import sys

    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore", "sagemaker_training_handler"}
    for path in FILES:
        for node in ast.walk(ast.parse((SOURCE / path).read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            assert {n.split(".")[0] for n in names} <= allowed, (path, names)


def test_every_file_of_the_asset_is_readable_by_all_and_every_folder_enterable() -> None:
    copy = blanked_copy(SOURCE)
    assert copy.stat().st_mode & 0o755 == 0o755
    for path in copy.rglob("*"):
        assert path.stat().st_mode & (0o755 if path.is_dir() else 0o644) == (0o755 if path.is_dir() else 0o644), path
