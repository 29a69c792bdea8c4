"""The README's complete programs run as written (#21.21): the quickstart and the train-and-serve
app synthesize, with no undefined name; every name the README imports from the library exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import constructs_lib
from constructs_lib import nag

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
PROGRAMS = [b for b in BLOCKS if b.startswith("import aws_cdk as cdk") and "app.synth()" in b]


def test_the_readme_has_its_complete_programs() -> None:
    assert len(PROGRAMS) >= 2
    assert any("sagemaker.CfnEndpoint(" in p for p in PROGRAMS)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.splitlines()[-2][:40])
def test_a_complete_program_synthesizes(program: str, tmp_path: Path) -> None:
    assert "app = cdk.App()" in program
    program = program.replace("app = cdk.App()", f"app = cdk.App(outdir={str(tmp_path)!r})")
    namespace: dict[str, Any] = {}
    exec(compile(program, "README.md", "exec"), namespace)  # the README's own code
    templates = sorted(p.name for p in tmp_path.glob("*.template.json"))
    assert templates, "nothing synthesized"
    text = "".join((tmp_path / t).read_text() for t in templates)
    assert "Custom::SageMakerTrainingJob" in text


def test_every_library_name_the_readme_imports_exists() -> None:
    for block in BLOCKS:
        for module, names in re.findall(r"from (constructs_lib(?:\.\w+)?) import ([^\n(]+)", block):
            target = nag if module == "constructs_lib.nag" else constructs_lib
            for name in (n.strip() for n in names.split(",")):
                assert hasattr(target, name), f"{module}.{name}"


def test_the_documented_debugger_switches_are_accepted_by_from_directory(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('hi')\n")
    code = constructs_lib.SourceCode.from_directory(
        tmp_path, "train.py", debugger_hook_config=False, disable_profiler=True
    )
    assert (code.debugger_hook_config, code.disable_profiler) == (False, True)
    default = constructs_lib.SourceCode.from_directory(tmp_path, "train.py")
    assert (default.debugger_hook_config, default.disable_profiler) == (True, False)
