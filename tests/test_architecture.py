"""The house rules of #20: every API member has one part that owns it, and the rooms stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import botocore.session

import constructs_lib
from constructs_lib.parts.build import PART_TYPES

PACKAGE = Path(constructs_lib.__file__).parent


def test_every_member_of_create_training_job_is_owned_by_exactly_one_part() -> None:
    operation = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob")
    assert operation.input_shape is not None
    api = set(operation.input_shape.members)
    owners: dict[str, list[str]] = {}
    for part in PART_TYPES:
        for member in part.cli_members:
            owners.setdefault(member, []).append(part.__name__)
    # The CLI's shorthand forms of these two are read by the CLI reader itself.
    shorthand = {"HyperParameters": ["Algorithm"], "Tags": ["RunSettings"]}
    owners.update({member: owners.get(member, []) + part for member, part in shorthand.items()})
    assert {member: parts for member, parts in owners.items() if len(parts) != 1} == {}
    assert sorted(api - set(owners)) == []  # a new API member: add it to the part of its section
    assert sorted(set(owners) - api) == []


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, source: list[str]) -> int:
    """A function's non-blank lines, its docstring and comment lines left out."""
    docstring = range(0)
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        docstring = range(first.lineno, (first.end_lineno or first.lineno) + 1)
    return sum(
        1
        for number in range(node.lineno, (node.end_lineno or node.lineno) + 1)
        if number not in docstring and source[number - 1].strip() and not source[number - 1].strip().startswith("#")
    )


def _functions() -> dict[str, int]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(source))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found[f"{path.relative_to(PACKAGE)}:{node.lineno}:{node.name}"] = _code_lines(node, source)
    return found


def test_no_module_has_more_than_450_non_blank_lines() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): sum(1 for line in path.read_text().splitlines() if line.strip())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: size for name, size in sizes.items() if size > 450} == {}


def test_no_function_has_more_than_100_lines_of_code_and_the_constructor_at_most_150() -> None:
    functions = _functions()
    (constructor,) = [
        size for name, size in functions.items() if name.startswith("training_job.py:") and "__init__" in name
    ]
    assert constructor <= 150
    assert {name: size for name, size in functions.items() if size > 100} == {}
