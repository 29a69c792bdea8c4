"""CloudFormation's side: whose events are answered (this stack's, to CloudFormation's response
URLs), and the one answer per event."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from sagemaker_training_handler.calls import Client, ambiguous, out_of_time
from sagemaker_training_handler.errors import HandlerError, TooLate, log
from sagemaker_training_handler.properties import NOT_CREATED, UNCONFIRMED, Props, job_name


def own_stack_id() -> str:
    """The stack this function belongs to, from its configuration (never from an event).

    The provider always sets it; a copy of this code deployed without it checks nothing
    against a stack (and says so in its log)."""
    return os.environ.get("STACK_ID", "")


def own_name_prefix() -> str:
    """The prefix of every job name this stack generates."""
    return os.environ.get("JOB_NAME_PREFIX", "")


def is_loopback(url: str) -> bool:
    """A URL on the function's own loopback interface: it never leaves the function's sandbox
    (the local emulator, ``make local``, answers there)."""
    try:
        host = urllib.parse.urlsplit(url).hostname or ""
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_response_url(url: str, stack_id: str) -> bool:
    """Whether ``url`` is CloudFormation's presigned URL for custom resource answers of the
    stack's region and partition (bucket ``cloudformation-custom-resource-response-<region
    without dashes>``), or on loopback."""
    return is_loopback(url) or _cloudformation_bucket_url(
        url, stack_id, lambda region: "custom-resource-response-" + region.replace("-", "")
    )


def _cloudformation_bucket_url(url: str, stack_id: str, bucket_of: Callable[[str], str]) -> bool:
    """An https URL of CloudFormation's bucket ``cloudformation-<bucket_of(region)>``,
    virtual-hosted or path-style, on the S3 endpoint of the stack's region and partition."""
    parts = stack_id.split(":")
    if len(parts) < 6 or not parts[3]:
        return False
    partition, region = parts[1], parts[3]
    suffix = {"aws-cn": r"amazonaws\.com\.cn"}.get(partition, r"amazonaws\.com")
    bucket = "cloudformation-" + bucket_of(region)
    endpoint = rf"s3(?:[.-]{re.escape(region)}|-external-1)?\.{suffix}"
    try:
        parsed = urllib.parse.urlsplit(url)
        host, port = (parsed.hostname or "").lower(), parsed.port
    except ValueError:
        return False
    if parsed.scheme != "https" or parsed.username or parsed.password or port not in (None, 443):
        return False
    if re.fullmatch(rf"{re.escape(bucket)}\.{endpoint}", host):
        return True
    return re.fullmatch(endpoint, host) is not None and parsed.path.startswith(f"/{bucket}/")


def host_of(url: str) -> str | None:
    """Only the host of a URL may be logged: the rest of a presigned URL is a credential."""
    try:
        return urllib.parse.urlsplit(url).hostname
    except ValueError:
        return None


def refusal(event: Mapping[str, Any]) -> tuple[str, bool] | None:
    """Why this handler must not act on a CloudFormation event, and whether to answer it anyway."""
    own = own_stack_id()
    if not own:
        log(action="unconfigured", reason="no STACK_ID in the function's configuration: events are not checked")
    url = event.get("ResponseURL")
    if not isinstance(url, str) or not allowed_response_url(url, own or str(event.get("StackId", ""))):
        return "the response URL is not CloudFormation's for this stack's region", False
    if own and event.get("StackId") != own:
        # A genuine CloudFormation request of another stack that names this function: it is owed an answer.
        return f"this function serves only the resources of stack {own}", True
    return None


RESPONSE_LIMIT = 4096
Put = Callable[[str, bytes], None]


def result(job: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The physical id and the small ``Data`` CloudFormation keeps (never a whole Describe)."""
    name = job["TrainingJobName"]
    output_config = job.get("OutputDataConfig", {})
    output = output_config.get("S3OutputPath", "").rstrip("/")
    # Uncompressed output is a prefix of files, not one archive
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/model-train-storage-uncompressed.html).
    model = "model/" if output_config.get("CompressionType") == "NONE" else "model.tar.gz"
    data = {
        "TrainingJobName": name,
        "TrainingJobArn": job["TrainingJobArn"],
        "ModelArtifacts": f"{output}/{name}/output/{model}",
        "TrainingJobStatus": job.get("TrainingJobStatus", ""),
    }
    return name, data


def default_put(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    for attempt in range(4):
        try:
            with urllib.request.urlopen(request, timeout=30):
                return
        except OSError as error:
            log(action="response-put-failed", attempt=attempt + 1, error=type(error).__name__)
            time.sleep(2**attempt)
    raise HandlerError("could not deliver the response to CloudFormation")


class Responder:
    """Sends exactly one response per event, and guards what may still start.

    CreateTrainingJob is sent under the same lock as the answer: nothing starts once the
    answer has gone out, and an answer due while a Create is in flight waits for it (a Create
    starts only when it can end before the answer is due, see ``CALL_SECONDS``).
    """

    def __init__(self, event: Mapping[str, Any], put: Put) -> None:
        self._event = event
        self._put = put
        self._lock = threading.RLock()
        self.sent: dict[str, Any] | None = None
        self.undelivered: BaseException | None = None
        # A job this invocation created, answered with even when the deadline answers for it.
        self.created: tuple[str, dict[str, str]] | None = None
        # The name of a Create that may have reached SageMaker without being confirmed.
        self.unconfirmed: str | None = None
        # What a successful answer did not do (in-place changes SageMaker would not make): its Reason.
        self.notes: list[str] = []

    def create(self, sm: Client, request: Mapping[str, Any], name: str, deadline: float) -> tuple[str, dict[str, str]]:
        """One CreateTrainingJob attempt, unless the answer has gone out or is due too soon;
        the answer for the job it created, from CreateTrainingJob's response and the request."""
        with self._lock:
            if self.sent is not None or out_of_time(deadline):
                raise TooLate(f"the handler ran out of time before CreateTrainingJob for {name} could be sent")
            try:
                response: dict[str, Any] = sm.create_training_job(**request)
            except Exception as error:
                code = error.response["Error"].get("Code", "") if isinstance(error, ClientError) else ""
                if ambiguous(error) or code == "ResourceInUse":
                    self.unconfirmed = name
                raise
            self.created = result(
                {**request, "TrainingJobArn": response["TrainingJobArn"], "TrainingJobStatus": "InProgress"}
            )
            return self.created

    def expire(self, remaining: float, fallback: str) -> None:
        """The deadline: answer now, with what is known."""
        with self._lock:
            if self.created is not None:
                self.send("SUCCESS", self.created[0], data=self.created[1])
            else:
                reason = f"the handler ran out of time ({remaining:.0f} s) before SageMaker answered"
                self.send("FAILED", fallback, reason)

    def send(self, status: str, physical_id: str, reason: str = "", data: Mapping[str, str] | None = None) -> None:
        with self._lock:
            if self.sent is not None:
                return
            body = {
                "Status": status,
                "Reason": reason or status,
                "PhysicalResourceId": physical_id,
                "StackId": self._event.get("StackId", ""),
                "RequestId": self._event.get("RequestId", ""),
                "LogicalResourceId": self._event.get("LogicalResourceId", ""),
                "NoEcho": False,
                "Data": dict(data or {}),
            }
            encoded = json.dumps(body).encode()
            if len(encoded) > RESPONSE_LIMIT:
                overflow = len(encoded) - RESPONSE_LIMIT + 3
                body["Reason"] = body["Reason"][: max(0, len(body["Reason"]) - overflow)] + "..."
                encoded = json.dumps(body).encode()
            self.sent = body
            log(action="respond", status=status, physical_id=physical_id, reason=body["Reason"][:500])
            try:
                self._put(str(self._event["ResponseURL"]), encoded)
            except Exception as error:  # the invocation fails, so that Lambda retries the event
                self.undelivered = error
                log(action="response-undelivered", status=status, error=f"{type(error).__name__}: {error}"[:300])


def fallback_physical_id(event: Mapping[str, Any], props: Props | None, responder: Responder) -> str:
    """The physical id of a FAILED answer."""
    if responder.unconfirmed and event.get("RequestType") == "Create":
        return UNCONFIRMED + responder.unconfirmed
    if event.get("RequestType") == "Create":
        if props is not None and all(k in event for k in ("StackId", "LogicalResourceId", "RequestId")):
            return NOT_CREATED + job_name(props, event)
        return NOT_CREATED + str(event.get("RequestId", "unknown"))
    return str(event.get("PhysicalResourceId") or NOT_CREATED + str(event.get("RequestId", "unknown")))
