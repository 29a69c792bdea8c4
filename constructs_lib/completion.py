"""Waiting for a training job inside the deployment, without a Lambda running while it trains.

A ``WaitCondition`` (up to 12 hours) is released by the stack's handler function, which an
EventBridge rule invokes on "SageMaker Training Job State Change" (the rule names the wait
handle; the handler looks its URL up in the stack). The rule exists before
the job starts; a check resource created right after the job releases the gate at once if
the job already finished. The gate's id is a hash of the job's immutable spec, so a replaced
job gets a new gate and the deployment waits again, while tag-only changes do not.
"""

from __future__ import annotations

from aws_cdk import CfnWaitCondition, CfnWaitConditionHandle, CustomResource, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from .policy import allow
from .provider import TrainingJobProvider

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


class CompletionGate(Construct):
    """Rule, wait handle, check resource and WaitCondition of one job's completion."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        provider: TrainingJobProvider,
        pattern: events.EventPattern,
        gate_id: str,
        timeout: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.gate_id = gate_id
        self._provider = provider
        self._timeout = timeout
        suffix = gate_id[:12]
        stack = Stack.of(self)
        self.handle = CfnWaitConditionHandle(self, f"Handle{suffix}")
        allow(provider.role, ["cloudformation:DescribeStackResource"], [stack.stack_id], sid="FindCompletionGates")
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
                        "detail": events.EventField.from_path("$.detail"),
                        # Where to find the handle, not the handle's presigned URL itself:
                        # whoever can read the rule must not be able to signal the gate.
                        "Gate": {
                            "Id": gate_id,
                            "StackId": stack.stack_id,
                            "HandleLogicalId": stack.get_logical_id(self.handle),
                        },
                    }
                ),
                retry_attempts=185,
                max_event_age=Duration.hours(24),
            )
        )

    def close(self, job_name: str) -> CfnWaitCondition:
        """Creates the check resource (after the job: it reads ``job_name``) and the WaitCondition."""
        suffix = self.gate_id[:12]
        check = CustomResource(
            self,
            f"Check{suffix}",
            service_token=self._provider.service_token,
            resource_type=GATE_TYPE,
            properties={"TrainingJobName": job_name, "Handle": self.handle.ref, "GateId": self.gate_id},
        )
        condition = CfnWaitCondition(
            self, f"Condition{suffix}", handle=self.handle.ref, timeout=str(int(self._timeout.to_seconds())), count=1
        )
        condition.node.add_dependency(check)
        return condition
