"""Deploy a CDK app to a local AWS emulator: no AWS account, nothing leaves the machine.

    python -m constructs_lib.local deploy [--app APP] [--cdk PATH] [-c KEY=VALUE] [--keep] [STACK ...]
    python -m constructs_lib.local serve PORT

``deploy`` starts moto's server on loopback (Lambda functions, the training jobs' handler among
them, run in-process), runs the real CDK CLI's ``bootstrap`` and ``deploy`` against it, prints each
stack's outputs and each training job's status as the emulated SageMaker describes it, then
``destroy``s the stacks and stops the emulator (``--keep``: leaves both up until interrupted).
``serve`` only runs the emulator. Before anything, the guard refuses real-looking credentials and
any endpoint off loopback. moto comes with the ``local`` extra. Exit codes: see ``EXIT_CODES``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self, TextIO

from . import local_emulator
from .local_emulator import (
    ACCOUNT,
    MOTO_MISSING,
    REGION,
    free_port,
    local_environment,
    missing_moto,
    refuse_unless_local,
    run_python_function,
    serve,
)

__all__ = [
    "ACCOUNT",
    "EXIT_CODES",
    "MOTO_MISSING",
    "REGION",
    "CdkFailed",
    "CdkNotFound",
    "LocalAws",
    "find_cdk",
    "free_port",
    "local_environment",
    "main",
    "refuse_unless_local",
    "run_python_function",
    "serve",
]

JOB_TYPE = "Custom::SageMakerTrainingJob"
DEPLOYED, FAILED, USAGE, REFUSED = 0, 1, 2, 3
EXIT_CODES = {
    DEPLOYED: "deployed, every stack answered, destroyed (or kept with --keep)",
    FAILED: "a cdk command failed, or a stack's outputs or training jobs never arrived",
    USAGE: "bad arguments, no CDK CLI, no moto (the local extra), or no app (neither --app nor cdk.json)",
    REFUSED: "real-looking AWS credentials or an endpoint off loopback in the environment",
}
INSTALL_CDK = "install it with `npm install aws-cdk` (or pass --cdk PATH)"


class CdkNotFound(Exception):
    """No CDK CLI where one was looked for."""


class CdkFailed(RuntimeError):
    """A CDK CLI command exited with an error; the message holds its output."""


def find_cdk(explicit: str | None = None, cwd: Path | None = None) -> str:
    """The CDK CLI to run: ``explicit`` (a path, or a name looked up on PATH) when given; otherwise
    ``node_modules/.bin/cdk`` under ``cwd`` (default: the current directory), then ``cdk`` on PATH.
    Raises ``CdkNotFound`` naming how to install it."""
    if explicit is not None:
        found = shutil.which(explicit)
        if found is None:
            raise CdkNotFound(f"the CDK CLI {explicit} was not found or is not executable; {INSTALL_CDK}")
        return found
    local = (cwd or Path.cwd()) / "node_modules" / ".bin" / "cdk"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    on_path = shutil.which("cdk")
    if on_path is None:
        raise CdkNotFound(f"no CDK CLI in ./node_modules/.bin or on PATH; {INSTALL_CDK}")
    return on_path


class LocalAws:
    """The emulator in a child process, and the real CDK CLI pointed at it.

    ``cdk``: the CLI to run (default: ``find_cdk(cwd=cwd)``); ``cwd``: where it runs, the app's
    directory (default: the current one). Stops the emulator on ``close()`` or leaving ``with``."""

    def __init__(self, cdk: str | Path | None = None, cwd: Path | None = None) -> None:
        self.cwd = cwd or Path.cwd()
        self.cdk_cli = str(cdk) if cdk is not None else find_cdk(cwd=self.cwd)
        self.port = free_port()
        self.env = local_environment(self.port)
        self.endpoint = f"http://localhost:{self.port}"
        self.outdir = tempfile.TemporaryDirectory(prefix="cdk-local-")
        self.log_path = Path(self.outdir.name) / "emulator.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in close()
        # -P: the emulator module runs as a script, its folder kept off sys.path (no package import).
        self.process = subprocess.Popen(
            [sys.executable, "-P", local_emulator.__file__, "serve", str(self.port)],
            cwd=self.cwd,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        import socket

        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.log_tail()
                    self.close()
                    raise RuntimeError(f"the local AWS emulator did not start:\n{log}") from None
                time.sleep(0.2)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stops the emulator; nothing is left running."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        self.outdir.cleanup()

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the emulator's log (the Lambda functions' logs among them)."""
        self.log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def client(self, service: str) -> Any:
        """A botocore client of the emulator, fake credentials, no AWS config file read."""
        import botocore.session

        session = botocore.session.Session()
        session.set_config_variable("config_file", os.devnull)
        session.set_config_variable("credentials_file", os.devnull)
        return session.create_client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def cdk(self, *args: str, app: str | None = None, context: dict[str, str] | None = None) -> str:
        """Runs the CDK CLI against the emulator (account and region in the context, the
        assembly in a temporary directory); raises ``CdkFailed`` with its output when it fails."""
        command = [self.cdk_cli, *args, "--output", str(Path(self.outdir.name) / "cdk.out")]
        for key, value in {"account": ACCOUNT, "region": REGION, **(context or {})}.items():
            command += ["-c", f"{key}={value}"]
        if app is not None:
            command += ["--app", app]
        # The CLI's own folder first: a node_modules/.bin may hold the Node it needs.
        path = f"{Path(self.cdk_cli).parent}{os.pathsep}{self.env.get('PATH', '')}"
        done = subprocess.run(
            command, cwd=self.cwd, env={**self.env, "PATH": path}, capture_output=True, text=True, timeout=900
        )
        if done.returncode != 0:
            raise CdkFailed(f"cdk {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout + done.stderr

    def bootstrap(self) -> None:
        """``cdk bootstrap`` of the emulator's account and region."""
        self.cdk("bootstrap", f"aws://{ACCOUNT}/{REGION}")

    def deploy(self, stack: str, app: str | None = None, context: dict[str, str] | None = None) -> dict[str, str]:
        """``cdk deploy`` of one stack, then its outputs once its training jobs answered."""
        self.deploy_stacks([stack], app=app, context=context)
        return self.wait_for(stack)

    def deploy_stacks(
        self, patterns: Sequence[str] = (), app: str | None = None, context: dict[str, str] | None = None
    ) -> None:
        """``cdk deploy`` of the stacks ``patterns`` name (default: ``--all``), no approval asked."""
        self.cdk("deploy", *(patterns or ["--all"]), "--require-approval", "never", app=app, context=context)

    def stacks(self) -> list[str]:
        """The names of the stacks deployed, the CDK's bootstrap stack left out."""
        found = []
        for page in self.client("cloudformation").get_paginator("describe_stacks").paginate():
            for stack in page["Stacks"]:
                if stack["StackName"] != "CDKToolkit" and stack["StackStatus"] != "DELETE_COMPLETE":
                    found.append(stack["StackName"])
        return sorted(found)

    def wait_for(self, stack: str, timeout: float = 120) -> dict[str, str]:
        """The stack's outputs, once every output has a value and every training job resource has
        its job (moto marks a stack complete before custom resources answer). Raises RuntimeError
        after ``timeout`` seconds."""
        cloudformation = self.client("cloudformation")
        summaries = cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        expected = sum(1 for s in summaries if s["ResourceType"] == JOB_TYPE)
        body = cloudformation.get_template(StackName=stack)["TemplateBody"]
        # moto lists a stack's outputs only once its custom resources answered: wait for every one.
        declared = set((json.loads(body) if isinstance(body, str) else body).get("Outputs", {}))
        deadline = time.monotonic() + timeout
        while True:
            outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs") or []
            values = {o["OutputKey"]: o.get("OutputValue") for o in outputs}
            jobs = len(self.training_job_names(stack)) if expected else 0
            if declared <= set(values) and all(values.values()) and jobs >= expected:
                return values
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{stack}: after {timeout:.0f} s, {jobs} of {expected} training job(s) created; outputs: {values}"
                )
            time.sleep(0.5)

    def training_job_names(self, stack: str) -> list[str]:
        """The names of the stack's training jobs in the emulated SageMaker."""
        from .watch import stack_jobs

        return stack_jobs(self.client("cloudformation"), self.client("sagemaker"), stack)

    def destroy(self, stack: str, app: str | None = None, context: dict[str, str] | None = None) -> None:
        """``cdk destroy`` of one stack, no confirmation asked."""
        self.destroy_stacks([stack], app=app, context=context)

    def destroy_stacks(
        self, patterns: Sequence[str] = (), app: str | None = None, context: dict[str, str] | None = None
    ) -> None:
        """``cdk destroy`` of the stacks ``patterns`` name (default: ``--all``), no confirmation asked."""
        self.cdk("destroy", *(patterns or ["--all"]), "--force", app=app, context=context)


# ----- the command ---------------------------------------------------------------------------------


def _context(pairs: Sequence[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    context = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            parser.error(f"-c {pair}: expected KEY=VALUE")
        context[key] = value
    return context


def _report(aws: LocalAws, timeout: float, out: TextIO) -> bool:
    """Prints each deployed stack's outputs and training jobs; False when one never answered."""
    answered = True
    sagemaker = aws.client("sagemaker")
    for stack in aws.stacks():
        print(f"\nstack {stack}:", file=out)
        try:
            outputs = aws.wait_for(stack, timeout)
        except RuntimeError as error:
            print(f"  not answered: {error}", file=out)
            answered, outputs = False, {}
        for key, value in sorted(outputs.items()):
            print(f"  output {key}: {value}", file=out)
        for name in aws.training_job_names(stack):
            job = sagemaker.describe_training_job(TrainingJobName=name)
            secondary = job.get("SecondaryStatus")
            secondary = f" ({secondary})" if secondary and secondary != job["TrainingJobStatus"] else ""
            print(f"  training job {name}: {job['TrainingJobStatus']}{secondary}", file=out)
    return answered


def _deploy(args: argparse.Namespace, context: dict[str, str], out: TextIO, err: TextIO) -> int:
    cwd = Path.cwd()
    problem = missing_moto()
    if problem:
        print(f"error: {problem}", file=err)
        return USAGE
    try:
        cdk = find_cdk(args.cdk, cwd)
    except CdkNotFound as missing:
        print(f"error: {missing}", file=err)
        return USAGE
    if args.app is None and not (cwd / "cdk.json").is_file():
        print(f"error: no --app given and no cdk.json in {cwd}", file=err)
        return USAGE
    try:
        aws = LocalAws(cdk=cdk, cwd=cwd)
    except RuntimeError as error:
        print(f"error: {error}", file=err)
        return FAILED
    with aws:
        print(f"local AWS on {aws.endpoint} (moto); CDK CLI {cdk}", file=out)
        try:
            aws.bootstrap()
            print("cdk bootstrap: done", file=out)
            aws.deploy_stacks(args.stacks, app=args.app, context=context)
            print(f"cdk deploy {' '.join(args.stacks) or '--all'}: done", file=out)
            answered = _report(aws, args.timeout, out)
            if not answered:
                print(f"\nthe emulator's last lines:\n{aws.log_tail()}", file=out)
            if args.keep:
                print(f"\n--keep: the stacks stay deployed on {aws.endpoint} until Ctrl-C", file=out, flush=True)
                _wait_for_interrupt()
            else:
                aws.destroy_stacks(args.stacks, app=args.app, context=context)
                print(f"\ncdk destroy {' '.join(args.stacks) or '--all'}: done", file=out)
        except CdkFailed as failure:
            print(f"error: {failure}\nthe emulator's last lines:\n{aws.log_tail()}", file=err)
            return FAILED
    print("local AWS stopped", file=out)
    return DEPLOYED if answered else FAILED


def _wait_for_interrupt() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m constructs_lib.local",
        description="Deploy a CDK app to a local AWS emulator (moto on loopback): no AWS account, nothing "
        "leaves the machine. Real-looking credentials or an endpoint off loopback are refused.",
        epilog="exit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{deploy,serve}")
    deploy = commands.add_parser(
        "deploy",
        help="bootstrap, deploy, print outputs and training job statuses, destroy",
        description="cdk bootstrap and deploy against the emulator, print each stack's outputs and each "
        "training job's status, then cdk destroy (unless --keep) and stop the emulator.",
    )
    deploy.add_argument("stacks", nargs="*", metavar="STACK", help="stacks or patterns to deploy (default: --all)")
    deploy.add_argument("--app", help="the app command, as cdk's --app (default: cdk.json's, in this directory)")
    deploy.add_argument("--cdk", help="the CDK CLI (default: ./node_modules/.bin/cdk, then cdk on PATH)")
    deploy.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="context for the app (repeatable)"
    )
    deploy.add_argument("--keep", action="store_true", help="keep stacks and emulator up until Ctrl-C; no destroy")
    deploy.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for each stack's jobs and outputs (default: 120)"
    )
    serve_command = commands.add_parser("serve", help="run only the emulator on 127.0.0.1:PORT until Ctrl-C")
    serve_command.add_argument("port", type=int, metavar="PORT")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """The command (``deploy`` or ``serve``); the guard runs before anything else. Returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    context = _context(args.context, parser) if args.command == "deploy" else {}
    try:
        refuse_unless_local(os.environ)
    except SystemExit as refusal:
        print(f"error: {refusal}", file=err)
        return REFUSED
    if args.command == "deploy":
        return _deploy(args, context, out, err)
    problem = missing_moto()
    if problem:
        print(f"error: {problem}", file=err)
        return USAGE
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.port)
    return DEPLOYED


if __name__ == "__main__":
    sys.exit(main())
