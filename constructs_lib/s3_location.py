"""An S3 location (bucket + key prefix) and the exact IAM access a training job needs on it."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct, IConstruct

from .errors import TrainingJobValidationError
from .memo import per_object
from .policy import allow, allow_s3_encryption, arn, principal_of

_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(?P<key>.*))?$")


@dataclass(frozen=True)
class S3Location:
    """A bucket and key prefix. Build it with ``from_bucket`` (preferred) or ``from_uri``.

    With a bucket object, the bucket's KMS key (if any) is known and the job role gets
    exactly the KMS actions it needs on it; with a URI, pass ``encryption_key`` yourself.
    """

    bucket_name: str
    key_prefix: str = ""
    bucket: s3.IBucket | None = None
    encryption_key: kms.IKey | None = None
    asset_path: str | None = None  # a local file or directory, until a job binds it
    asset_exclude: Sequence[str] = field(default_factory=tuple)
    object_only: bool = False  # one object (an asset): grants name it exactly, no wildcard

    @classmethod
    def from_asset(cls, path: str | os.PathLike[str], *, exclude: Sequence[str] = ()) -> S3Location:
        """A small local dataset, uploaded by ``cdk deploy`` as an S3 asset of the job that uses it
        (hashed: unchanged data uploads nothing; changed data starts a new job). A file arrives in
        the channel as it is (named by its hash, extension kept); a directory arrives as one zip
        archive (CDK's directory asset), which the training code extracts. The role may read
        exactly that object."""
        if not os.path.exists(path):
            raise TrainingJobValidationError(
                "S3Location.from_asset", [f"path: got {os.fspath(path)!r}; an existing file or directory"]
            )
        return cls(bucket_name="", asset_path=os.fspath(path), asset_exclude=tuple(exclude))

    def bind(self, scope: Construct, construct_id: str) -> S3Location:
        """This location, its asset (if any) created under ``scope``."""
        if self.asset_path is None:
            return self
        asset = s3_assets.Asset(scope, construct_id, path=self.asset_path, exclude=list(self.asset_exclude))
        return S3Location.of_asset(asset)

    @classmethod
    def of_asset(cls, asset: s3_assets.Asset) -> S3Location:
        """The one object of an S3 asset."""
        return cls(
            bucket_name=asset.s3_bucket_name, key_prefix=asset.s3_object_key, bucket=asset.bucket, object_only=True
        )

    @classmethod
    def from_bucket(
        cls, bucket: s3.IBucket, key_prefix: str = "", *, encryption_key: kms.IKey | None = None
    ) -> S3Location:
        """A prefix in a bucket object. Default prefix: the whole bucket.

        ``encryption_key`` defaults to the bucket's own ``encryption_key``.
        """
        return cls(
            bucket_name=per_object(bucket, "name", lambda: bucket.bucket_name),
            key_prefix=key_prefix.lstrip("/"),
            bucket=bucket,
            encryption_key=encryption_key or per_object(bucket, "key", lambda: bucket.encryption_key),
        )

    @classmethod
    def from_uri(cls, uri: str, *, encryption_key: kms.IKey | None = None) -> S3Location:
        """An ``s3://bucket/prefix`` URI. Raises TrainingJobValidationError if malformed."""
        match = _S3_URI.match(uri) if isinstance(uri, str) else None
        if match is None:
            raise TrainingJobValidationError(
                "S3Location.from_uri",
                [f"uri: got {uri!r}; expected s3://<bucket-name>/<key prefix> with a valid bucket name"],
            )
        return cls(bucket_name=match["bucket"], key_prefix=match["key"] or "", encryption_key=encryption_key)

    @property
    def s3_uri(self) -> str:
        """The location as ``s3://bucket/prefix``."""
        return f"s3://{self.bucket_name}/{self.key_prefix}"

    def child(self, key: str) -> S3Location:
        """The location ``key`` below this one."""
        base = self.key_prefix if not self.key_prefix or self.key_prefix.endswith("/") else self.key_prefix + "/"
        return S3Location(
            bucket_name=self.bucket_name,
            key_prefix=base + key,
            bucket=self.bucket,
            encryption_key=self.encryption_key,
        )

    def bucket_arn(self, scope: IConstruct) -> str:
        bucket = self.bucket
        if bucket is not None:
            return per_object(bucket, "arn", lambda: bucket.bucket_arn)
        return arn(scope, "s3", self.bucket_name, regional=False)

    def objects_arn(self, scope: IConstruct) -> str:
        return f"{self.bucket_arn(scope)}/{self.key_prefix}{'' if self.object_only else '*'}"

    def grant_read(self, scope: IConstruct, grantee: iam.IGrantable) -> None:
        """ListBucket on the prefix, GetObject below it, Decrypt on its key: nothing else."""
        principal = principal_of(grantee)
        allow(
            principal,
            ["s3:ListBucket"],
            [self.bucket_arn(scope)],
            conditions={
                "StringEquals" if self.object_only else "StringLike": {
                    "s3:prefix": [self.key_prefix if self.object_only else f"{self.key_prefix}*"]
                }
            },
        )
        allow(principal, ["s3:GetObject"], [self.objects_arn(scope)])
        if self.encryption_key is not None:
            allow_s3_encryption(scope, principal, self.encryption_key, write=False)

    def grant_write(self, scope: IConstruct, grantee: iam.IGrantable) -> None:
        """PutObject and AbortMultipartUpload below the prefix; on its key, GenerateDataKey and
        Decrypt through S3 only (multipart uploads read their data keys back), and Encrypt."""
        principal = principal_of(grantee)
        allow(principal, ["s3:PutObject", "s3:AbortMultipartUpload"], [self.objects_arn(scope)])
        if self.encryption_key is not None:
            allow_s3_encryption(scope, principal, self.encryption_key, write=True)

    def grant_read_write(self, scope: IConstruct, grantee: iam.IGrantable) -> None:
        """Read and write (checkpoints): the union of ``grant_read`` and ``grant_write``."""
        self.grant_read(scope, grantee)
        self.grant_write(scope, grantee)
