"""The ``Custom::SageMakerTrainingJob`` resource of one job, and its completion gate."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_cdk import CfnResource, Duration, Stack
from constructs import Construct, IConstruct

from .completion import CompletionGate, job_state_pattern
from .memo import has_members
from .provider import SERVICE_TIMEOUT_SECONDS, TrainingJobProvider

RESOURCE_TYPE = "Custom::SageMakerTrainingJob"
# 2: the request as structured properties (a reviewer and ``cdk diff`` see each member); the
# handler coerces CloudFormation's strings back to the API's types, and still reads 0 and 1.
SCHEMA_VERSION = "2"


def job_resource(
    job: Construct,
    *,
    provider: TrainingJobProvider,
    request: Callable[[], Mapping[str, Any]],
    properties: Mapping[str, Any],
    name_prefix: str,
    fixed_name: str | None,
    removal_behavior: str | None,
    wait_for_completion: Duration | None,
    run_trigger: str | None = None,
) -> tuple[CfnResource, CompletionGate | None, dict[str, Any]]:
    """The resource (an L1 resource: CustomResource's L2 costs every job a second construct and
    an explicit DeletionPolicy/UpdateReplacePolicy of Delete, CloudFormation's default), its gate
    when the deployment waits, and its properties other than ``properties`` (the request)."""
    fixed: dict[str, Any] = {"SchemaVersion": SCHEMA_VERSION, "JobNamePrefix": name_prefix}
    if removal_behavior is not None:  # the handler's default is "stop"
        fixed["RemovalBehavior"] = removal_behavior
    if fixed_name is not None:
        fixed["TrainingJobName"] = fixed_name
    if run_trigger is not None:  # the handler starts a new job when it changes
        fixed["RunTrigger"] = run_trigger
    gate: CompletionGate | None = None
    if wait_for_completion is not None:
        gate = CompletionGate(
            job,
            "Completion",
            provider=provider,
            pattern=job_state_pattern(Stack.of(job), name_prefix, fixed_name),
            request=request,
            name_prefix=name_prefix,
            fixed_name=fixed_name,
            timeout=wait_for_completion,
            run_trigger=run_trigger,
        )
        fixed["GateId"] = gate.gate_id
    resource = CfnResource(
        job,
        "Resource",
        type=RESOURCE_TYPE,
        properties={
            "ServiceToken": provider.service_token,
            "ServiceTimeout": str(SERVICE_TIMEOUT_SECONDS),
            **fixed,
            **properties,
        },
    )
    if gate is not None:
        # The rule and its invoke permission (a child of the rule) exist before the job.
        resource.node.add_dependency(gate.rule)
    return resource, gate, fixed


def children_but_resource(parent: IConstruct) -> list[CfnResource]:
    """The CloudFormation resources of a role's policies or a security group's rules: those below
    ``parent`` other than its own."""
    found: list[CfnResource] = []
    for child in parent.node.children:
        if child.node.id != "Resource":
            found += [c for c in child.node.find_all() if isinstance(c, CfnResource)]
    return found


def depend_on(resource: CfnResource, targets: Sequence[CfnResource]) -> None:
    """``resource`` is created after ``targets``: one call each (a construct dependency costs two).
    ``addResourceDependency`` is the newer name of ``addDependency`` in aws-cdk-lib."""
    add = (
        resource.add_resource_dependency
        if has_members(resource, "add_resource_dependency")
        else resource.add_dependency
    )
    for target in targets:
        add(target)
