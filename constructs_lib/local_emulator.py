"""The local AWS of ``python -m constructs_lib.local``: moto's server on loopback, with Python Lambda
functions run in-process (moto runs them in Docker), and the guard that keeps all of it away from
real AWS.

Standard library only at import time (moto is imported when the server starts), so that the
emulator runs as a script of its own, without the CDK libraries the package imports:
``python -P .../local_emulator.py serve PORT``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import ipaddress
import json
import os
import re
import socket
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
MOTO_MISSING = "moto is not installed; install the local extra: pip install 'cdk-sagemaker-training[local]'"
_RUN_LOCK = threading.Lock()  # handlers share os.environ, sys.path and sys.modules while they run


# ----- the guard -------------------------------------------------------------------------------


def refuse_unless_local(environ: Mapping[str, str]) -> None:
    """Raises ``SystemExit`` naming every problem when an AWS endpoint is not on loopback or
    real-looking credentials (an AKIA/ASIA key id, a session token, a profile, web identity or
    container credentials) are present: nothing of the local deployment may ever reach real AWS."""
    problems = []
    for key, value in environ.items():
        if key == "AWS_ENDPOINT_URL" or key.startswith("AWS_ENDPOINT_URL_"):
            host = urlparse(value).hostname or ""
            try:
                loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                problems.append(f"{key}={value} is not on loopback")
    key_id = environ.get("AWS_ACCESS_KEY_ID", "")
    if re.fullmatch(r"(AKIA|ASIA)[A-Z0-9]{16}", key_id):
        problems.append("AWS_ACCESS_KEY_ID looks like a real access key")
    for name in (
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        if environ.get(name):
            problems.append(f"{name} is set")
    if problems:
        raise SystemExit("refusing to run against anything but a local emulator: " + "; ".join(problems))


def local_environment(port: int) -> dict[str, str]:
    """The environment for the CDK CLI and clients: this process's, every ``AWS_*`` variable
    replaced by fake credentials, the emulator's endpoint on ``port`` and no AWS config files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        # moto resolves CloudFormation template URLs only for localhost
        AWS_ENDPOINT_URL=f"http://localhost:{port}",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        CDK_DISABLE_VERSION_CHECK="true",
    )
    refuse_unless_local(env)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def missing_moto() -> str | None:
    """None when moto's server can be imported; otherwise the message saying how to install it."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        return MOTO_MISSING
    return None


# ----- the in-process Lambda runner --------------------------------------------------------------


class _Context:
    def __init__(self, function: Any) -> None:
        self.function_name = function.function_name
        self._deadline = time.monotonic() + float(function.timeout)

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def _inside(location: object, folder: str) -> bool:
    return isinstance(location, str) and os.path.realpath(location).startswith(folder + os.sep)


def _forget_modules(folder: str) -> None:
    """Removes from ``sys.modules`` every module (or package) whose file lies in ``folder``."""
    for name, module in list(sys.modules.items()):
        locations = [getattr(module, "__file__", None), *(getattr(module, "__path__", None) or [])]
        if any(_inside(location, folder) for location in locations):
            sys.modules.pop(name, None)


def run_python_function(function: Any, event: Any, endpoint: str) -> tuple[str, bool, str]:
    """Unpacks the function's code, imports its handler and calls it with the event, boto3
    pointed at the emulator. Returns what moto's Docker runner returns: (result, errored, logs).

    While the function runs, its folder comes first on ``sys.path`` (the handler's own packages
    import as in Lambda); afterwards the folder leaves ``sys.path`` and every module loaded from
    it leaves ``sys.modules``, so that two functions, or two versions of one, share no module."""
    module_name, _, function_name = function.handler.rpartition(".")
    with _RUN_LOCK, tempfile.TemporaryDirectory() as temporary:
        folder = os.path.realpath(temporary)
        zipfile.ZipFile(io.BytesIO(function.code_bytes)).extractall(folder)
        spec = importlib.util.spec_from_file_location(
            f"lambda_{function.function_name}", Path(folder, *module_name.split(".")).with_suffix(".py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        saved = dict(os.environ)
        os.environ.update(function.environment_vars or {})
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION=function.region,
            AWS_DEFAULT_REGION=function.region,
        )
        logs = io.StringIO()
        stdout = sys.stdout
        sys.path.insert(0, folder)
        importlib.invalidate_caches()
        try:
            sys.stdout = logs
            sys.modules[spec.name] = module  # dataclasses look their module up while it loads
            spec.loader.exec_module(module)
            result = getattr(module, function_name)(
                json.loads(event) if isinstance(event, str) else event, _Context(function)
            )
            return json.dumps(result), False, logs.getvalue()
        except Exception:
            logs.write(traceback.format_exc())
            return json.dumps({"errorMessage": traceback.format_exc()}), True, logs.getvalue()
        finally:
            sys.stdout = stdout
            while folder in sys.path:
                sys.path.remove(folder)
            sys.path_importer_cache.pop(folder, None)
            sys.modules.pop(spec.name, None)
            _forget_modules(folder)
            os.environ.clear()
            os.environ.update(saved)
            for line in logs.getvalue().splitlines():
                print(f"[lambda {function.function_name}] {line}", file=sys.stderr)


def serve(port: int) -> None:
    """moto's server on 127.0.0.1:``port`` until interrupted, Lambda functions run in-process
    (``run_python_function``) and stack outputs computed for change sets too."""
    from moto import settings
    from moto.awslambda.models import LambdaFunction
    from moto.cloudformation.models import ChangeSet
    from moto.server import ThreadedMotoServer

    endpoint = f"http://localhost:{port}"
    os.environ["MOTO_PORT"] = str(port)
    settings.moto_server_host = lambda: "http://localhost"  # type: ignore[assignment]
    LambdaFunction._invoke_lambda = lambda self, event=None: run_python_function(self, event, endpoint)  # type: ignore[method-assign]
    apply = ChangeSet.apply

    def apply_with_outputs(change_set: Any) -> None:
        # moto computes a stack's outputs on create_stack/update_stack only; the CDK CLI
        # deploys through change sets.
        apply(change_set)
        stack = change_set.stack
        stack.template = change_set.template
        stack._parse_template()
        stack.output_map = stack._create_output_map()

    ChangeSet.apply = apply_with_outputs  # type: ignore[method-assign,assignment]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(f"local AWS listening on {endpoint}", flush=True)
    try:
        threading.Event().wait()
    finally:
        server.stop()


def main(argv: list[str]) -> int:
    """``serve PORT``: the guard, then the emulator until interrupted."""
    if len(argv) != 2 or argv[0] != "serve" or not argv[1].isdigit():
        print("usage: local_emulator.py serve PORT", file=sys.stderr)
        return 2
    refuse_unless_local(os.environ)
    problem = missing_moto()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        serve(int(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
