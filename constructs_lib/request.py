"""The CreateTrainingJob request: rendered once, at synth time, as one dict (CDK tokens
inside), and what in it identifies the job."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

HyperParameterValue = str | int | float | bool | Sequence[Any] | Mapping[str, Any] | None
"""A hyperparameter as given: str, int, float or bool; in script mode (``source_code`` on a framework
image) also lists, dicts and None, JSON-encoded as the SageMaker Python SDK encodes them."""
# Members UpdateTrainingJob changes in place (the handler's IN_PLACE says the same).
IN_PLACE_MEMBERS = ("ProfilerConfig", "RemoteDebugConfig", "ResourceConfig.KeepAlivePeriodInSeconds")


class OutputCompressionType(Enum):
    """Compression of the model artifacts SageMaker uploads."""

    GZIP = "GZIP"
    NONE = "NONE"


def hyperparameter_string(value: HyperParameterValue) -> str:
    """The one documented way hyperparameters become strings.

    ``True``/``False`` -> ``"true"``/``"false"``; ints -> decimal digits; floats -> Python's
    shortest round-trip form (``0.01`` -> ``"0.01"``, ``1e-05`` -> ``"1e-05"``);
    strings unchanged.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    # A structured value outside script mode: refused by the rules (naming its key) before anything
    # deploys; rendered as JSON so that the API model's check does not report it a second time.
    return json.dumps(value, default=repr)


def job_identity(request: Mapping[str, Any], name_prefix: str, fixed_name: str | None, run_trigger: Any = None) -> str:
    """A hash of what identifies the job (as the handler's spec tag does): tags and the
    members updated in place are left out, so only a new job gets a new identity; a run trigger
    counts only when set."""
    identity = json.loads(json.dumps(request))
    identity.pop("Tags", None)
    for path in IN_PLACE_MEMBERS:
        *parents, last = path.split(".")
        node = identity
        for parent in parents:
            node = node.get(parent, {})
        node.pop(last, None)
    spec: dict[str, Any] = {"request": identity, "prefix": name_prefix, "name": fixed_name}
    if run_trigger is not None:
        spec["trigger"] = run_trigger
    canonical = json.dumps(spec, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class _ReadOnlyDict(dict[str, Any]):
    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "TrainingJob.request is read-only: change a member with job.add_request_override('Member.Path', value)"
        )

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]


class _ReadOnlyList(list[Any]):
    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "TrainingJob.request is read-only: change a member with job.add_request_override('Member[0].Path', value)"
        )

    __setitem__ = __delitem__ = append = extend = insert = pop = remove = clear = _refuse


def read_only(value: Any) -> Any:
    """A copy of a rendered request that refuses changes (``TrainingJob.request``)."""
    if isinstance(value, dict):
        return _ReadOnlyDict({k: read_only(v) for k, v in value.items()})
    if isinstance(value, list):
        return _ReadOnlyList(read_only(v) for v in value)
    return value
