"""cdk-nag acknowledgments: the wildcards that least privilege cannot avoid, and the few
rules of the regulated packs (HIPAA Security, NIST 800-53 R5, PCI DSS 3.2.1) that this
library's design answers otherwise.

Each acknowledgment is on the narrowest construct, with the reason; the README lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aws_cdk
from constructs import IConstruct

from .memo import per_object, stack_of

# The Validations API that cdk-nag 3 reports through is recent in aws-cdk-lib; with an older
# release no cdk-nag 3 runs, so there is nothing to acknowledge to.
Validations: Any = getattr(aws_cdk, "Validations", None)
Acknowledgment: Any = getattr(aws_cdk, "Acknowledgment", None)


def _nag_text(value: Any) -> str:
    """Renders a resolved value the way cdk-nag writes it in finding ids."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return f"<{'.'.join(value['Fn::GetAtt'])}>"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(_nag_text(p) for p in parts)
    return str(value)


def acknowledge_wildcard(scope: IConstruct, resource: str, reason: str) -> None:
    """Acknowledges AwsSolutions-IAM5 for one wildcard ``resource`` on ``scope`` (once)."""
    acknowledge_wildcards(scope, (resource, reason))


def acknowledge_wildcards(scope: IConstruct, *findings: tuple[str, str]) -> None:
    """``acknowledge_wildcard`` for each ``(resource, reason)``, in one call to the jsii runtime."""
    seen: set[str] = per_object(scope, "acknowledged", set)
    new = []
    for resource, reason in findings:
        if resource not in seen:
            seen.add(resource)
            new.append((resource, reason))
    if Validations is None or not new:
        return
    _validations(scope).acknowledge(
        *(
            Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{_finding_text(scope, resource)}]", reason=reason)
            for resource, reason in new
        )
    )


# A token in a string, as CDK encodes it (``${Token[AWS.Partition.8]}``).
_TOKEN = re.compile(r"\$\{Token\[[\w:.-]+\]\}")


def _finding_text(scope: IConstruct, resource: str) -> str:
    """``resource`` as cdk-nag writes it: each token resolved (once per stack, a round trip each)."""
    stack = stack_of(scope)
    texts: dict[str, str] = per_object(stack, "nag token texts", dict)

    def text(match: re.Match[str]) -> str:
        token = match.group(0)
        if token not in texts:
            texts[token] = _nag_text(stack.resolve(token))
        return texts[token]

    return _TOKEN.sub(text, resource)


def _validations(scope: IConstruct) -> Any:
    return per_object(scope, "validations", lambda: Validations.of(scope))


# The regulated packs' prefixes: a rule named ``X`` there is ``<prefix>-X``.
REGULATED_PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")


def acknowledge_rule(scope: IConstruct, rule: str, reason: str, packs: tuple[str, ...] = REGULATED_PACKS) -> None:
    """Acknowledges cdk-nag rule ``rule`` (e.g. ``LambdaInsideVPC``) of each of ``packs`` on ``scope``."""
    if Validations is None:
        return
    _validations(scope).acknowledge(*(Acknowledgment(id=f"{pack}-{rule}", reason=reason) for pack in packs))


@dataclass(frozen=True)
class NagAcknowledgment:
    """One cdk-nag acknowledgment: the construct it is on (it covers that construct's resources),
    the finding's id and the reason."""

    construct_path: str
    rule_id: str
    reason: str


def acknowledgments(scope: IConstruct) -> list[NagAcknowledgment]:
    """Every cdk-nag acknowledgment under ``scope`` (the library's and the app's), for an auditor.

    cdk-nag 3 drops an acknowledged finding before it reaches CDK's validation report, so the
    report's ``suppressedViolations`` never lists these. To keep them in the synthesized templates
    too, create the pack with ``AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)``:
    each resource then carries ``Metadata.cdk_nag.rules_to_suppress`` (id and reason)."""
    if Validations is None:
        return []
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = []
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key and isinstance(entry.data, dict):
                for rule_id, reason in entry.data.items():
                    found.append(
                        NagAcknowledgment(
                            construct.node.path, re.sub(r"^annotation::", "", rule_id, flags=re.I), str(reason)
                        )
                    )
    return found
