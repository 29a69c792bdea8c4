"""cdk-nag acknowledgments: the wildcards that least privilege cannot avoid, and the few
rules of the regulated packs (HIPAA Security, NIST 800-53 R5, PCI DSS 3.2.1) that this
library's design answers otherwise.

Each acknowledgment is on the narrowest construct, with the reason; the README lists them.
"""

from __future__ import annotations

from typing import Any

import aws_cdk
from aws_cdk import Stack
from constructs import IConstruct

from .memo import per_object

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
    seen: set[str] = per_object(scope, "acknowledged", set)
    if resource in seen:
        return
    seen.add(resource)
    if Validations is None:
        return
    text = _nag_text(Stack.of(scope).resolve(resource))
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{text}]", reason=reason))


# The regulated packs' prefixes: a rule named ``X`` there is ``<prefix>-X``.
REGULATED_PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")


def acknowledge_rule(scope: IConstruct, rule: str, reason: str, packs: tuple[str, ...] = REGULATED_PACKS) -> None:
    """Acknowledges cdk-nag rule ``rule`` (e.g. ``LambdaInsideVPC``) of each of ``packs`` on ``scope``."""
    if Validations is None:
        return
    for pack in packs:
        Validations.of(scope).acknowledge(Acknowledgment(id=f"{pack}-{rule}", reason=reason))
