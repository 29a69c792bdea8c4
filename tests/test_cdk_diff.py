"""`cdk diff` of a hyperparameter change names the member that changed (the real CDK CLI,
against a template on disk: no AWS account)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e

APP = """
import os, sys
sys.path.insert(0, {root!r})
import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr
from constructs_lib import TrainingImage, TrainingJob

app = cdk.App()
stack = cdk.Stack(app, "Diff", env=cdk.Environment(account="111111111111", region="us-east-1"))
repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo, "1.0"),
            hyperparameters={{"lr": float(os.environ["LR"]), "epochs": 10}})
app.synth()
"""


def _cdk(*args: str, cwd: Path, lr: str) -> str:
    env = {
        **os.environ,
        "LR": lr,
        "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}",
        "CDK_DISABLE_VERSION_CHECK": "true",
    }
    app = f"{sys.executable} app.py"
    done = subprocess.run(["cdk", *args, "-a", app], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr


def test_cdk_diff_of_a_hyperparameter_change_shows_the_member(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP.format(root=str(ROOT)))
    _cdk("synth", "--quiet", "-o", "before", cwd=tmp_path, lr="0.001")
    shown = _cdk("diff", "--template", "before/Diff.template.json", "Diff", cwd=tmp_path, lr="0.0005")
    lines = [line.strip(" └├─│") for line in shown.splitlines()]
    assert "[~] .HyperParameters:" in lines and "[~] .lr:" in lines
    assert "[-] 0.001" in lines and "[+] 0.0005" in lines
    assert ".epochs" not in shown  # only what changed
