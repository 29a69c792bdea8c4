"""What a synthesized cloud assembly will do, on one screen.

    python -m constructs_lib.summary [CDK_OUT]

reads every CloudFormation template of the assembly (``cdk.out`` by default; the nested
assemblies of stages, ``assembly-*``, included) and prints per stack its resource counts and
outputs, and per training job (``Custom::SageMakerTrainingJob``) its instances, input channels,
network isolation, inter-container traffic encryption, VPC, volume and output keys, output path,
role and stopping condition. For each job it writes ``<stack>.<logical id>.request.json`` next to
the template: the CreateTrainingJob request the handler will send, deploy-time values kept as
CloudFormation expressions, for review. Exit codes: see ``EXIT_CODES``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .instance_types import has_local_nvme_storage

JOB_TYPE = "Custom::SageMakerTrainingJob"
SUMMARIZED, NO_ASSEMBLY = 0, 2
EXIT_CODES = {
    SUMMARIZED: "the summary was printed and the request previews written",
    NO_ASSEMBLY: "bad arguments, or the directory is missing or holds no template (run `cdk synth` first)",
}
REPLACEMENT_NOTE = (
    "Deploying a change to a training job's request starts a new job (the old one is then stopped, "
    "retained or deleted per its removal_behavior), except for changes to Tags, ProfilerConfig, "
    "RemoteDebugConfig and ResourceConfig.KeepAlivePeriodInSeconds, which update the job in place. "
    "A changed run_trigger (RunTrigger) starts a new job for the same request. "
    "`cdk diff` shows the members that change."
)


# ----- the request, as the handler will send it --------------------------------------------------


def request_of(properties: dict[str, Any]) -> Any:
    """A job resource's ``Request`` property as JSON. Schema 2 holds it as structured properties;
    schema 1 as a JSON string, or as an ``Fn::Join`` of one whose deploy-time pieces are kept
    here as CloudFormation expressions."""
    value = properties.get("Request")
    if isinstance(value, str):
        return json.loads(value)
    if isinstance(value, dict) and "Fn::Join" in value:
        return _joined_request(value["Fn::Join"][1])
    return value


def _joined_request(parts: list[Any]) -> Any:
    placeholders: dict[str, Any] = {}
    text = ""
    for part in parts:
        if isinstance(part, str):
            text += part
        else:
            key = f"__expr{len(placeholders)}__"
            placeholders[key] = part
            text += key

    def restore(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: restore(v) for k, v in node.items()}
        if isinstance(node, list):
            return [restore(v) for v in node]
        if isinstance(node, str) and node in placeholders:
            return placeholders[node]
        if isinstance(node, str) and "__expr" in node:
            pieces: list[Any] = []
            rest = node
            while "__expr" in rest:
                before, _, after = rest.partition("__expr")
                number, _, rest = after.partition("__")
                if before:
                    pieces.append(before)
                pieces.append(placeholders[f"__expr{number}__"])
            if rest:
                pieces.append(rest)
            return {"Fn::Join": ["", pieces]}
        return node

    return restore(json.loads(text))


# ----- values, readably ----------------------------------------------------------------------------


def readable(value: Any) -> str:
    """A template value as a reader wants it: strings as they are, ``Ref(Id)``, ``GetAtt(Id.Attr)``,
    an ``Fn::Join`` on "" as its text with ``${...}`` for each deploy-time piece, any other
    function as ``Name(arguments)``; ``none`` for a missing value."""
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_argument(v) for v in value) + "]"
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref":
            return f"Ref({argument})"
        if name == "Fn::GetAtt":
            return f"GetAtt({argument if isinstance(argument, str) else '.'.join(map(str, argument))})"
        if name == "Fn::Join" and isinstance(argument, list) and len(argument) == 2 and argument[0] == "":
            parts = argument[1] if isinstance(argument[1], list) else [argument[1]]
            return "".join(p if isinstance(p, str) else "${" + readable(p) + "}" for p in parts)
        if name.startswith("Fn::") or name == "Condition":
            arguments = argument if isinstance(argument, list) else [argument]
            return f"{name.removeprefix('Fn::')}({', '.join(_argument(a) for a in arguments)})"
    return json.dumps(value, sort_keys=True)


def _argument(value: Any) -> str:
    """A function's argument: strings quoted, so that commas in them stay readable."""
    return json.dumps(value) if isinstance(value, str) else readable(value)


def _flag(value: Any) -> str:
    if value is None or value is False:
        return "no"
    return "yes" if value is True else readable(value)


def _seconds(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return readable(value)
    for unit, size in (("h", 3600), ("min", 60)):
        if value >= size and value % size == 0:
            return f"{value // size} {unit} ({value} s)"
    return f"{value} s"


# ----- one job ------------------------------------------------------------------------------------


def _instances(request: dict[str, Any]) -> str:
    config = request.get("ResourceConfig")
    if config is None:
        return "chosen by SageMaker (serverless job)" if "ServerlessJobConfig" in request else "none"
    if "InstanceGroups" in config:
        groups = [
            f"{readable(g.get('InstanceGroupName'))}: {readable(g.get('InstanceCount'))} x "
            f"{readable(g.get('InstanceType'))}"
            for g in config["InstanceGroups"]
        ]
        text = f"{len(groups)} group(s): " + "; ".join(groups)
    else:
        text = f"{readable(config.get('InstanceCount'))} x {readable(config.get('InstanceType'))}"
    if "VolumeSizeInGB" in config:
        text += f", {readable(config['VolumeSizeInGB'])} GB volume"
    if request.get("EnableManagedSpotTraining") is True:
        text += ", managed spot"
    return text


def _instance_types(request: dict[str, Any]) -> list[str]:
    config = request.get("ResourceConfig") or {}
    types = [config.get("InstanceType")] + [g.get("InstanceType") for g in config.get("InstanceGroups", [])]
    return [t for t in types if isinstance(t, str)]


def _channels(request: dict[str, Any]) -> str:
    channels = request.get("InputDataConfig") or []
    if not channels:
        return "none"
    described = []
    for channel in channels:
        source = channel.get("DataSource", {})
        if "S3DataSource" in source:
            where = readable(source["S3DataSource"].get("S3Uri"))
        elif "FileSystemDataSource" in source:
            system = source["FileSystemDataSource"]
            where = (
                f"{readable(system.get('FileSystemType'))} {readable(system.get('FileSystemId'))}"
                f":{readable(system.get('DirectoryPath'))}"
            )
        else:
            where = readable(source)
        described.append(f"{readable(channel.get('ChannelName'))} <- {where}")
    return f"{len(described)}: " + ", ".join(described)


def _vpc(request: dict[str, Any]) -> str:
    config = request.get("VpcConfig")
    if config is None:
        return "none (SageMaker's own network)"

    def count(key: str, label: str) -> str:
        value = config.get(key)
        return f"{len(value)} {label}(s)" if isinstance(value, list) else f"{label}s {readable(value)}"

    return f"{count('Subnets', 'subnet')}, {count('SecurityGroupIds', 'security group')}"


def _volume_key(request: dict[str, Any]) -> str:
    config = request.get("ResourceConfig")
    if config is None:
        return "none (serverless job: SageMaker selects the volumes)"
    if config.get("VolumeKmsKeyId") is not None:
        return readable(config["VolumeKmsKeyId"])
    nvme = [t for t in _instance_types(request) if has_local_nvme_storage(t)]
    if nvme:
        return f"none (local NVMe storage of {', '.join(nvme)}, encrypted by the instance's hardware module)"
    return "none (SageMaker's default volume encryption)"


def _stopping(request: dict[str, Any]) -> str:
    condition = request.get("StoppingCondition") or {}
    labels = {
        "MaxRuntimeInSeconds": "max runtime",
        "MaxWaitTimeInSeconds": "max wait",
        "MaxPendingTimeInSeconds": "max pending",
    }
    parts = [f"{label} {_seconds(condition[key])}" for key, label in labels.items() if key in condition]
    return ", ".join(parts) or "none"


def job_lines(logical_id: str, resource: dict[str, Any], request_path: Path) -> list[str]:
    """The summary of one ``Custom::SageMakerTrainingJob`` resource, its request preview at ``request_path``."""
    request: dict[str, Any] = request_of(resource.get("Properties", {})) or {}
    output = request.get("OutputDataConfig") or {}
    path = resource.get("Metadata", {}).get("aws:cdk:path")
    key = output.get("KmsKeyId")
    return [
        f"  training job {logical_id}" + (f" ({path})" if path else "") + ":",
        f"    instances: {_instances(request)}",
        f"    input channels: {_channels(request)}",
        f"    network isolation: {_flag(request.get('EnableNetworkIsolation'))}",
        f"    inter-container traffic encryption: {_flag(request.get('EnableInterContainerTrafficEncryption'))}",
        f"    VPC: {_vpc(request)}",
        f"    volume key: {_volume_key(request)}",
        f"    output path: {readable(output.get('S3OutputPath'))}",
        "    output key: "
        + (readable(key) if key is not None else "none (SageMaker uses the account's default KMS key for S3)"),
        f"    role: {readable(request.get('RoleArn'))}",
        f"    stopping condition: {_stopping(request)}",
        *(
            [f"    run trigger: {readable(trigger)}"]
            if (trigger := resource.get("Properties", {}).get("RunTrigger"))
            else []
        ),
        f"    request preview: {request_path}",
    ]


# ----- the assembly -------------------------------------------------------------------------------


def templates(out_dir: Path) -> list[Path]:
    """The assembly's templates, those of its nested assemblies (``assembly-*``, stages) after its own."""
    found = sorted(out_dir.glob("*.template.json"))
    for nested in sorted(out_dir.glob("assembly-*")):
        if nested.is_dir():
            found += templates(nested)
    return found


def _display_names(directory: Path) -> dict[str, str]:
    """Template file name -> the stack's display name (``Stage/Stack``), from the assembly's manifest."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    names = {}
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        template_file = (artifact.get("properties") or {}).get("templateFile")
        if artifact.get("type") == "aws:cloudformation:stack" and template_file:
            names[template_file] = artifact.get("displayName") or artifact_id
    return names


def summarize(out_dir: Path) -> str:
    """The summary of the assembly in ``out_dir``; writes each job's request preview next to its template."""
    lines: list[str] = []
    names: dict[Path, dict[str, str]] = {}
    for template_path in templates(out_dir):
        stack = template_path.name.removesuffix(".template.json")
        directory_names = names.setdefault(template_path.parent, _display_names(template_path.parent))
        display = directory_names.get(template_path.name, stack)
        template = json.loads(template_path.read_text())
        resources: dict[str, Any] = template.get("Resources") or {}
        counts = Counter(r.get("Type", "?") for r in resources.values())
        lines.append(f"Stack {display}: {template_path}  ({len(resources)} resources)")
        lines += [f"  {count:3d} x {kind}" for kind, count in sorted(counts.items())]
        for logical_id, resource in sorted(resources.items()):
            if resource.get("Type") != JOB_TYPE:
                continue
            request_path = template_path.parent / f"{stack}.{logical_id}.request.json"
            request = request_of(resource.get("Properties", {}))
            request_path.write_text(json.dumps(request, indent=2, sort_keys=True) + "\n")
            lines += job_lines(logical_id, resource, request_path)
        for name, output in sorted((template.get("Outputs") or {}).items()):
            lines.append(f"  output {name}: {readable(output.get('Value'))}")
    if any(line.startswith("  training job ") for line in lines):
        lines.append(REPLACEMENT_NOTE)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """The command: summarizes ``cdk.out`` unless given another directory. Returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m constructs_lib.summary",
        description="Summarize a synthesized cloud assembly: per stack its resources and outputs, per training "
        "job its instances, channels, isolation, encryption, VPC, keys, role and stopping condition; write "
        "each job's CreateTrainingJob request next to its template (<stack>.<logical id>.request.json).",
        epilog="exit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("cdk_out", nargs="?", default="cdk.out", help="the cloud assembly (default: cdk.out)")
    args = parser.parse_args(argv)
    out_dir = Path(args.cdk_out)
    if not out_dir.is_dir():
        print(f"error: {out_dir} is not a directory; run `cdk synth` first or name the assembly", file=err)
        return NO_ASSEMBLY
    if not templates(out_dir):
        print(f"error: {out_dir} holds no CloudFormation template; run `cdk synth` first", file=err)
        return NO_ASSEMBLY
    print(summarize(out_dir), file=out)
    return SUMMARIZED


if __name__ == "__main__":
    sys.exit(main())
