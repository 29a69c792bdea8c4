"""Script mode: the hyperparameters through which SageMaker's framework containers (the SageMaker
training toolkit) find the user's code, as the SageMaker Python SDK writes them: JSON-encoded
strings such as ``sagemaker_program = "\\"train.py\\""``.

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


def decoded(value: Any) -> Any:
    """A hyperparameter value as the toolkit reads it (JSON when it parses, else the string)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def code_location(hyperparameters: Mapping[str, Any]) -> S3Location | None:
    """The S3 object ``sagemaker_submit_directory`` names (None: no code in S3, or a local path)."""
    uri = decoded(hyperparameters.get(SUBMIT_DIRECTORY))
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None
    try:
        return S3Location.from_uri(uri)
    except TrainingJobValidationError:
        return None
