"""Test setup: fake credentials, Node 22 on PATH for jsii, and no network beyond loopback."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import socket
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"
for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(key, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
)

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    """Any connection to a non-loopback address fails the test: never reach real AWS."""
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise RuntimeError(f"test tried to connect to {host}: only loopback is allowed")
    return _real_connect(self, address)


socket.socket.connect = _loopback_only  # type: ignore[method-assign,assignment]


HANDLER_DIRECTORY = ROOT / "lambda" / "training_job"


def load_handler() -> ModuleType:
    """Imports lambda/training_job/index.py (``lambda`` is a keyword, so by path), its package
    ``sagemaker_training_handler`` from the same folder, as Lambda imports a function's modules
    from the root of its .zip (/var/task, first on the search path:
    https://docs.aws.amazon.com/lambda/latest/dg/python-package.html#python-package-searchpath)."""
    name = "training_job_handler"
    if name in sys.modules:
        return sys.modules[name]
    if str(HANDLER_DIRECTORY) not in sys.path:
        sys.path.insert(0, str(HANDLER_DIRECTORY))
    spec = importlib.util.spec_from_file_location(name, HANDLER_DIRECTORY / "index.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def handler_modules() -> list[ModuleType]:
    """The entry point and every module of its package (each holds its own ``time``)."""
    handler = load_handler()
    return [handler, *(m for n, m in sorted(sys.modules.items()) if n.startswith("sagemaker_training_handler."))]


@pytest.fixture(scope="session")
def handler_module() -> ModuleType:
    return load_handler()


# The handler's configuration, as the provider's function environment sets it.
HANDLER_STACK_ID = "arn:aws:cloudformation:us-east-1:111111111111:stack/Training/5b6f0a10-0000-11ef-9d4c-0a1b2c3d4e5f"
HANDLER_NAME_PREFIX = "training-2327"


@pytest.fixture(autouse=True)
def handler_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACK_ID", HANDLER_STACK_ID)
    monkeypatch.setenv("JOB_NAME_PREFIX", HANDLER_NAME_PREFIX)
