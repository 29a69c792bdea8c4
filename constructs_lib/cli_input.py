"""``aws sagemaker create-training-job --cli-input-json`` documents, read into TrainingJob props.

ARNs, ids and URIs become CDK references where that gives least-privilege grants: the role
ARN an imported role (the job's statements attached as a policy), S3 URIs bucket + prefix
locations, KMS key ids imported keys, subnet and security group ids imported subnets and
groups. Members without a typed
prop travel as ``overrides``; unknown members are errors.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .errors import Problems, TrainingJobValidationError
from .parts.build import PART_TYPES
from .s3_location import S3Location
from .validation import model_problems

_FUNCTION_ARN = re.compile(r"^arn:aws[a-z\-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9\-_]+(:[a-zA-Z0-9\-_$]+)?$")
_KMS_ARN = re.compile(r"^arn:aws[a-z\-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+$")


def load_document(document: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A dict, a JSON string, a path to a JSON file, or ``file://path`` as the CLI takes it."""
    if isinstance(document, Mapping):
        return copy.deepcopy(dict(document))
    text = os.fspath(document)
    if isinstance(document, os.PathLike) or text.startswith("file://") or not text.lstrip().startswith(("{", "[")):
        path = Path(text.removeprefix("file://"))
        try:
            text = path.read_text()
        except OSError as error:
            raise TrainingJobValidationError(
                "cli_input_json", [f"document: cannot read {str(path)!r} ({error.strerror})"]
            ) from None
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as error:
        raise TrainingJobValidationError("cli_input_json", [f"document: not valid JSON ({error})"]) from None
    if not isinstance(loaded, dict):
        raise TrainingJobValidationError(
            "cli_input_json", [f"document: got {type(loaded).__name__}; expected a JSON object"]
        )
    return loaded


def parse_shorthand_map(text: str) -> dict[str, str]:
    """``KeyName1=string,KeyName2=string`` (the CLI's shorthand for a map)."""
    result: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(pair)
        result[key.strip()] = value.strip()
    return result


def parse_shorthand_tags(text: str) -> list[dict[str, str]]:
    """``Key=string,Value=string Key=string,Value=string`` (the CLI's shorthand for Tags)."""
    tags = []
    for entry in text.split():
        fields = parse_shorthand_map(entry)
        if set(fields) != {"Key", "Value"}:
            raise ValueError(entry)
        tags.append({"Key": fields["Key"], "Value": fields["Value"]})
    return tags


class CliReader:
    """Turns one document into TrainingJob keyword arguments: each API member is read by the
    request part that owns it (``RequestPart.cli_members``), the rest travel as ``overrides``."""

    def __init__(self, scope: Construct, doc: dict[str, Any]) -> None:
        self.scope = scope
        self.doc = doc
        self.problems = Problems()
        self.props: dict[str, Any] = {}
        self.overrides: dict[str, Any] = {}

    def enum(self, path: str, kind: Any, value: Any) -> Any:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(str(member.value) for member in kind)
            self.problems.add(path, value, f"allowed: {allowed}")
            return None

    def location(self, path: str, uri: Any, key: kms.IKey | None = None) -> S3Location | None:
        try:
            return S3Location.from_uri(uri, encryption_key=key)
        except TrainingJobValidationError:
            self.problems.add(path, uri, "expected s3://<bucket-name>/<key prefix>")
            return None

    def key(self, path: str, key_id: Any) -> kms.IKey | None:
        if not isinstance(key_id, str) or not key_id:
            self.problems.add(path, key_id, "a KMS key id, key ARN, alias name or alias ARN")
            return None
        construct_id = path.replace(".", "")
        if key_id.startswith("alias/") or ":alias/" in key_id:
            return kms.Alias.from_alias_name(self.scope, construct_id, key_id.split(":", 5)[-1])
        if _KMS_ARN.match(key_id):
            return kms.Key.from_key_arn(self.scope, construct_id, key_id)
        if re.fullmatch(r"[a-zA-Z0-9-]+", key_id):
            arn = Stack.of(self.scope).format_arn(service="kms", resource="key", resource_name=key_id)
            return kms.Key.from_key_arn(self.scope, construct_id, arn)
        self.problems.add(path, key_id, "a KMS key id, key ARN, alias name or alias ARN")
        return None

    def function(self, path: str, function_arn: str | None) -> lambda_.IFunction | None:
        if function_arn is None:
            return None
        if not _FUNCTION_ARN.match(function_arn):
            self.problems.add(
                path, function_arn, "a Lambda function ARN, arn:aws:lambda:<region>:<account>:function:<name>"
            )
            return None
        return lambda_.Function.from_function_arn(self.scope, "CredentialsProvider", function_arn)

    def leftovers(self, prefix: str, section: Mapping[str, Any], typed: set[str]) -> None:
        for member, value in section.items():
            if member not in typed:
                self.overrides[f"{prefix}.{member}"] = value

    def read(self) -> None:
        doc = self.doc
        # Shape first: wrong types and unknown members are reported by the API model.
        shaped = dict(doc)
        if isinstance(shaped.get("HyperParameters"), str):
            shaped["HyperParameters"] = {}
        if isinstance(shaped.get("Tags"), str):
            shaped["Tags"] = []
        shaped.setdefault("TrainingJobName", "placeholder")
        shape_problems = model_problems(shaped)
        if shape_problems:
            self.problems.extend(shape_problems)
            return
        # A document's volumes are encrypted with the key it names, or by SageMaker: never a default key.
        self.props["encrypt_volume"] = False
        readers = _readers()
        for member, value in doc.items():
            read = readers.get(member)
            if read is None:
                self.overrides[member] = value
            else:
                read(self, value)

    def shorthand(self, member: str, value: Any, parse: Callable[[str], Any], syntax: str) -> Any:
        """``value``, or the CLI shorthand it is written in, parsed; None when malformed."""
        if not isinstance(value, str):
            return value
        try:
            return parse(value)
        except ValueError as bad:
            self.problems.add(member, str(bad), f"shorthand is {syntax}")
            return None

    def hyperparameters(self, value: Any) -> None:
        """``HyperParameters``, in JSON or the CLI's shorthand."""
        parsed = self.shorthand("HyperParameters", value, parse_shorthand_map, "KeyName1=string,KeyName2=string")
        if parsed is not None:
            self.props["hyperparameters"] = dict(parsed)

    def tags(self, value: Any) -> None:
        """``Tags``, in JSON or the CLI's shorthand."""
        parsed = self.shorthand("Tags", value, parse_shorthand_tags, "Key=string,Value=string Key=string,Value=string")
        if parsed is not None:
            self.props["tags"] = {t["Key"]: t["Value"] for t in parsed}


def _readers() -> dict[str, Callable[[CliReader, Any], None]]:
    """Every API member a part reads, and the two the CLI also takes in its shorthand."""
    readers = {member: read for part in PART_TYPES for member, read in part.cli_members.items()}
    readers["HyperParameters"] = CliReader.hyperparameters
    readers["Tags"] = CliReader.tags
    return readers


def props_from_cli_input(scope: Construct, document: Mapping[str, Any]) -> dict[str, Any]:
    """TrainingJob keyword arguments for a CLI input document; imports are created in ``scope``."""
    reader = CliReader(scope, dict(document))
    reader.read()
    reader.problems.raise_if_any(f"{scope.node.path} (cli input)")
    if reader.overrides:
        reader.props["overrides"] = reader.overrides
    return reader.props
