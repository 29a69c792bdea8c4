"""The local deployment tooling refuses anything that could reach real AWS."""

from __future__ import annotations

import pytest

from constructs_lib.local import local_environment, refuse_unless_local

LOCAL = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_ENDPOINT_URL": "http://localhost:4566",
}


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"AWS_ENDPOINT_URL": "https://sagemaker.us-east-1.amazonaws.com"}, "not on loopback"),
        ({"AWS_ENDPOINT_URL_S3": "http://10.0.0.5:9000"}, "not on loopback"),
        ({"AWS_ACCESS_KEY_ID": "AKIAABCDEFGHIJKLMNOP"}, "looks like a real access key"),
        ({"AWS_SESSION_TOKEN": "FwoGZXIvYXdzE"}, "AWS_SESSION_TOKEN is set"),
        ({"AWS_PROFILE": "prod"}, "AWS_PROFILE is set"),
    ],
)
def test_guard_refuses_real_endpoints_and_credentials(extra: dict[str, str], reason: str) -> None:
    with pytest.raises(SystemExit, match=reason):
        refuse_unless_local({**LOCAL, **extra})


def test_guard_accepts_loopback_and_fake_credentials() -> None:
    refuse_unless_local(LOCAL)
    refuse_unless_local({**LOCAL, "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"})


def test_local_environment_drops_inherited_aws_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "prod")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    env = local_environment(5000)
    assert env["AWS_ENDPOINT_URL"] == "http://localhost:5000"
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
