"""Waiting for a training job inside the deployment, without a Lambda running while it trains.

A ``WaitCondition`` with a ``CreationPolicy`` (up to 12 hours) is released by the stack's handler
function, which an EventBridge rule invokes on "SageMaker Training Job State Change": it calls
``cloudformation:SignalResource`` on the condition of its own stack. No wait handle is used, so no
presigned URL exists that anyone could signal, and no old signal can be read again (CloudFormation:
"If you reuse a wait condition handle, the wait condition might evaluate old signals";
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-waitcondition.html).

A WaitCondition waits only while it is created, and its properties cannot be updated. So the
gate's logical ids end with a hash of the job's *final* request, rendered with the template
(after Aspects and ``add_request_override``), of the definitions of the stack resources the
request references (a role or bucket replaced by a template change), of the fixed name and of the
timeout: every job replacement that shows in the template, and every timeout change, creates a
new condition that waits for the new job. Tag-only and in-place changes keep the gate.

A replacement decided only at deploy time (a CfnParameter, an ``Fn::ImportValue``) cannot get a
new condition. The gate's check resource then fails the deployment instead of letting resources
that depend on ``completion`` use a model that does not exist yet (synth warns about such values).

The check resource, created after the job and before the condition, verifies that the job is this
gate's. A job that finished before the condition began waiting is signalled by the rule's
invocation, which the handler fails (and Lambda retries, about 1 and 2 minutes later) while the
condition cannot take signals yet.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import jsii
from aws_cdk import (
    Annotations,
    CfnCreationPolicy,
    CfnElement,
    CfnParameter,
    CfnResource,
    CfnResourceSignal,
    CfnWaitCondition,
    Duration,
    Stack,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct, IValidation

from .lazy import lazy_string
from .policy import allow
from .provider import TrainingJobProvider
from .request import job_identity

STATE_CHANGE = "SageMaker Training Job State Change"
GATE_TYPE = "Custom::SageMakerTrainingJobGate"
TERMINAL_STATUSES = ["Completed", "Failed", "Stopped"]
MAX_WAIT = Duration.hours(12)  # CloudFormation's limit for a WaitCondition
STARTUP_MARGIN = Duration.minutes(30)  # provisioning, image pull, data download, upload


def job_state_pattern(stack: Stack, job_name_prefix: str | None, fixed_name: str | None) -> events.EventPattern:
    """State changes of the jobs of one TrainingJob (all its generated names, or its fixed one),
    in the stack's account and region only."""
    name = [fixed_name] if fixed_name else events.Match.prefix(f"{job_name_prefix}-")
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=[STATE_CHANGE],
        account=[stack.account],
        region=[stack.region],
        detail={"TrainingJobName": name},
    )


def _references(value: Any, found: set[str]) -> set[str]:
    """Logical ids a resolved CloudFormation value refers to (Ref, Fn::GetAtt, Fn::Sub's ${...})."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt" and isinstance(item, list) and item:
                found.add(str(item[0]))
            else:
                _references(item, found)
    elif isinstance(value, list):
        for item in value:
            _references(item, found)
    return found


_GATE_RESOURCES = ("AWS::CloudFormation::WaitCondition", GATE_TYPE)


def _elements(stack: Stack) -> dict[str, CfnResource | CfnParameter]:
    """The stack's resources and parameters by logical id, gates' own left out (their ids depend
    on this)."""
    return {
        stack.resolve(child.logical_id): child
        for child in stack.node.find_all()
        if isinstance(child, CfnParameter)
        or (isinstance(child, CfnResource) and child.cfn_resource_type not in _GATE_RESOURCES)
    }


class CompletionGate(Construct):
    """Rule, check resource and WaitCondition of one job's completion."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        provider: TrainingJobProvider,
        pattern: events.EventPattern,
        request: Callable[[], Mapping[str, Any]],
        name_prefix: str,
        fixed_name: str | None,
        timeout: Duration,
        run_trigger: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._run_trigger = run_trigger
        self._provider = provider
        self._request = request
        self._name_prefix = name_prefix
        self._fixed_name = fixed_name
        self._timeout = timeout
        stack = Stack.of(self)
        self._stack = stack
        self._settled: str | None = None  # the gate id, once the app is validated
        self.gate_id: str = lazy_string(self._identity)
        self.condition = CfnWaitCondition(self, "Condition")
        self.condition.cfn_options.creation_policy = CfnCreationPolicy(
            resource_signal=CfnResourceSignal(count=1, timeout=timeout.to_iso_string())
        )
        self._hashed(self.condition)
        allow(provider.role, ["cloudformation:DescribeStackResource"], [stack.stack_id], sid="FindCompletionGates")
        allow(provider.role, ["cloudformation:SignalResource"], [stack.stack_id], sid="SignalCompletionGates")
        self.rule = events.Rule(
            self,
            "StateChange",
            description="Releases the completion gate of a SageMaker training job",
            event_pattern=events.EventPattern(
                source=pattern.source,
                detail_type=pattern.detail_type,
                account=pattern.account,
                region=pattern.region,
                detail={**(pattern.detail or {}), "TrainingJobStatus": TERMINAL_STATUSES},
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                provider.function,
                event=events.RuleTargetInput.from_object(
                    {
                        "detail-type": STATE_CHANGE,
                        # Only what the handler reads: the detail also carries the job's hyperparameters,
                        # and an event is capped at 256 KB.
                        "detail": {
                            "TrainingJobName": events.EventField.from_path("$.detail.TrainingJobName"),
                            "TrainingJobStatus": events.EventField.from_path("$.detail.TrainingJobStatus"),
                        },
                        # Which condition of which stack; signalling it needs the handler's permission.
                        "Gate": {
                            "Id": self.gate_id,
                            "StackId": stack.stack_id,
                            "ConditionLogicalId": self.condition.logical_id,
                        },
                    }
                ),
                retry_attempts=185,
                max_event_age=Duration.hours(24),
            )
        )
        self.node.add_validation(_Settle(self))

    def _identity(self) -> str:
        """The gate id: what identifies the job as the template renders it, and the timeout;
        computed once when the app is validated (after Aspects), and on demand before that."""
        if self._settled is not None:
            return self._settled
        resolved = self._stack.resolve(self._request())
        return self._digest(resolved, _elements(self._stack), _references(resolved, set()))

    def _digest(self, resolved: Any, elements: Mapping[str, CfnResource | CfnParameter], references: set[str]) -> str:
        stack = self._stack
        referenced = {}
        for logical_id in sorted(references):
            element = elements.get(logical_id)
            if isinstance(element, CfnResource) and element.cfn_resource_type != "Custom::SageMakerTrainingJob":
                properties = stack.resolve(element._cfn_properties) or {}
                # Tags never replace a resource (and stack tags reach every resource).
                referenced[logical_id] = {k: v for k, v in properties.items() if k.lower() != "tags"}
        trigger = None if self._run_trigger is None else stack.resolve(self._run_trigger)
        job = job_identity(resolved, self._name_prefix, self._fixed_name, trigger)
        canonical = json.dumps(
            {"job": job, "referenced": referenced, "timeout": self._timeout.to_seconds()}, sort_keys=True, default=str
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def settle(self) -> None:
        """At validation (after Aspects and overrides): fixes the gate id, and warns when the request
        holds values known only at deploy time."""
        resolved = self._stack.resolve(self._request())
        elements, references = _elements(self._stack), _references(resolved, set())
        self._settled = self._digest(resolved, elements, references)
        parameters = sorted(i for i in references if isinstance(elements.get(i), CfnParameter))
        names = parameters + (["Fn::ImportValue"] if "Fn::ImportValue" in json.dumps(resolved) else [])
        if names:
            Annotations.of(self).add_warning_v2(
                "@constructs-lib/gate-deploy-time-values",
                "wait_for_completion: the request uses values known only at deploy time ("
                + ", ".join(names)
                + "); a change to them replaces the job, but CloudFormation cannot make the completion "
                "gate wait again under the same logical id, so the gate's check fails that deployment "
                "(and it rolls back). Pass such values at synth (context, props) to let a change start "
                "a new job that the deployment waits for.",
            )

    def _hashed(self, element: CfnElement) -> None:
        """Ends the element's logical id with the gate id, as rendered with the template."""
        base = self._stack.get_logical_id(element)
        element.override_logical_id(lazy_string(lambda: f"{base}{self._identity()[:12]}"))

    def close(self, job_name: str) -> CfnWaitCondition:
        """Creates the check resource (after the job: it reads ``job_name``, the job's attribute);
        the condition waits after it, so that resources depending on ``completion`` never run
        before the check."""
        check = CfnResource(
            self,
            "Check",
            type=GATE_TYPE,
            properties={
                "ServiceToken": self._provider.service_token,
                "TrainingJobName": job_name,
                "GateId": self.gate_id,
                "ConditionLogicalId": self.condition.logical_id,
            },
        )
        self._hashed(check)
        self.condition.node.add_dependency(check)
        return self.condition


@jsii.implements(IValidation)
class _Settle:
    """The gate's validation step: ``CompletionGate.settle``."""

    def __init__(self, gate: CompletionGate) -> None:
        self._gate = gate

    def validate(self) -> list[str]:
        self._gate.settle()
        return []
