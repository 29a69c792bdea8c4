"""Script mode: the hyperparameters through which SageMaker's framework containers (the SageMaker
training toolkit) find the user's code, as the SageMaker Python SDK writes them: JSON-encoded
strings such as ``sagemaker_program = "\\"train.py\\""``. And the SDK's other script-mode
defaults (v2, ``sagemaker`` 2.257), which depend on the framework: TensorFlow's ``model_dir``,
metrics time series, and the Debugger hook it leaves out when the job checkpoints.

A request that names its code this way (an SDK document given to ``from_cli_input_json``) gets
read access to exactly that code archive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import TrainingJobValidationError
from .s3_location import S3Location

SUBMIT_DIRECTORY = "sagemaker_submit_directory"
PROGRAM = "sagemaker_program"
JOB_NAME = "sagemaker_job_name"
MODEL_DIR = "model_dir"
# Filled in by the handler once the job has its name (JSON-encoded, like every script-mode value).
FILLED_AT_DEPLOY = json.dumps("")
# Under MPI, TensorFlow's estimator points model_dir at the container's model directory.
CONTAINER_MODEL_DIR = "/opt/ml/model"

# The SDK's framework estimators turn on EnableSageMakerMetricsTimeSeries from these versions
# (PyTorch >= 1.3, TensorFlow >= 1.15, MXNet >= 1.6, every Hugging Face version); scikit-learn,
# XGBoost and Chainer estimators do not.
_METRICS_TIME_SERIES_FROM = {"pytorch": (1, 3), "tensorflow": (1, 15), "mxnet": (1, 6), "huggingface": (0,)}


def decoded(value: Any) -> Any:
    """A hyperparameter value as the toolkit reads it (JSON when it parses, else the string)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def encoded(hyperparameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Hyperparameters as a framework estimator of the SDK writes them: every value JSON-encoded
    (``"run-1"`` -> ``"\\"run-1\\""``, ``[64, 32]`` -> ``"[64, 32]"``, ``None`` -> ``"null"``,
    ``True`` -> ``"true"``). A value JSON cannot encode is left as it is, for the rules to report
    with its key."""
    out: dict[str, Any] = {}
    for key, value in (hyperparameters or {}).items():
        try:
            out[key] = json.dumps(value)
        except (TypeError, ValueError):
            out[key] = value
    return out


def _version(version: str | None) -> tuple[int, ...]:
    parts = []
    for part in (version or "").split("."):
        digits = "".join(c for c in part if c.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def metrics_time_series(framework: str | None, version: str | None) -> bool | None:
    """``EnableSageMakerMetricsTimeSeries`` as the SDK's estimator for ``framework`` sets it: True,
    or None (left to SageMaker) where the SDK leaves it out."""
    start = _METRICS_TIME_SERIES_FROM.get(framework or "")
    if start is None or _version(version) < start:
        return None
    return True


def default_hook_left_out(
    framework: str | None, *, checkpoint_uri: bool, checkpoint_local_path: bool, instance_count: int
) -> bool:
    """Whether the SDK leaves out its default Debugger hook because the job checkpoints (Debugger
    does not support checkpointing): with both a checkpoint S3 URI and local path, on PyTorch and
    TensorFlow (whose estimators always carry a distribution), on MXNet with several instances."""
    if not (checkpoint_uri and checkpoint_local_path):
        return False
    return framework in ("pytorch", "tensorflow") or (framework == "mxnet" and instance_count > 1)


def code_location(hyperparameters: Mapping[str, Any]) -> S3Location | None:
    """The S3 object ``sagemaker_submit_directory`` names (None: no code in S3, or a local path)."""
    uri = decoded(hyperparameters.get(SUBMIT_DIRECTORY))
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None
    try:
        return S3Location.from_uri(uri)
    except TrainingJobValidationError:
        return None
