"""``python -m constructs_lib.local``, its pieces without a deployment: the guard first, a missing
CDK CLI or moto named in one line with exit 2, the help, and the in-process Lambda runner."""

from __future__ import annotations

import io
import os
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from constructs_lib import local, local_emulator
from constructs_lib.local import CdkNotFound, LocalAws, find_cdk, main, run_python_function


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Fake credentials only, an empty PATH, and an empty working directory."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def _fake_cdk(folder: Path) -> Path:
    cdk = folder / "node_modules" / ".bin" / "cdk"
    cdk.parent.mkdir(parents=True)
    cdk.write_text("#!/bin/sh\nexit 0\n")
    cdk.chmod(0o755)
    return cdk


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("AWS_PROFILE", "prod", "AWS_PROFILE is set"),
        ("AWS_ACCESS_KEY_ID", "AKIAABCDEFGHIJKLMNOP", "AWS_ACCESS_KEY_ID looks like a real access key"),
        ("AWS_ENDPOINT_URL", "https://sagemaker.us-east-1.amazonaws.com", "is not on loopback"),
        ("AWS_ENDPOINT_URL_S3", "http://10.0.0.5:9000", "AWS_ENDPOINT_URL_S3=http://10.0.0.5:9000 is not on loopback"),
    ],
)
def test_the_guard_refuses_before_anything_else(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(variable, value)

    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("ran past the guard")

    monkeypatch.setattr(local, "find_cdk", must_not_run)
    monkeypatch.setattr(local, "missing_moto", must_not_run)
    monkeypatch.setattr(local, "serve", must_not_run)
    for argv in (["deploy", "--app", "python app.py"], ["serve", "4566"]):
        code, out, err = _run(argv)
        assert (code, out) == (3, "")
        assert err.startswith("error: refusing to run against anything but a local emulator: ")
        assert reason in err and err.count("\n") == 1


def test_a_missing_cdk_cli_is_one_line_naming_how_to_install_it(clean_env: Path) -> None:
    code, out, err = _run(["deploy", "--app", "python app.py"])
    assert (code, out) == (2, "")
    assert err == (
        "error: no CDK CLI in ./node_modules/.bin or on PATH; "
        "install it with `npm install aws-cdk` (or pass --cdk PATH)\n"
    )
    code, _, err = _run(["deploy", "--app", "python app.py", "--cdk", "/nowhere/cdk"])
    assert code == 2
    assert err == (
        "error: the CDK CLI /nowhere/cdk was not found or is not executable; "
        "install it with `npm install aws-cdk` (or pass --cdk PATH)\n"
    )
    with pytest.raises(CdkNotFound, match="npm install aws-cdk"):
        LocalAws(cwd=clean_env)  # before any emulator starts


def test_the_cdk_cli_is_looked_for_in_node_modules_then_on_path(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = _fake_cdk(clean_env.parent / "global")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_cdk() == str(on_path)
    project = _fake_cdk(clean_env)
    assert find_cdk() == str(project)
    assert find_cdk(cwd=clean_env.parent / "global") == str(on_path.parent / "cdk")
    assert find_cdk(str(on_path)) == str(on_path)


def test_no_app_is_exit_2(clean_env: Path) -> None:
    _fake_cdk(clean_env)
    code, out, err = _run(["deploy"])
    assert (code, out) == (2, "")
    assert err == f"error: no --app given and no cdk.json in {clean_env}\n"


def test_a_missing_moto_names_the_local_extra(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "moto", None)  # import moto fails
    message = "error: moto is not installed; install the local extra: pip install 'cdk-sagemaker-training[local]'\n"
    for argv in (["deploy", "--app", "python app.py"], ["serve", "4566"]):
        assert _run(argv) == (2, "", message)


def test_help_lists_the_subcommands_options_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "{deploy,serve}" in text and "deploy  " in text and "serve  " in text
    assert "exit codes:\n  0  deployed" in text and "  3  real-looking AWS credentials" in text
    with pytest.raises(SystemExit):
        main(["deploy", "--help"])
    text = capsys.readouterr().out
    for option in ("--app APP", "--cdk CDK", "--keep", "-c KEY=VALUE, --context KEY=VALUE", "--timeout", "STACK"):
        assert option in text


def test_bad_arguments_are_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["deploy", "-c", "no-equals"], ["serve", "port"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 2
    assert local_emulator.main(["serve"]) == 2


# ----- the in-process Lambda runner --------------------------------------------------------------


def _function(version: int, fail: bool = False) -> SimpleNamespace:
    """A function whose ``index.py`` imports a sibling package, as the training job handler does."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr(
            "index.py",
            "import os\nfrom zipped_helpers.values import VALUE\n\n"
            "def handler(event, context):\n"
            f"    {'raise RuntimeError(VALUE)' if fail else 'pass'}\n"
            "    print('handled', event['n'])\n"
            "    return {'value': VALUE, 'n': event['n'], 'setting': os.environ['SETTING'],\n"
            "            'endpoint': os.environ['AWS_ENDPOINT_URL'], 'name': context.function_name}\n",
        )
        archive.writestr("zipped_helpers/__init__.py", "")
        archive.writestr("zipped_helpers/values.py", f"VALUE = {version}\n")
    return SimpleNamespace(
        handler="index.handler",
        code_bytes=code.getvalue(),
        function_name=f"fn{version}",
        timeout=3,
        environment_vars={"SETTING": f"s{version}"},
        region="us-east-1",
    )


def _loaded_from_temporary_folders() -> list[str]:
    return [name for name, module in sys.modules.items() if "zipped_helpers" in str(getattr(module, "__file__", ""))]


def test_a_handler_imports_its_sibling_package_and_leaves_no_module_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SETTING", raising=False)
    path, environ = list(sys.path), dict(os.environ)
    for version in (1, 2):  # two versions of one package: the second must not get the first's module
        result, errored, logs = run_python_function(_function(version), '{"n": 7}', "http://localhost:5999")
        assert (errored, logs) == (False, "handled 7\n")
        assert result == (
            f'{{"value": {version}, "n": 7, "setting": "s{version}", '
            f'"endpoint": "http://localhost:5999", "name": "fn{version}"}}'
        )
        assert "zipped_helpers" not in sys.modules and "zipped_helpers.values" not in sys.modules
        assert f"lambda_fn{version}" not in sys.modules
        assert _loaded_from_temporary_folders() == []
        assert sys.path == path and dict(os.environ) == environ


def test_a_failing_handler_reports_the_error_and_is_cleaned_up_too() -> None:
    path = list(sys.path)
    result, errored, logs = run_python_function(_function(3, fail=True), {"n": 1}, "http://localhost:5999")
    assert errored is True
    assert "RuntimeError: 3" in result and "RuntimeError: 3" in logs
    assert "zipped_helpers" not in sys.modules and sys.path == path
