"""A local AWS for ``make local`` and the end-to-end test: moto's server on loopback, with
Python Lambda functions run in-process (moto runs them in Docker, which is not here).

Dev and test tooling, not part of the library. ``python -m tools.local_aws serve PORT``
starts the emulator; ``python -m tools.local_aws demo`` runs the whole local deployment.
"""

from __future__ import annotations

import importlib.util
import io
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
_RUN_LOCK = threading.Lock()  # handlers share os.environ and sys.modules while they run


# ----- the guard -------------------------------------------------------------------------------


def refuse_unless_local(environ: dict[str, str] | os._Environ[str]) -> None:
    """Refuses to go on when an AWS endpoint is not on loopback or real-looking credentials
    are present: nothing of this tooling may ever reach real AWS."""
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
    """The environment for the CDK CLI and clients: fake credentials, every endpoint local."""
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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ----- the in-process Lambda runner --------------------------------------------------------------


class _Context:
    def __init__(self, function: Any) -> None:
        self.function_name = function.function_name
        self._deadline = time.monotonic() + float(function.timeout)

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def run_python_function(function: Any, event: Any, endpoint: str) -> tuple[str, bool, str]:
    """Unpacks the function's code, imports its handler and calls it with the event, boto3
    pointed at the emulator. Returns what moto's Docker runner returns: (result, errored, logs)."""
    module_name, _, function_name = function.handler.rpartition(".")
    with _RUN_LOCK, tempfile.TemporaryDirectory() as folder:
        zipfile.ZipFile(io.BytesIO(function.code_bytes)).extractall(folder)
        spec = importlib.util.spec_from_file_location(
            f"lambda_{function.function_name}", Path(folder) / f"{module_name}.py"
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
            sys.modules.pop(spec.name, None)
            os.environ.clear()
            os.environ.update(saved)
            for line in logs.getvalue().splitlines():
                print(f"[lambda {function.function_name}] {line}", file=sys.stderr)


def serve(port: int) -> None:
    """moto's server on 127.0.0.1:``port`` until killed, Lambda run in-process."""
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


# ----- driving a local deployment ----------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


class LocalAws:
    """The emulator in a child process, and the real CDK CLI pointed at it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.env = local_environment(self.port)
        self.endpoint = f"http://localhost:{self.port}"
        self.outdir = tempfile.TemporaryDirectory(prefix="cdk-local-")
        self.log = open(Path(self.outdir.name) / "emulator.log", "w")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.local_aws", "serve", str(self.port)],
            cwd=ROOT,
            env={**self.env, "PYTHONPATH": str(ROOT)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("the local AWS emulator did not start") from None
                time.sleep(0.2)

    def __enter__(self) -> LocalAws:
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

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def cdk(self, *args: str, app: str | None = None, context: dict[str, str] | None = None) -> str:
        """Runs the project's CDK CLI (node_modules) against the emulator."""
        command = [
            str(ROOT / "node_modules" / ".bin" / "cdk"),
            *args,
            "--output",
            str(Path(self.outdir.name) / "cdk.out"),
        ]
        for key, value in {"account": ACCOUNT, "region": REGION, **(context or {})}.items():
            command += ["-c", f"{key}={value}"]
        if app is not None:
            command += ["--app", app]
        env = {**self.env, "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"cdk {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout + done.stderr

    def bootstrap(self) -> None:
        self.cdk("bootstrap", f"aws://{ACCOUNT}/{REGION}")

    def deploy(self, stack: str, app: str | None = None, context: dict[str, str] | None = None) -> dict[str, str]:
        """``cdk deploy``, then the stack's outputs once its custom resources answered
        (moto marks a stack complete before they do)."""
        self.cdk("deploy", stack, "--require-approval", "never", app=app, context=context)
        cloudformation = self.client("cloudformation")
        deadline = time.monotonic() + 120
        while True:
            outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs") or []
            values = {o["OutputKey"]: o.get("OutputValue") for o in outputs}
            if values and all(values.values()):
                return values
            if time.monotonic() > deadline:
                raise RuntimeError(f"{stack}: outputs never arrived: {values}")
            time.sleep(0.5)

    def destroy(self, stack: str, app: str | None = None, context: dict[str, str] | None = None) -> None:
        self.cdk("destroy", stack, "--force", app=app, context=context)


def demo() -> None:
    """``make local``: bootstrap, deploy the example app, show the job, destroy, show what stays."""
    with LocalAws() as aws:
        print(f"local AWS on {aws.endpoint} (moto); CDK CLI from node_modules")
        aws.bootstrap()
        print("cdk bootstrap: done")
        outputs = aws.deploy("TrainingExample")
        print("cdk deploy TrainingExample: done\n\nstack outputs:")
        for key, value in sorted(outputs.items()):
            print(f"  {key}: {value}")
        job = aws.client("sagemaker").describe_training_job(TrainingJobName=outputs["TrainingJobName"])
        print("\ntraining job, as the emulated SageMaker describes it:")
        print(f"  name: {job['TrainingJobName']}\n  status: {job['TrainingJobStatus']}\n  role: {job['RoleArn']}")
        for channel in job.get("InputDataConfig", []):
            print(f"  input {channel['ChannelName']}: {channel['DataSource']['S3DataSource']['S3Uri']}")
        print(f"  output: {job['OutputDataConfig']['S3OutputPath']} (KMS {job['OutputDataConfig'].get('KmsKeyId')})")
        print(f"  volume KMS key: {job['ResourceConfig'].get('VolumeKmsKeyId')}")
        print(f"  VPC: {job.get('VpcConfig', 'none')}")
        aws.destroy("TrainingExample")
        buckets = [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"] if "trainingstorage" in b["Name"]]
        keys = aws.client("kms").list_keys()["Keys"]
        print(f"\ncdk destroy TrainingExample: done; retained buckets: {buckets}; retained KMS keys: {len(keys)}")
        script_mode(aws)
    print("local AWS stopped")


def script_mode(aws: LocalAws) -> None:
    """The script-mode example: code and data uploaded as assets, the job followed by the watch command."""
    from constructs_lib import watch

    outputs = aws.deploy("ScriptModeExample")
    job = aws.client("sagemaker").describe_training_job(TrainingJobName=outputs["TrainingJobName"])
    print("\ncdk deploy ScriptModeExample: done (code and data uploaded as assets)")
    print(f"  image: {job['AlgorithmSpecification']['TrainingImage']}")
    print(f"  code: {json.loads(job['HyperParameters']['sagemaker_submit_directory'])}")
    for channel in job.get("InputDataConfig", []):
        print(f"  input {channel['ChannelName']}: {channel['DataSource']['S3DataSource']['S3Uri']}")
    print("\npython -m constructs_lib.watch ScriptModeExample:")
    session = type(
        "Session", (), {"create_client": lambda _, service, region_name=None, config=None: aws.client(service)}
    )()
    code = watch.main(["ScriptModeExample", "--interval", "1"], session=session)
    print(f"watch exited with {code}")
    aws.destroy("ScriptModeExample")
    print("cdk destroy ScriptModeExample: done")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        refuse_unless_local(os.environ)
        serve(int(sys.argv[2]))
    elif len(sys.argv) == 2 and sys.argv[1] == "demo":
        refuse_unless_local(os.environ)
        demo()
    else:
        raise SystemExit("usage: python -m tools.local_aws serve PORT | demo")
