"""What the handler's role lets it start and update, by evaluating its identity policies
(``tests/iam_evaluator.py``) on the requests the handler really sends.

For every tested stack, the handler (``lambda/training_job/index.py``) builds each job's
CreateTrainingJob request from the template's properties, as CloudFormation delivers them; the
request context is filled as the Service Authorization Reference (SAR) describes each SageMaker
key, and a request is authorized on the job's ARN and on each training plan it names (the
action's resource types). Each job's own request must be allowed; a request that differs from
every job of the stack where a key can tell (another instance type, no VPC, another key, remote
debugging, a longer keep-alive or runtime, no instances at all ...) must be denied, whichever way
an ambiguous key is filled (several file-system channels). Likewise for UpdateTrainingJob: the
in-place changes a job can need are allowed, turning remote debugging on or keeping the warm pool
longer are not. Deploy-time values are resolved by ``tools/intrinsics.py`` on both sides.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

import pytest

from tests.conftest import HANDLER_STACK_ID, load_handler
from tests.handler_support import as_cloudformation_delivers
from tests.iam_evaluator import Context, Decision, UnsupportedPolicy, condition_holds, evaluate, parse_operator
from tests.stacks import CONFIGURATIONS, as_list, resources, template_of
from tests.test_sdk_requests import ACCOUNT as SDK_ACCOUNT
from tests.test_sdk_requests import CASES, _synth
from tools.intrinsics import resolve_intrinsics
from tools.summary import request_of

handler = load_handler()
REGION = "us-east-1"
CREATE, UPDATE = "sagemaker:CreateTrainingJob", "sagemaker:UpdateTrainingJob"


def _sdk_template(case: str) -> dict[str, Any]:
    return _synth(case)[0]


STACKS: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    **{name: (partial(template_of, name), "111111111111") for name in CONFIGURATIONS},
    **{f"sdk_requests/{case}": (partial(_sdk_template, case), SDK_ACCOUNT) for case in CASES},
}
# Values no tested stack uses.
FOREIGN_INSTANCE_TYPES = ("ml.r5.24xlarge", "ml.g6e.48xlarge")
FOREIGN_SUBNET, FOREIGN_GROUP, FOREIGN_FILE_SYSTEM = (
    "subnet-0f0f0f0f0f0f0f0f0",
    "sg-0f0f0f0f0f0f0f0f0",
    "fs-0f0f0f0f0f0f0f0f0",
)
SAGEMAKER_DEFAULT_RUNTIME = 86400  # MaxRuntimeInSeconds when a request leaves it out (API reference: 1 day)
RULE_MEMBERS = ("DebugRuleConfigurations", "ProfilerRuleConfigurations")


# ----- the handler's role and what it sends -------------------------------------------------------


def handler_statements(tmpl: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of the identity policies of the role of the function that serves the stack's
    ``Custom::SageMakerTrainingJob`` resources (found through their ServiceToken)."""
    tokens = {
        json.dumps(job["Properties"]["ServiceToken"])
        for job in resources(tmpl, "Custom::SageMakerTrainingJob").values()
    }
    assert len(tokens) == 1, tokens
    function_id = json.loads(tokens.pop())["Fn::GetAtt"][0]
    role_id = tmpl["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = tmpl["Resources"][role_id]["Properties"]
    documents = [inline["PolicyDocument"] for inline in role.get("Policies", [])]
    attached = [arn.get("Ref") for arn in role.get("ManagedPolicyArns", []) if isinstance(arn, dict)]
    for logical_id, policy in tmpl["Resources"].items():
        properties = policy.get("Properties", {})
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in properties.get("Roles", []):
            documents.append(properties["PolicyDocument"])
        if policy["Type"] == "AWS::IAM::ManagedPolicy" and (
            {"Ref": role_id} in properties.get("Roles", []) or logical_id in attached
        ):
            documents.append(properties["PolicyDocument"])
    return [s for document in documents for s in as_list(resolve_intrinsics(document, tmpl)["Statement"])]


class _Recorder:
    """A SageMaker client that records what the handler sends and answers like SageMaker."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def create_training_job(self, **request: Any) -> dict[str, Any]:
        self.sent.append((CREATE, request))
        return {"TrainingJobArn": job_arn(self.account, request["TrainingJobName"])}

    def update_training_job(self, **request: Any) -> dict[str, Any]:
        self.sent.append((UPDATE, request))
        return {"TrainingJobArn": job_arn(self.account, request["TrainingJobName"])}


def job_arn(account: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{account}:training-job/{name}"


@dataclass(frozen=True)
class Job:
    """One job of a stack: its name, the CreateTrainingJob request the handler sends for it, and
    the UpdateTrainingJob the handler sends to apply its in-place members."""

    logical_id: str
    name: str
    create: dict[str, Any]
    update: dict[str, Any] | None


def jobs_of(tmpl: dict[str, Any], account: str) -> list[Job]:
    """The stack's jobs as the handler sends them: ``on_create`` and ``apply_in_place`` (on a job
    that runs, so that every in-place member applies) against a recording client."""
    jobs = []
    for logical_id, resource in sorted(resources(tmpl, "Custom::SageMakerTrainingJob").items()):
        properties = {**resource["Properties"], "Request": request_of(resource["Properties"])}
        delivered = as_cloudformation_delivers(resolve_intrinsics(properties, tmpl))
        event = {
            "RequestType": "Create",
            "StackId": HANDLER_STACK_ID,
            "LogicalResourceId": logical_id,
            "RequestId": "5f0c3a3e-0000-4000-8000-000000000000",
            "ResourceProperties": delivered,
        }
        props = handler.parse_props(delivered)
        client = _Recorder(account)
        deadline = time.monotonic() + 900
        handler.on_create(client, event, props, deadline, handler.Responder(event, lambda url, body: None))
        [(_, create)] = client.sent
        running = {"TrainingJobName": create["TrainingJobName"], "TrainingJobStatus": "InProgress"}
        handler.apply_in_place(client, {**running, "SecondaryStatus": "Training"}, props.in_place(), deadline)
        update = client.sent[1][1] if len(client.sent) > 1 else None
        jobs.append(Job(logical_id, create["TrainingJobName"], create, update))
    return jobs


# ----- request contexts, as the SAR describes each key ---------------------------------------------


def instance_types(request: dict[str, Any]) -> list[str]:
    """sagemaker:InstanceTypes: "all instance types associated with the resource in the request"."""
    config = request.get("ResourceConfig", {})
    found = [config.get("InstanceType")]
    found += [member.get("InstanceType") for member in config.get("InstanceGroups", [])]
    found += [member.get("InstanceType") for member in config.get("InstancePreferences", [])]
    found += [rule.get("InstanceType") for member in RULE_MEMBERS for rule in request.get(member, [])]
    return list(dict.fromkeys(t for t in found if t))


def _put(context: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != []:
        context[key] = value


def create_contexts(request: dict[str, Any]) -> list[Context]:
    """The request contexts of a CreateTrainingJob request: one per file-system channel, since the
    SAR's single-valued FileSystem* keys do not say which channel fills them (one context when
    the request has none)."""
    config, vpc = request.get("ResourceConfig", {}), request.get("VpcConfig") or {}
    context: dict[str, Any] = {}
    _put(context, "sagemaker:InstanceTypes", instance_types(request))
    _put(context, "sagemaker:VpcSubnets", vpc.get("Subnets"))
    _put(context, "sagemaker:VpcSecurityGroupIds", vpc.get("SecurityGroupIds"))
    _put(context, "sagemaker:VolumeKmsKeyArn", config.get("VolumeKmsKeyId"))
    _put(context, "sagemaker:OutputKmsKeyArn", request.get("OutputDataConfig", {}).get("KmsKeyId"))
    _put(context, "sagemaker:NetworkIsolation", request.get("EnableNetworkIsolation"))
    _put(context, "sagemaker:InterContainerTrafficEncryption", request.get("EnableInterContainerTrafficEncryption"))
    _put(context, "sagemaker:MaxRuntimeInSeconds", request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds"))
    _put(context, "sagemaker:KeepAlivePeriod", config.get("KeepAlivePeriodInSeconds"))
    _put(context, "sagemaker:EnableRemoteDebug", request.get("RemoteDebugConfig", {}).get("EnableRemoteDebug"))
    tags = request.get("Tags", [])
    for tag in tags:
        context[f"aws:RequestTag/{tag['Key']}"] = tag["Value"]
    _put(context, "aws:TagKeys", [tag["Key"] for tag in tags])
    file_systems = [
        channel["DataSource"]["FileSystemDataSource"]
        for channel in request.get("InputDataConfig", [])
        if "FileSystemDataSource" in channel.get("DataSource", {})
    ]
    contexts: list[Context] = []
    for source in file_systems:
        chosen = dict(context)
        _put(chosen, "sagemaker:FileSystemId", source.get("FileSystemId"))
        _put(chosen, "sagemaker:FileSystemType", source.get("FileSystemType"))
        _put(chosen, "sagemaker:FileSystemAccessMode", source.get("FileSystemAccessMode"))
        _put(chosen, "sagemaker:FileSystemDirectoryPath", source.get("DirectoryPath"))
        contexts.append(chosen)
    return contexts or [context]


def update_context(request: dict[str, Any]) -> Context:
    """UpdateTrainingJob's keys (SAR: EnableRemoteDebug, InstanceTypes, KeepAlivePeriod): the
    instance types are those the update names (its profiler rules'); an update that names none
    leaves the key out."""
    context: dict[str, Any] = {}
    _put(context, "sagemaker:InstanceTypes", instance_types(request))
    _put(context, "sagemaker:KeepAlivePeriod", request.get("ResourceConfig", {}).get("KeepAlivePeriodInSeconds"))
    _put(context, "sagemaker:EnableRemoteDebug", request.get("RemoteDebugConfig", {}).get("EnableRemoteDebug"))
    return context


def training_plans(request: dict[str, Any]) -> list[str]:
    """The training plans a request runs on: CreateTrainingJob's optional training-plan resources."""
    config = request.get("ResourceConfig", {})
    plans = [config.get("TrainingPlanArn")]
    plans += [
        plan for preference in config.get("InstancePreferences", []) for plan in preference.get("TrainingPlanArns", [])
    ]
    return list(dict.fromkeys(plan for plan in plans if plan))


def may_create(statements: list[dict[str, Any]], account: str, request: dict[str, Any]) -> set[bool]:
    """Whether CreateTrainingJob is allowed, for each possible context of the request: allowed when
    the job's ARN and every training plan it names are (each resource is authorized)."""
    arns = [job_arn(account, request["TrainingJobName"]), *training_plans(request)]
    return {
        all(evaluate(statements, CREATE, arn, context) is Decision.ALLOW for arn in arns)
        for context in create_contexts(request)
    }


# ----- what differs from every job of a stack --------------------------------------------------------


def _instance_type_paths(request: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, the member holding it) of every instance type of a request."""
    config = request.get("ResourceConfig", {})
    if "InstanceType" in config:
        yield "ResourceConfig.InstanceType", config
    for member in ("InstanceGroups", "InstancePreferences"):
        for index, entry in enumerate(config.get(member, [])):
            yield f"ResourceConfig.{member}[{index}].InstanceType", entry
    for member in RULE_MEMBERS:
        for index, rule in enumerate(request.get(member, [])):
            if "InstanceType" in rule:
                yield f"{member}[{index}].InstanceType", rule


def _with(request: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    changed = copy.deepcopy(request)
    change(changed)
    return changed


def _setting(*path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change that sets the member at ``path`` (its parents created as needed)."""

    def change(request: dict[str, Any]) -> None:
        for member in path[:-1]:
            request = request.setdefault(member, {})
        request[path[-1]] = value

    return change


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Stack:
    """What the stack's jobs use, across all of them."""

    jobs: list[Job]
    account: str

    def requests(self) -> list[dict[str, Any]]:
        return [job.create for job in self.jobs]

    def instance_types(self) -> set[str]:
        return {t for request in self.requests() for t in instance_types(request)}

    def foreign_instance_type(self) -> str:
        return next(t for t in FOREIGN_INSTANCE_TYPES if t not in self.instance_types())

    def every(self, predicate: Callable[[dict[str, Any]], bool]) -> bool:
        return all(predicate(request) for request in self.requests())

    def keep_alives(self) -> list[Any]:
        return [r["ResourceConfig"]["KeepAlivePeriodInSeconds"] for r in self.requests() if _keep_alive(r) is not None]

    def names_a_key_by_alias(self) -> bool:
        keys = [r.get("ResourceConfig", {}).get("VolumeKmsKeyId") for r in self.requests()]
        keys += [r.get("OutputDataConfig", {}).get("KmsKeyId") for r in self.requests()]
        return any(isinstance(key, str) and ":alias/" in key for key in keys)

    def key(self, account: str) -> str:
        return f"arn:aws:kms:{REGION}:{account}:key/0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"


def _keep_alive(request: dict[str, Any]) -> Any:
    return request.get("ResourceConfig", {}).get("KeepAlivePeriodInSeconds")


def _runtime(request: dict[str, Any]) -> Any:
    return request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", SAGEMAKER_DEFAULT_RUNTIME)


def create_variants(stack: Stack, job: Job) -> Iterator[tuple[str, dict[str, Any]]]:
    """Requests no job of the stack sends, each where the policy can tell (and must deny)."""
    request = job.create
    yield "a job name outside the stack's", _with(request, _setting("TrainingJobName", value="another-stack-0f0f0f0f"))
    plan = f"arn:aws:sagemaker:{REGION}:{stack.account}:training-plan/another-plan"
    if "TrainingPlanArn" in request.get("ResourceConfig", {}):
        yield "another training plan", _with(request, _setting("ResourceConfig", "TrainingPlanArn", value=plan))
    foreign = stack.foreign_instance_type()
    for position, (where, _) in enumerate(_instance_type_paths(request)):

        def retype(changed: dict[str, Any], position: int = position) -> None:
            list(_instance_type_paths(changed))[position][1]["InstanceType"] = foreign

        yield f"{where} {foreign}", _with(request, retype)
    if stack.every(lambda r: bool(instance_types(r))):  # no serverless job in the stack

        def no_instances(changed: dict[str, Any]) -> None:
            config = changed.setdefault("ResourceConfig", {})
            for member in ("InstanceType", "InstanceGroups", "InstancePreferences"):
                config.pop(member, None)
            for member in RULE_MEMBERS:
                changed.pop(member, None)

        yield "no instance types at all (serverless shape)", _with(request, no_instances)
    if request.get("VpcConfig"):
        # Without a VPC the request may fit a job of the stack that runs outside one; only a
        # stack whose jobs all run in a VPC can be expected to deny every request without one.
        if stack.every(lambda r: bool(r.get("VpcConfig"))):
            yield "VpcConfig removed", _with(request, lambda r: r.pop("VpcConfig"))
        yield "another subnet", _with(request, lambda r: r["VpcConfig"]["Subnets"].append(FOREIGN_SUBNET))
        yield (
            "another security group",
            _with(request, lambda r: r["VpcConfig"]["SecurityGroupIds"].append(FOREIGN_GROUP)),
        )
    accounts = [("another account's", "999999999999")]
    if not stack.names_a_key_by_alias():  # a key known by an imported alias: any key of the account is allowed
        accounts.append(("another", stack.account))
    for which, account in accounts:
        key = stack.key(account)
        yield f"{which} volume key", _with(request, _setting("ResourceConfig", "VolumeKmsKeyId", value=key))
        yield f"{which} output key", _with(request, _setting("OutputDataConfig", "KmsKeyId", value=key))
    if stack.every(lambda r: not r.get("RemoteDebugConfig", {}).get("EnableRemoteDebug")):
        yield "remote debugging on", _with(request, _setting("RemoteDebugConfig", "EnableRemoteDebug", value=True))
    keep_alives = stack.keep_alives()
    if all(_number(k) is not None for k in keep_alives):
        longer = max(keep_alives, default=0) + 60
        yield (
            f"keep-alive {longer} s",
            _with(request, _setting("ResourceConfig", "KeepAlivePeriodInSeconds", value=longer)),
        )
    runtimes = [_runtime(r) for r in stack.requests()]
    if all(_number(t) is not None for t in runtimes):
        runtime = max(runtimes) + 1
        yield (
            f"MaxRuntimeInSeconds {runtime}",
            _with(request, _setting("StoppingCondition", "MaxRuntimeInSeconds", value=runtime)),
        )
    if stack.every(lambda r: r.get("EnableNetworkIsolation") is True):
        yield "network isolation off", _with(request, _setting("EnableNetworkIsolation", value=False))
    if stack.every(lambda r: r.get("EnableInterContainerTrafficEncryption") is True):
        yield "traffic encryption off", _with(request, _setting("EnableInterContainerTrafficEncryption", value=False))
    file_system_channels = [
        index
        for index, channel in enumerate(request.get("InputDataConfig", []))
        if "FileSystemDataSource" in channel.get("DataSource", {})
    ]
    # The FileSystem* keys are single-valued and the SAR does not say which of several file-system
    # channels fills them: with another channel beside it, a foreign file system may go unseen.
    if len(file_system_channels) == 1:
        [index] = file_system_channels

        def refile(changed: dict[str, Any]) -> None:
            changed["InputDataConfig"][index]["DataSource"]["FileSystemDataSource"]["FileSystemId"] = (
                FOREIGN_FILE_SYSTEM
            )

        yield f"InputDataConfig[{index}] on another file system", _with(request, refile)


def update_variants(stack: Stack, job: Job) -> Iterator[tuple[str, dict[str, Any]]]:
    """UpdateTrainingJob requests that go beyond what the stack's jobs have (must be denied)."""
    name = {"TrainingJobName": job.name}
    if stack.every(lambda r: not r.get("RemoteDebugConfig", {}).get("EnableRemoteDebug")):
        yield "remote debugging on", {**name, "RemoteDebugConfig": {"EnableRemoteDebug": True}}
    keep_alives = stack.keep_alives()
    if all(_number(k) is not None for k in keep_alives):
        longer = max(keep_alives, default=0) + 60
        yield f"keep-alive {longer} s", {**name, "ResourceConfig": {"KeepAlivePeriodInSeconds": longer}}
    rule = {
        "RuleConfigurationName": "Forged",
        "RuleEvaluatorImage": "image",
        "InstanceType": stack.foreign_instance_type(),
    }
    yield "a profiler rule on another instance type", {**name, "ProfilerRuleConfigurations": [rule]}


# ----- the tests ------------------------------------------------------------------------------


@cache
def _stack(name: str) -> tuple[list[dict[str, Any]], Stack]:
    """The handler's statements and the stack's jobs, built once per process."""
    get_template, account = STACKS[name]
    tmpl = get_template()
    return handler_statements(tmpl), Stack(jobs_of(tmpl, account), account)


def _report(problems: list[str]) -> str:
    return f"{len(problems)} problems:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", sorted(STACKS))
def test_the_handler_may_start_each_job_of_the_stack(name: str) -> None:
    statements, stack = _stack(name)
    problems = [
        f"{job.logical_id} ({job.name}): denied"
        for job in stack.jobs
        if may_create(statements, stack.account, job.create) != {True}
    ]
    assert not problems, _report(problems)


@pytest.mark.parametrize("name", sorted(STACKS))
def test_the_handler_may_start_nothing_else(name: str) -> None:
    """Each variant must be denied whichever way the request context is filled."""
    statements, stack = _stack(name)
    problems, checked = [], 0
    for job in stack.jobs:
        for variant, request in create_variants(stack, job):
            checked += 1
            if True in may_create(statements, stack.account, request):
                problems.append(f"{job.logical_id}: {variant}: allowed")
    assert checked
    assert not problems, _report(problems)


@pytest.mark.parametrize("name", sorted(STACKS))
def test_the_handler_may_update_its_jobs_in_place(name: str) -> None:
    statements, stack = _stack(name)
    problems = []
    for job in stack.jobs:
        updates = [("in-place members", job.update)] if job.update else []
        if _keep_alive(job.create) is not None:
            # Deleting a job releases its warm pool first (delete_job: a keep-alive of 0).
            updates.append(
                ("warm pool released", {"TrainingJobName": job.name, "ResourceConfig": {"KeepAlivePeriodInSeconds": 0}})
            )
        for what, update in updates:
            assert update is not None
            got = evaluate(statements, UPDATE, job_arn(stack.account, job.name), update_context(update))
            if got is not Decision.ALLOW:
                problems.append(f"{job.logical_id}: {what} {json.dumps(update, sort_keys=True)}: {got.value}")
    assert not problems, _report(problems)


@pytest.mark.parametrize("name", sorted(STACKS))
def test_the_handler_may_update_nothing_beyond_the_jobs(name: str) -> None:
    statements, stack = _stack(name)
    problems = []
    for job in stack.jobs:
        for variant, update in update_variants(stack, job):
            got = evaluate(statements, UPDATE, job_arn(stack.account, job.name), update_context(update))
            if got is Decision.ALLOW:
                problems.append(f"{job.logical_id}: {variant}: allowed")
    assert not problems, _report(problems)


def test_the_handler_request_carries_its_name_and_identity_tags() -> None:
    _, stack = _stack("train_and_serve")
    [job] = stack.jobs
    prefix = template_of("train_and_serve")["Resources"][job.logical_id]["Properties"]["JobNamePrefix"]
    assert re.fullmatch(re.escape(prefix) + "-[0-9a-f]{8}", job.name)
    keys = {tag["Key"] for tag in job.create["Tags"]}
    assert {handler.TAG_STACK, handler.TAG_RESOURCE, handler.TAG_REQUEST, handler.TAG_SPEC, handler.TAG_GATE} <= keys
    [context] = create_contexts(job.create)
    assert context[f"aws:RequestTag/{handler.TAG_STACK}"] == HANDLER_STACK_ID
    assert sorted(context["aws:TagKeys"]) == sorted(keys)  # type: ignore[arg-type]


def test_contexts_hold_every_instance_type_and_one_file_system_each() -> None:
    _, stack = _stack("whole_api")
    everything = next(job for job in stack.jobs if job.logical_id.startswith("Everything"))
    contexts = create_contexts(everything.create)
    assert len(contexts) == 2
    assert {c["sagemaker:FileSystemType"] for c in contexts} == {"EFS", "FSxLustre"}
    assert contexts[0]["sagemaker:InstanceTypes"] == [
        "ml.p4d.24xlarge",
        "ml.c5.4xlarge",
        "ml.t3.medium",
        "ml.m5.xlarge",
    ]
    serverless = next(job for job in stack.jobs if job.logical_id.startswith("FineTune"))
    [context] = create_contexts(serverless.create)
    assert "sagemaker:InstanceTypes" not in context and "sagemaker:VpcSubnets" not in context


# ----- the evaluator, as the IAM User Guide documents evaluation ------------------------------------

ARN = "arn:aws:sagemaker:us-east-1:111111111111:training-job/job-1"


def _allow(condition: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": CREATE, "Resource": ARN, "Condition": condition, **extra}


@pytest.mark.parametrize(
    ("operator", "values", "context", "holds"),
    [
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a"]}, True),
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a", "c"]}, False),
        ("ForAllValues:StringEquals", ["a"], {}, True),  # a missing key: true
        ("ForAllValues:StringEquals", ["a"], {"k": []}, True),  # an empty set: true
        ("ForAnyValue:StringEquals", ["a"], {}, False),
        ("ForAnyValue:StringEquals", ["a"], {"k": ["b", "a"]}, True),
        ("ForAnyValue:StringEqualsIfExists", ["a"], {}, True),
        ("StringEquals", ["a", "b"], {"k": "b"}, True),
        ("StringEquals", "a", {}, False),
        ("StringEqualsIfExists", "a", {}, True),
        ("StringNotEquals", "a", {}, True),  # a negated operator on a missing key: true
        ("StringNotEquals", ["a", "b"], {"k": "b"}, False),
        ("StringEqualsIgnoreCase", "ABC", {"k": "abc"}, True),
        ("StringLike", "ml.*", {"k": "ml.m5.xlarge"}, True),
        ("StringLike", "ml.?5", {"k": "ml.m5"}, True),
        ("NumericLessThanEquals", "600", {"k": 600}, True),
        ("NumericLessThanEquals", "600", {"k": 660}, False),
        ("NumericLessThanEqualsIfExists", "600", {}, True),
        ("NumericLessThanEquals", "600", {}, False),
        ("Bool", "true", {"k": True}, True),
        ("Bool", "true", {"k": False}, False),
        ("BoolIfExists", "false", {}, True),
        ("Null", "true", {}, True),
        ("Null", "false", {}, False),
        ("Null", "false", {"k": ["a"]}, True),
        ("ArnEquals", "arn:aws:kms:us-east-1:1:key/*", {"k": "arn:aws:kms:us-east-1:1:key/k"}, True),
        ("ArnLike", "arn:aws:kms:*:1:key/*", {"k": "arn:aws:kms:us-east-1:2:key/k"}, False),
        ("ArnLike", "arn:aws:kms:us-east-1:1:*", {"k": "arn:aws:kms:us-east-1:1:alias/a"}, True),
    ],
)
def test_condition_operators(operator: str, values: Any, context: Context, holds: bool) -> None:
    assert condition_holds(operator, "k", values, context) is holds


def test_conditions_are_anded_and_keys_are_case_insensitive() -> None:
    statement = _allow({"StringEquals": {"Sagemaker:A": "1", "sagemaker:b": "2"}, "Null": {"sagemaker:c": "true"}})
    assert evaluate([statement], CREATE, ARN, {"sagemaker:a": "1", "SAGEMAKER:B": "2"}) is Decision.ALLOW
    assert evaluate([statement], CREATE, ARN, {"sagemaker:a": "1", "sagemaker:b": "3"}) is Decision.IMPLICIT_DENY
    assert evaluate([statement], CREATE, ARN, {"sagemaker:a": "1", "sagemaker:b": "2", "sagemaker:c": "x"}) is (
        Decision.IMPLICIT_DENY
    )


def test_an_explicit_deny_wins_and_actions_and_resources_must_match() -> None:
    allow = {"Effect": "Allow", "Action": "sagemaker:Create*", "Resource": "arn:aws:sagemaker:*:*:training-job/job-*"}
    deny = {
        "Effect": "Deny",
        "Action": CREATE,
        "Resource": "*",
        "Condition": {"Bool": {"sagemaker:NetworkIsolation": "false"}},
    }
    assert evaluate([allow, deny], CREATE, ARN, {}) is Decision.ALLOW
    assert evaluate([allow, deny], CREATE, ARN, {"sagemaker:NetworkIsolation": False}) is Decision.EXPLICIT_DENY
    assert evaluate([allow], "sagemaker:createtrainingjob", ARN, {}) is Decision.ALLOW
    assert evaluate([allow], "sagemaker:DescribeTrainingJob", ARN, {}) is Decision.IMPLICIT_DENY
    assert evaluate([allow], CREATE, ARN.replace("job-1", "other"), {}) is Decision.IMPLICIT_DENY
    everything_else = {"Effect": "Allow", "NotAction": CREATE, "NotResource": ARN}
    assert evaluate([everything_else], CREATE, "*", {}) is Decision.IMPLICIT_DENY
    assert evaluate([everything_else], UPDATE, ARN + "x", {}) is Decision.ALLOW


def test_what_the_evaluator_does_not_model_is_refused() -> None:
    with pytest.raises(UnsupportedPolicy):
        evaluate(
            [_allow({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})],
            CREATE,
            ARN,
            {"aws:CurrentTime": "x"},
        )
    with pytest.raises(UnsupportedPolicy):
        evaluate([{"Effect": "Allow", "Action": CREATE, "Resource": "arn:aws:s3:::${aws:username}"}], CREATE, ARN, {})
    with pytest.raises(UnsupportedPolicy):
        condition_holds("StringEquals", "k", "a", {"k": ["a", "b"]})
    with pytest.raises(UnsupportedPolicy):
        evaluate([{"Effect": "Allow", "Principal": "*", "Action": CREATE, "Resource": "*"}], CREATE, ARN, {})
    with pytest.raises(ValueError, match="Null takes neither"):
        parse_operator("NullIfExists")
