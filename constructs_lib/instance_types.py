"""Facts about SageMaker training instance types that the API model does not carry."""

from __future__ import annotations

import re

# Families whose instances come with local NVMe instance storage even without a "d"
# attribute in their name (EC2 instance store volumes); SageMaker rejects VolumeKmsKeyId
# for them because the local volumes are encrypted by hardware.
_NVME_FAMILIES = {"g5", "g6", "gr6", "p5", "p6", "trn1", "trn2"}
_FAMILY = re.compile(r"^ml\.(?P<cls>[a-z]+)(?P<gen>\d+)(?P<attrs>[a-z0-9-]*)\.")


def has_local_nvme_storage(instance_type: str) -> bool:
    """True for instance types with local NVMe storage (``ml.p4d.24xlarge``, ``ml.g5.xlarge``...)."""
    match = _FAMILY.match(instance_type)
    if match is None:
        return False
    family = f"{match['cls']}{match['gen']}"
    attrs = match["attrs"].split("-")[0]
    return family in _NVME_FAMILIES or "d" in attrs
