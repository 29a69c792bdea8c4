"""Create: one CreateTrainingJob, retried through throttling, lost answers and IAM propagation."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from sagemaker_training_handler.answers import Responder, result
from sagemaker_training_handler.calls import (
    ACCESS_DENIED,
    Client,
    backoff,
    error_text,
    out_of_time,
    read_existing,
    transient,
)
from sagemaker_training_handler.errors import HandlerError, TooLate, log
from sagemaker_training_handler.properties import (
    TAG_GATE,
    TAG_REQUEST,
    TAG_RESOURCE,
    TAG_SPEC,
    TAG_STACK,
    Props,
    belongs_to_resource,
    job_name,
)

# CreateTrainingJob errors seen while a new role's permissions are still propagating: IAM is
# eventually consistent, so the handler's own policy (or the role it passes) may not be effective
# yet (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
IAM_NOT_READY = re.compile(r"could not assume role|access denied|accessdenied|not authorized to perform", re.IGNORECASE)
IAM_RETRY_SECONDS = 120.0
# CreateTrainingJob rejects a taken name with ResourceInUse (older answers: a ValidationException).
NAME_TAKEN = re.compile(r"must be unique|already exists", re.IGNORECASE)


def create_request(event: Mapping[str, Any], props: Props, name: str) -> dict[str, Any]:
    """The CreateTrainingJob request: the job's name, and the tags that say whose it is."""
    request = dict(props.request)
    request["TrainingJobName"] = name
    hyperparameters = request.get("HyperParameters")
    if isinstance(hyperparameters, dict) and "sagemaker_job_name" in hyperparameters:
        # Script mode on a framework image: the training toolkit reads its job's name here.
        request["HyperParameters"] = {**hyperparameters, "sagemaker_job_name": json.dumps(name)}
        if hyperparameters.get("model_dir") == '""':
            # TensorFlow's --model_dir, as the SDK writes it: s3://<output path>/<job name>/model.
            output = str(request.get("OutputDataConfig", {}).get("S3OutputPath", "")).rstrip("/")
            request["HyperParameters"]["model_dir"] = json.dumps(f"{output}/{name}/model")
    identity = {
        TAG_STACK: event["StackId"],
        TAG_RESOURCE: event["LogicalResourceId"],
        TAG_REQUEST: event["RequestId"],
        TAG_SPEC: props.spec_hash(),
    }
    if props.gate_id:
        identity[TAG_GATE] = props.gate_id
    request["Tags"] = [*request.get("Tags", []), *({"Key": k, "Value": v} for k, v in identity.items())]
    return request


def on_create(
    sm: Client, event: Mapping[str, Any], props: Props, deadline: float, responder: Responder
) -> tuple[str, dict[str, str]]:
    """One CreateTrainingJob when all goes well; its answer and the request make the result.

    A taken name is how a retried event (or a retried call whose answer was lost) finds the
    job it already started: the job is then adopted if it carries this request's identity.
    """
    name = job_name(props, event)
    request = create_request(event, props, name)
    iam_deadline = min(deadline, time.monotonic() + IAM_RETRY_SECONDS)
    iam_delay, attempt = 2.0, 0
    while True:
        try:
            created = responder.create(sm, request, name, deadline)
        except TooLate:
            raise
        except ClientError as error:
            code = error.response["Error"]["Code"]
            message = error.response["Error"].get("Message", "")
            if code == "ResourceInUse" or (code == "ValidationException" and NAME_TAKEN.search(message)):
                return adopt(sm, name, event, props, deadline, responder)
            # A denial (an error code) or SageMaker's own message while IAM propagates: retried for a while.
            if code in ACCESS_DENIED or (code == "ValidationException" and IAM_NOT_READY.search(message)):
                if time.monotonic() + iam_delay > iam_deadline:
                    raise HandlerError(
                        f"CreateTrainingJob kept failing for {IAM_RETRY_SECONDS:.0f} s while IAM "
                        f"permissions propagated; SageMaker said: {code}: {message}"
                    ) from None
                log(event=event["RequestType"], job=name, action="retry-iam-propagation", delay=iam_delay)
                time.sleep(iam_delay)
                iam_delay = min(iam_delay * 2, 20.0)
                continue
            if not transient(error):
                raise
            last: BaseException = error
        except (HTTPClientError, BotoConnectionError) as error:
            last = error
        else:
            log(event=event["RequestType"], job=name, action="created")
            return created
        # Throttled, or the answer was lost: the next attempt creates the job, or finds it by its name.
        delay = backoff(attempt)
        if out_of_time(deadline, delay):
            raise HandlerError(
                f"CreateTrainingJob for {name} did not succeed in the time the handler has "
                f"({attempt + 1} attempts); last error: {error_text(last)}"
            )
        attempt += 1
        log(
            event=event["RequestType"],
            job=name,
            action="retry-create",
            attempt=attempt,
            error=error_text(last)[:200],
            delay=round(delay, 2),
        )
        time.sleep(delay)


def adopt(
    sm: Client, name: str, event: Mapping[str, Any], props: Props, deadline: float, responder: Responder
) -> tuple[str, dict[str, str]]:
    """The name is taken: by this request's own job (an earlier attempt) or by another one.

    CreateTrainingJob has just said the job exists, so "not found" from a read is lag.
    """
    job, tags = read_existing(sm, name, deadline, "in the time the handler has")
    if belongs_to_resource(tags, event) and tags.get(TAG_REQUEST) == event["RequestId"]:
        log(
            event=event["RequestType"],
            job=job["TrainingJobName"],
            action="found-own-job",
            status=job.get("TrainingJobStatus"),
        )
        return result(job)
    responder.unconfirmed = None  # the name is another job's: none of this request's attempts created one
    raise HandlerError(
        f"training job name {job['TrainingJobName']} is already used by a job this resource did not "
        "create in this request"
        + ("; a fixed training_job_name cannot be reused for a new job" if props.fixed_name else "")
    )
