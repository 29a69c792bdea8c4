"""The KMS key and S3 buckets created for training jobs whose user brings none.

One set per stack, shared by every TrainingJob in it: each job writes under its own
prefix and its role can reach only that prefix.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .errors import TrainingJobValidationError
from .nag import acknowledge_rule
from .provider import TrainingJobProvider
from .stack_singleton import of_stack

_ID = "SageMakerTrainingStorage"
# Parts of uploads that never completed (a job stopped mid-upload) are not data: nothing else expires.
_ABORT_INCOMPLETE_UPLOADS = s3.LifecycleRule(
    id="AbortIncompleteMultipartUploads", abort_incomplete_multipart_upload_after=Duration.days(7)
)


class TrainingStorage(Construct):
    """A KMS key (rotation on), an output bucket and its access-log bucket.

    Bring your own customer managed key with ``TrainingStorage.of(stack, encryption_key=key)``
    before the stack's first TrainingJob: the output bucket, the jobs' volumes and output, and the
    handler's logs then use it (add to its key policy what CloudWatch Logs needs when the key is
    not this stack's). Default: a key created here.

    Everything is retained when the stack is deleted: training data and the key that
    encrypts it are never destroyed by a stack operation, and no object expires (only the
    parts of multipart uploads left incomplete for 7 days are cleaned up). Buckets block all public access,
    refuse non-TLS requests, are versioned, and (the output bucket) use SSE-KMS with
    bucket keys and log server access to the log bucket.
    """

    def __init__(self, scope: Construct, construct_id: str, *, encryption_key: kms.IKey | None = None) -> None:
        super().__init__(scope, construct_id)
        self.key: kms.IKey = encryption_key or kms.Key(
            self,
            "Key",
            description="Encrypts SageMaker training output, volumes and data buckets",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
            pending_window=Duration.days(30),
        )
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access logging can only deliver to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[_ABORT_INCOMPLETE_UPLOADS],
        )
        self.output_bucket = s3.Bucket(
            self,
            "Output",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="output/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[_ABORT_INCOMPLETE_UPLOADS],
        )
        acknowledge_rule(
            self.access_log_bucket,
            "S3DefaultEncryptionKMS",
            "S3 server access logging delivers only to buckets encrypted with SSE-S3, not SSE-KMS.",
        )
        for bucket in (self.access_log_bucket, self.output_bucket):
            acknowledge_rule(
                bucket,
                "S3BucketReplicationEnabled",
                "Replication needs a destination bucket (another region or account) that only the "
                "user can choose; the buckets are versioned and retained, so replication can be added.",
            )
        # The stack has a key of its own now: the handler's logs use it too, unless told otherwise.
        TrainingJobProvider.of(self).encrypt_logs(self.key, default=True)

    @staticmethod
    def of(scope: Construct, *, encryption_key: kms.IKey | None = None) -> TrainingStorage:
        """The stack's shared training storage, created on first use (with ``encryption_key``
        when given: a customer managed key of yours; default: a key created here). Giving a key
        once the storage exists with another one is an error: call this before the first job."""
        if encryption_key is None:
            return of_stack(scope, _ID, TrainingStorage)
        stack = scope if isinstance(scope, Stack) else Stack.of(scope)
        existing = stack.node.try_find_child(_ID)
        if isinstance(existing, TrainingStorage):
            if existing.key is not encryption_key:
                raise TrainingJobValidationError(
                    existing.node.path,
                    [
                        "encryption_key: the stack's training storage already exists with another key; call "
                        "TrainingStorage.of(stack, encryption_key=key) before the stack's first TrainingJob"
                    ],
                )
            return existing
        return of_stack(scope, _ID, lambda s, i: TrainingStorage(s, i, encryption_key=encryption_key))
