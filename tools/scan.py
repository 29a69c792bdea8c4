"""``make scan``: checkov and cfripper over the template of every tested stack configuration.

Only the findings listed in ``ACCEPTED`` may remain, each with the reason the README gives;
anything else fails the scan. The scanners live in their own virtualenv (``.venv-scan``):
their pins would otherwise downgrade the project's botocore.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCANNERS = ROOT / ".venv-scan" / "bin"

_HANDLER = r"SageMakerTrainingJobProviderHandler[0-9A-F]{8}"
# (scanner, rule, logical id pattern) -> reason.
ACCEPTED: dict[tuple[str, str, str], str] = {
    ("checkov", "CKV_AWS_115", _HANDLER): "Reserved concurrency would cap how many of the stack's jobs start at "
    "once and take capacity from the account while the function is idle.",
    ("checkov", "CKV_AWS_117", _HANDLER): "The handler calls only AWS APIs and CloudFormation's response URL over "
    "TLS and reaches nothing inside a VPC.",
    ("checkov", "CKV_AWS_173", _HANDLER): "Its environment holds the stack id and the job name prefix, both "
    "public in the template; no secret.",
    ("checkov", "CKV_AWS_18", r"SageMakerTrainingStorageAccessLogs[0-9A-F]{8}"): "It is the access-log bucket: "
    "logging its own accesses would log forever.",
    ("checkov", "CKV_AWS_158", r"SageMakerTrainingJobProviderLogs[0-9A-F]{8}"): "Only in stacks without a "
    "training key of their own: give one with TrainingJobProvider.of(stack).encrypt_logs(key).",
    ("checkov", "CKV_AWS_109", r"\w*Role(Default)?Policy[0-9A-F]{8}"): "ec2:DeleteNetworkInterfacePermission "
    "(VPC jobs) supports no resource-level permission that SageMaker's documentation shows; every other ENI "
    "action is limited to the job's subnets.",
    ("checkov", "CKV_AWS_158", r"FlowLogLogGroup[0-9A-F]{8}"): "The test's own VPC flow log, not the library's.",
    ("cfripper", "WildcardResourceRule", r"SageMakerTrainingJobProviderRoleDefaultPolicy[0-9A-F]{8}"): (
        "sagemaker:ListTrainingJobs supports no resource-level permissions."
    ),
    ("cfripper", "WildcardResourceRule", r"\w*Role(Default)?Policy[0-9A-F]{8}"): (
        "sagemaker:Search, which an Experiments run's load_run calls, supports no resource-level permissions."
    ),
    ("cfripper", "GenericResourceWildcardPolicyRule", r"(SageMakerTrainingStorageKey|EndpointKey)[0-9A-F]{8}"): (
        "CDK's default key policy: the account's root may administer the key (kms:*), and IAM policies decide "
        "who uses it, as KMS recommends; without it the key could become unmanageable."
    ),
}


def _accepted(scanner: str, rule: str, logical_id: str) -> str | None:
    for (who, what, pattern), reason in ACCEPTED.items():
        if who == scanner and what == rule and re.fullmatch(pattern, logical_id):
            return reason
    return None


def _checkov(folder: Path) -> list[tuple[str, str, str, str]]:
    done = subprocess.run(
        [str(SCANNERS / "checkov"), "-d", str(folder), "--framework", "cloudformation", "--quiet", "-o", "json"],
        capture_output=True,
        text=True,
    )
    reports: Any = json.loads(done.stdout)
    found = []
    for report in reports if isinstance(reports, list) else [reports]:
        for failed in report["results"]["failed_checks"]:
            found.append(
                (failed["file_path"].strip("/"), "checkov", failed["check_id"], failed["resource"].split(".")[-1])
            )
    return found


def _cfripper(template: Path) -> list[tuple[str, str, str, str]]:
    done = subprocess.run(
        [str(SCANNERS / "cfripper"), str(template), "--format", "json"], capture_output=True, text=True
    )
    result = json.loads(done.stdout[done.stdout.index("{") :])
    return [
        (template.name, "cfripper", failure["rule"], logical_id)
        for failure in result["failures"]
        for logical_id in failure["resource_ids"] or ["-"]
    ]


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.stacks import CONFIGURATIONS, template_of

    with tempfile.TemporaryDirectory() as folder:
        for name in sorted(CONFIGURATIONS):
            (Path(folder) / f"{name}.json").write_text(json.dumps(template_of(name), indent=1))
        findings = _checkov(Path(folder))
        for template in sorted(Path(folder).glob("*.json")):
            findings += _cfripper(template)
    unexplained = 0
    for file, scanner, rule, logical_id in sorted(set(findings)):
        reason = _accepted(scanner, rule, logical_id)
        unexplained += reason is None
        print(f"{'accepted' if reason else 'FINDING '} {file}: {scanner} {rule} {logical_id}")
    print(f"{len(set(findings))} findings in {len(CONFIGURATIONS)} templates, {unexplained} not accepted")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
