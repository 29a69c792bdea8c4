"""One-screen summary of a synthesized cloud assembly (``python -m tools.summary cdk.out``).

For each training job it also writes ``<stack>.<logical id>.request.json`` next to the
template: the CreateTrainingJob request the handler will send, deploy-time values shown
as CloudFormation expressions, for review.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

JOB_TYPE = "Custom::SageMakerTrainingJob"


def request_of(properties: dict[str, Any]) -> Any:
    """The Request property as JSON, with ``Fn::Join`` pieces kept as expressions."""
    value = properties.get("Request")
    if isinstance(value, str):
        return json.loads(value)
    if isinstance(value, dict) and "Fn::Join" not in value:
        return value  # schema 2: the request as structured properties
    if isinstance(value, dict):
        parts = value["Fn::Join"][1]
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
    return value


def summarize(out_dir: Path) -> str:
    lines: list[str] = []
    for template_path in sorted(out_dir.glob("*.template.json")):
        stack = template_path.name.removesuffix(".template.json")
        template = json.loads(template_path.read_text())
        resources: dict[str, Any] = template.get("Resources", {})
        counts = Counter(r["Type"] for r in resources.values())
        lines.append(f"Stack {stack}: {template_path}  ({len(resources)} resources)")
        for kind, count in sorted(counts.items()):
            lines.append(f"  {count:3d} x {kind}")
        for logical_id, resource in sorted(resources.items()):
            if resource["Type"] != JOB_TYPE:
                continue
            request = request_of(resource["Properties"])
            request_path = out_dir / f"{stack}.{logical_id}.request.json"
            request_path.write_text(json.dumps(request, indent=2, sort_keys=True) + "\n")
            resource_config = request.get("ResourceConfig", {})
            lines.append(
                f"  training job {logical_id}: {resource_config.get('InstanceCount')} x "
                f"{resource_config.get('InstanceType')}, "
                f"{len(request.get('InputDataConfig', []))} input channel(s), "
                f"VPC: {'yes' if 'VpcConfig' in request else 'no'}; request: {request_path}"
            )
        for name, output in sorted(template.get("Outputs", {}).items()):
            lines.append(f"  output {name}: {json.dumps(output.get('Value'))}")
    if any(JOB_TYPE in line for line in lines):
        lines.append(
            "Deploying a change to a training job's request starts a new job (the old one is then stopped, "
            "retained or deleted per its removal_behavior), except for changes to Tags, ProfilerConfig, "
            "RemoteDebugConfig and ResourceConfig.KeepAlivePeriodInSeconds, which update the job in place. "
            "`cdk diff` shows the members that change."
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1] if len(argv) > 1 else "cdk.out")
    print(summarize(out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
