"""A small IAM evaluator for identity-based policies, as the IAM User Guide documents it
("Policy evaluation logic", "IAM JSON policy elements: Condition operators", "Single-valued vs.
multivalued context keys": https://docs.aws.amazon.com/IAM/latest/UserGuide/).

What it models, for one request (an action, one resource ARN and a request context):

- ``Effect`` Allow and Deny: an explicit Deny wins over any Allow; no applicable Allow is an
  implicit deny.
- ``Action`` / ``NotAction`` (case-insensitive, ``*`` and ``?`` wildcards) and ``Resource`` /
  ``NotResource`` (``*``, or an ARN matched part by part, case-sensitive, with wildcards).
- ``Condition``: every operator and every key must hold; a key's values are alternatives.
  Operators: ``String*`` (Equals, NotEquals, EqualsIgnoreCase, NotEqualsIgnoreCase, Like, NotLike),
  ``Numeric*``, ``Bool``, ``Arn*`` (Equals and Like both match wildcards, part by part), ``Null``;
  each with ``IfExists`` (but ``Null``), and ``ForAllValues:`` / ``ForAnyValue:``.
- A missing key: false, but true for a negated operator (``StringNotEquals``, ``ArnNotLike`` ...)
  and for ``...IfExists``; ``ForAllValues`` holds for a missing key, ``ForAnyValue`` does not
  (unless ``IfExists``). An empty list in the context counts as a missing key.

What it does NOT model (a policy using one of these raises ``UnsupportedPolicy`` where it can tell):
service control and resource control policies, permission boundaries, session policies,
resource-based policies (``Principal`` / ``NotPrincipal``), cross-account rules, policy variables
(``${aws:username}``), ``Date*``, ``IpAddress``, ``Binary*`` operators, a single-valued operator on
a multivalued context value, AWS managed policies (the caller passes the statements), and which
keys AWS really puts in a request's context: the caller builds the context.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

ContextValue = str | int | float | bool | Sequence[str]
Context = Mapping[str, ContextValue]

_FAMILIES = {
    "String": ("Equals", "NotEquals", "EqualsIgnoreCase", "NotEqualsIgnoreCase", "Like", "NotLike"),
    "Numeric": ("Equals", "NotEquals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals"),
    "Date": ("Equals", "NotEquals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals"),
    "Arn": ("Equals", "Like", "NotEquals", "NotLike"),
    "Bool": ("",),
    "Binary": ("Equals",),
    "IpAddress": ("",),
    "NotIpAddress": ("",),
    "Null": ("",),
}
_MODELLED = frozenset({"String", "Numeric", "Arn", "Bool", "Null"})
SET_QUALIFIERS = ("ForAllValues", "ForAnyValue")


class UnsupportedPolicy(ValueError):
    """A policy or context this evaluator does not model (rather than a guessed answer)."""


class Decision(Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True)
class Operator:
    """A condition operator such as ``ForAllValues:StringEqualsIfExists``, taken apart."""

    qualifier: str | None  # "ForAllValues", "ForAnyValue" or None
    family: str  # "String", "Numeric", "Date", "Arn", "Bool", "Binary", "IpAddress", "NotIpAddress", "Null"
    comparison: str  # "Equals", "NotLike", ... ("" for Bool, Null and the IP operators)
    if_exists: bool

    @property
    def negated(self) -> bool:
        return self.comparison.startswith("Not") or self.family == "NotIpAddress"


def parse_operator(text: str) -> Operator:
    """Takes a condition operator apart; ValueError for one IAM does not define."""
    qualifier, _, rest = text.rpartition(":")
    if qualifier and qualifier not in SET_QUALIFIERS:
        raise ValueError(f"unknown set operator {qualifier!r} in {text!r}")
    if_exists = rest.endswith("IfExists")
    base = rest.removesuffix("IfExists")
    for family, comparisons in _FAMILIES.items():
        comparison = base.removeprefix(family)
        if base.startswith(family) and comparison in comparisons:
            if family == "Null" and (if_exists or qualifier):
                raise ValueError(f"{text!r}: Null takes neither IfExists nor a set operator")
            return Operator(qualifier or None, family, comparison, if_exists)
    raise ValueError(f"unknown condition operator {text!r}")


# ----- matching ------------------------------------------------------------------------------


def _no_variables(value: str) -> str:
    if "${" in value:
        raise UnsupportedPolicy(f"policy variables are not modelled: {value!r}")
    return value


def _glob(pattern: str, value: str) -> bool:
    """IAM's wildcards, case-sensitive: ``*`` any run of characters (colons and slashes too), ``?``
    any one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """ArnLike / ArnEquals and the Resource element: the six colon-separated parts of the ARN
    compared one by one with wildcards (the last part, the resource, keeps its colons)."""
    if pattern == "*":
        return True
    want, got = pattern.split(":", 5), arn.split(":", 5)
    if len(want) != 6 or len(got) != 6:
        return False
    return all(_glob(w, g) for w, g in zip(want, got, strict=True))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _text(value: Any) -> str:
    """A context or policy value as IAM compares it: booleans as ``true`` / ``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Any) -> float | None:
    try:
        return float(_text(value))
    except ValueError:
        return None


_NUMERIC = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a == b,  # negated by the caller
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def _matches(operator: Operator, context_value: Any, policy_value: Any) -> bool:
    """The positive comparison of one context value with one policy value (negation aside)."""
    got, want = _text(context_value), _no_variables(_text(policy_value))
    comparison = operator.comparison.removeprefix("Not")
    if operator.family == "String":
        if comparison == "Like":
            return _glob(want, got)
        if comparison == "EqualsIgnoreCase":
            return got.casefold() == want.casefold()
        return got == want
    if operator.family == "Arn":
        return arn_like(want, got)
    if operator.family == "Bool":
        return got.lower() == want.lower()
    if operator.family == "Numeric":
        a, b = _number(got), _number(want)
        return a is not None and b is not None and bool(_NUMERIC[operator.comparison](a, b))
    raise UnsupportedPolicy(f"{operator.family} operators are not modelled")


def _value_holds(operator: Operator, context_value: Any, policy_values: list[Any]) -> bool:
    """One context value against the key's policy values (alternatives; all fail when negated)."""
    hit = any(_matches(operator, context_value, value) for value in policy_values)
    return not hit if operator.negated else hit


def condition_holds(operator_text: str, key: str, policy_values: Any, context: Context) -> bool:
    """One key of one condition operator block, against the request context."""
    operator = parse_operator(operator_text)
    if operator.family not in _MODELLED:
        raise UnsupportedPolicy(f"{operator_text} is not modelled")
    values = _as_list(policy_values)
    present = _lookup(context, key)
    if operator.family == "Null":
        wanted = {_text(v).lower() for v in values}
        return ("true" if present is None else "false") in wanted
    if present is None:
        if operator.qualifier == "ForAllValues":
            return True
        if operator.qualifier == "ForAnyValue":
            return operator.if_exists
        return operator.if_exists or operator.negated
    if operator.qualifier is None:
        if isinstance(present, list):
            raise UnsupportedPolicy(f"{operator_text} on the multivalued context key {key}")
        return _value_holds(operator, present, values)
    members = _as_list(present)
    check = all if operator.qualifier == "ForAllValues" else any
    return check(_value_holds(operator, member, values) for member in members)


def _lookup(context: Context, key: str) -> Any:
    """A key's value (names are case-insensitive), or None when absent or an empty list."""
    wanted = key.lower()
    for name, value in context.items():
        if name.lower() == wanted:
            if isinstance(value, list | tuple) and not value:
                return None
            return list(value) if isinstance(value, list | tuple) else value
    return None


# ----- statements ----------------------------------------------------------------------------


def _names(statement: Mapping[str, Any], element: str) -> list[str] | None:
    if element not in statement:
        return None
    return [_no_variables(str(v)) for v in _as_list(statement[element])]


def _action_matches(patterns: Iterable[str], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


def _resource_matches(patterns: Iterable[str], resource: str) -> bool:
    return any(arn_like(pattern, resource) for pattern in patterns)


def statement_applies(statement: Mapping[str, Any], action: str, resource: str, context: Context) -> bool:
    """Whether the statement's action, resource and conditions all match the request."""
    if "Principal" in statement or "NotPrincipal" in statement:
        raise UnsupportedPolicy("resource-based policies (Principal) are not modelled")
    actions, not_actions = _names(statement, "Action"), _names(statement, "NotAction")
    if actions is not None:
        if not _action_matches(actions, action):
            return False
    elif not_actions is not None:
        if _action_matches(not_actions, action):
            return False
    else:
        raise UnsupportedPolicy("a statement without Action or NotAction")
    resources, not_resources = _names(statement, "Resource"), _names(statement, "NotResource")
    if resources is not None:
        if not _resource_matches(resources, resource):
            return False
    elif not_resources is not None:
        if _resource_matches(not_resources, resource):
            return False
    else:
        raise UnsupportedPolicy("a statement without Resource or NotResource")
    conditions: Mapping[str, Mapping[str, Any]] = statement.get("Condition", {})
    return all(
        condition_holds(operator, key, values, context)
        for operator, block in conditions.items()
        for key, values in block.items()
    )


def evaluate(statements: Iterable[Mapping[str, Any]], action: str, resource: str, context: Context) -> Decision:
    """The decision of identity-based policy statements for one request."""
    allowed = False
    for statement in statements:
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise UnsupportedPolicy(f"Effect {effect!r}")
        if statement_applies(statement, action, resource, context):
            if effect == "Deny":
                return Decision.EXPLICIT_DENY
            allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
