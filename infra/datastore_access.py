"""Least-privilege IAM on exactly the data map's resources, derived from the data map itself."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam

from functions.privacy.datamap.model import DataMap, Store, StoreKind

DYNAMODB_READ = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"]
DYNAMODB_WRITE = ["dynamodb:BatchWriteItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
S3_OBJECT = ["s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion"]
# Restriction tags every current object version, merging with the tags already there.
S3_TAGGING = ["s3:GetObjectTagging", "s3:GetObjectVersionTagging", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"]
# s3_dataset stores (functions/privacy/datasets/objects.py, ranged.py): HeadObject and (ranged) GetObject of
# pinned versions, GetObjectTagging and GetObjectAcl of the source version (copied onto the rewrite's PutObject,
# whose Tagging and Grant* headers need PutObjectTagging and PutObjectAcl), DeleteObject with a VersionId
# (DeleteObjectVersion: older versions and a rolled-back rewrite). Object Lock is read from HeadObject;
# GetObjectRetention and GetObjectLegalHold let S3 return those fields. No DeleteObject without a version:
# a delete marker would hide the person, not remove them.
DATASET_LIST = ["s3:ListBucket", "s3:ListBucketVersions"]
DATASET_OBJECT_READ = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:GetObjectAcl",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectRetention",
    "s3:GetObjectLegalHold",
]
DATASET_OBJECT_WRITE = ["s3:PutObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging", "s3:PutObjectAcl"]
# GetBucketVersioning (a rewrite needs versions), GetBucketOwnershipControls (whether ACLs apply) and
# GetBucketObjectLockConfiguration (GetObjectLockConfiguration: whether any version can be locked).
DATASET_BUCKET_READ = ["s3:GetBucketVersioning", "s3:GetBucketOwnershipControls", "s3:GetBucketObjectLockConfiguration"]
SES_CONTACTS = ["ses:GetContact", "ses:GetContactList", "ses:DeleteContact", "ses:UpdateContact"]


def _table_arns(stack: Stack, store: Store, with_indexes: bool = True) -> list[str]:
    table = stack.format_arn(service="dynamodb", resource="table", resource_name=store.resource)
    arns = [table]
    if with_indexes and store.lookup.index:
        arns.append(f"{table}/index/{store.lookup.index}")
    return arns


def _s3_prefix(store: Store) -> str:
    """The fixed part of the key template (users/ for users/{customer_id}/): IAM stops there."""
    template = store.lookup.key_template or ""
    return template.split("{", 1)[0]


def store_statements(stack: Stack, datamap: DataMap, *, write: bool) -> list[iam.PolicyStatement]:
    """Statements for the connectors: read for find, plus write for erase (scoped per store)."""
    statements: list[iam.PolicyStatement] = []
    for store in datamap.stores.values():
        if store.kind is StoreKind.DYNAMODB:
            statements.append(
                iam.PolicyStatement(
                    actions=DYNAMODB_READ + (DYNAMODB_WRITE if write else []), resources=_table_arns(stack, store)
                )
            )
        elif store.kind is StoreKind.S3:
            prefix = _s3_prefix(store)
            bucket_arn = f"arn:{stack.partition}:s3:::{store.resource}"
            statements.append(
                iam.PolicyStatement(
                    actions=["s3:ListBucket", "s3:ListBucketVersions"],
                    resources=[bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                )
            )
            statements.append(
                iam.PolicyStatement(
                    actions=S3_OBJECT + S3_TAGGING if write else ["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[f"{bucket_arn}/{prefix}*"],
                )
            )
        elif store.kind is StoreKind.SES_CONTACT_LIST:
            statements.append(
                iam.PolicyStatement(
                    actions=SES_CONTACTS if write else ["ses:GetContact", "ses:GetContactList"],
                    resources=[stack.format_arn(service="ses", resource="contact-list", resource_name=store.resource)],
                )
            )
        elif store.kind is StoreKind.SES_SUPPRESSION:
            statements.append(iam.PolicyStatement(actions=suppression_actions(store, write=write), resources=["*"]))
    return statements


def dataset_prefixes(datamap: DataMap) -> dict[str, list[str]]:
    """Bucket -> the key prefixes of its s3_dataset stores (several stores may share one lake bucket)."""
    buckets: dict[str, list[str]] = {}
    for store in datamap.stores_of_kind(StoreKind.S3_DATASET).values():
        prefix = store.dataset.prefix if store.dataset is not None else ""
        prefixes = buckets.setdefault(store.resource, [])
        if prefix not in prefixes:
            prefixes.append(prefix)
    return buckets


def dataset_statements(stack: Stack, datamap: DataMap, *, write: bool) -> list[iam.PolicyStatement]:
    """Statements for the s3_dataset connector: per lake bucket, listing under the stores' prefixes, the
    bucket settings a rewrite checks, and the objects under the prefixes (List*/Get* only unless ``write``)."""
    statements: list[iam.PolicyStatement] = []
    for bucket, prefixes in dataset_prefixes(datamap).items():
        bucket_arn = f"arn:{stack.partition}:s3:::{bucket}"
        # A store on the whole bucket (prefix "") lists without a prefix, which a prefix condition would refuse.
        whole_bucket = "" in prefixes
        statements.append(
            iam.PolicyStatement(
                actions=DATASET_LIST,
                resources=[bucket_arn],
                conditions=None if whole_bucket else {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
            )
        )
        statements.append(iam.PolicyStatement(actions=DATASET_BUCKET_READ, resources=[bucket_arn]))
        statements.append(
            iam.PolicyStatement(
                actions=DATASET_OBJECT_READ + (DATASET_OBJECT_WRITE if write else []),
                resources=[f"{bucket_arn}/{p}*" for p in ([""] if whole_bucket else prefixes)],
            )
        )
    return statements


def acknowledge_dataset_access(stack: Stack, datamap: DataMap, function_logical_id: str | None) -> None:
    """cdk-nag findings the dataset store task brings (the rest of the stack's are in governance.py)."""

    def ack(finding: str, reason: str) -> None:
        Validations.of(stack).acknowledge(Acknowledgment(id=f"AwsSolutions::AwsSolutions-{finding}", reason=reason))

    for bucket, prefixes in dataset_prefixes(datamap).items():
        for prefix in [""] if "" in prefixes else prefixes:
            ack(
                f"IAM5[Resource::arn:<AWS::Partition>:s3:::{bucket}/{prefix}*]",
                "A dataset store's files are the data-lake objects under the data map's prefix (any key, written by "
                "the company's pipelines); access stops at that prefix.",
            )
    if function_logical_id is not None:
        ack(
            f"IAM5[Resource::<{function_logical_id}.Arn>:*]",
            "Invoke permission on the stack's own function and its versions, as CDK's grantInvoke writes it.",
        )


def suppression_actions(store: Store, *, write: bool) -> list[str]:
    """The account suppression list has no ARN: its actions take no resource-level permissions (Resource "*").

    Delete is granted only where the data map lets erasure remove the entry (``erasure.suppress: false``).
    """
    if not write:
        return ["ses:GetSuppressedDestination"]
    actions = ["ses:GetSuppressedDestination", "ses:PutSuppressedDestination"]
    return actions + (["ses:DeleteSuppressedDestination"] if store.erasure.suppress is False else [])


def resolution_statements(stack: Stack, datamap: DataMap) -> list[iam.PolicyStatement]:
    """Read access to the stores that resolve one identifier into another (email -> customer id)."""
    stores = {i.resolved_by.store for i in datamap.identifiers.values() if i.resolved_by}
    return [
        iam.PolicyStatement(
            actions=["dynamodb:Query", "dynamodb:GetItem"], resources=_table_arns(stack, datamap.stores[s])
        )
        for s in sorted(stores)
    ]
