"""A sample company's own data stores, for the demo and tests.

In a real account these already exist; the privacy stack only references them by name through the
data map. Names here must match the sample datamap.yaml.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from constructs import Construct

from functions.privacy.datamap.model import DataMap, StoreKind


class SampleDataStoresStack(Stack):
    """Tables, buckets, a data lake and a contact list shaped like the sample data map says."""

    def __init__(self, scope: Construct, construct_id: str, *, datamap: DataMap, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        for name, store in datamap.stores_of_kind(StoreKind.DYNAMODB).items():
            schema = store.table
            assert schema is not None  # the data map model requires it for dynamodb stores
            table = dynamodb.Table(
                self,
                f"{name.title()}Table",
                table_name=store.resource,
                partition_key=dynamodb.Attribute(name=schema.partition_key, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=schema.sort_key, type=dynamodb.AttributeType.STRING)
                if schema.sort_key
                else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                removal_policy=RemovalPolicy.DESTROY,
            )
            for index, attribute in schema.indexes.items():
                table.add_global_secondary_index(
                    index_name=index,
                    partition_key=dynamodb.Attribute(name=attribute, type=dynamodb.AttributeType.STRING),
                    projection_type=dynamodb.ProjectionType.KEYS_ONLY,
                )
            CfnOutput(self, f"{name.title()}TableName", value=table.table_name)

        for name, store in datamap.stores_of_kind(StoreKind.S3).items():
            bucket = s3.Bucket(
                self,
                f"{name.title()}Bucket",
                bucket_name=store.resource,
                versioned=True,  # erasure must remove every version, so the sample exercises that
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                removal_policy=RemovalPolicy.DESTROY,
            )
            CfnOutput(self, f"{name.title()}BucketName", value=bucket.bucket_name)

        # The sample data lake: s3_dataset stores share buckets (one prefix per dataset), so one bucket each.
        lakes = list(dict.fromkeys(store.resource for store in datamap.stores_of_kind(StoreKind.S3_DATASET).values()))
        for number, name in enumerate(lakes, start=1):
            suffix = "" if number == 1 else str(number)
            lake = s3.Bucket(
                self,
                f"LakeBucket{suffix}",
                bucket_name=name,
                versioned=True,  # a rewrite is rolled back and older versions purged through versions
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                removal_policy=RemovalPolicy.DESTROY,
            )
            # LakeBucketName (the first lake) is the name the local cloud's outputs.json and its scripts use.
            CfnOutput(self, f"LakeBucket{suffix}Name", value=lake.bucket_name)

        lists = datamap.stores_of_kind(StoreKind.SES_CONTACT_LIST)
        # SES allows one contact list per account and Region: marketing lists are its topics.
        for name, store in list(lists.items())[:1]:
            ses.CfnContactList(
                self,
                f"{name.title()}ContactList",
                contact_list_name=store.resource,
                description="Marketing mailing lists (one topic each)",
                topics=[
                    ses.CfnContactList.TopicProperty(
                        topic_name=topic,
                        display_name=topic.replace("-", " ").title(),
                        default_subscription_status="OPT_OUT",
                    )
                    for topic in store.topics
                ],
            )
            CfnOutput(self, f"{name.title()}ContactListName", value=store.resource)
