"""CloudFormation intrinsics replaced by plausible literals, for analysing policies offline."""

from __future__ import annotations

from typing import Any

_ARN_BY_TYPE = {
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::KMS::Key": "arn:aws:kms:us-east-1:111111111111:key/{name}",
    "AWS::IAM::Role": "arn:aws:iam::111111111111:role/{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:us-east-1:111111111111:log-group:{name}:*",
    "AWS::Lambda::Function": "arn:aws:lambda:us-east-1:111111111111:function:{name}",
    "AWS::ECR::Repository": "arn:aws:ecr:us-east-1:111111111111:repository/{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:us-east-1:111111111111:{name}",
    "AWS::EFS::FileSystem": "arn:aws:elasticfilesystem:us-east-1:111111111111:file-system/{name}",
}
_PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "111111111111",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "stack-name",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:111111111111:stack/stack-name/0000-0000",
}


def resolve_intrinsics(value: Any, tmpl: dict[str, Any]) -> Any:
    """Replaces Ref / Fn::GetAtt / Fn::Join with plausible literal values."""
    if isinstance(value, list):
        return [resolve_intrinsics(v, tmpl) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        ref = value["Ref"]
        return _PSEUDO.get(ref, ref.lower())
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        kind = tmpl["Resources"].get(logical_id, {}).get("Type", "")
        if attribute == "Arn" and kind in _ARN_BY_TYPE:
            return _ARN_BY_TYPE[kind].format(name=logical_id.lower())
        return f"{logical_id.lower()}-{attribute.lower()}"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve_intrinsics(p, tmpl)) for p in parts)
    return {k: resolve_intrinsics(v, tmpl) for k, v in value.items()}
