"""Least-privilege IAM on exactly the data map's resources, derived from the data map itself."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from functions.privacy.datamap.model import DataMap, Store, StoreKind

DYNAMODB_READ = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"]
DYNAMODB_WRITE = ["dynamodb:BatchWriteItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
S3_OBJECT = ["s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion"]
# Restriction tags every current object version, merging with the tags already there.
S3_TAGGING = ["s3:GetObjectTagging", "s3:GetObjectVersionTagging", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"]
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
