"""Dashboard and alarms, built with cdk-monitoring-constructs' MonitoringFacade rather than hand-written widgets.

Alarms go to one SNS topic (KMS-encrypted, TLS-only) with an optional email subscription (`alarm_email`). The
README's runbook has one section per alarm. Metric names are the ones the handlers publish with Powertools
(namespace PrivacyEngine, plus the `service` dimension Powertools adds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from cdk_monitoring_constructs import (
    AlarmFactoryDefaults,
    CustomMetricGroup,
    CustomMetricWithAlarm,
    CustomThreshold,
    DefaultDashboardFactory,
    ErrorCountThreshold,
    MaxMessageCountThreshold,
    MetricFactoryDefaults,
    MonitoringFacade,
    SnsAlarmActionStrategy,
)
from constructs import Construct

NAMESPACE = "PrivacyEngine"
RUNBOOK = "README.md#runbook"  # the repository README: one section per alarm
PERIOD = Duration.minutes(5)


def _search(
    metric_name: str, label: str, statistic: str = "Sum", period: Duration = PERIOD
) -> cloudwatch.MathExpression:
    """One line per dimension value (request type, store, category) without listing the values in the template."""
    return cloudwatch.MathExpression(
        expression=f"SEARCH('Namespace=\"{NAMESPACE}\" MetricName=\"{metric_name}\"', '{statistic}', "
        f"{int(period.to_seconds())})",
        using_metrics={},
        label=label,
        period=period,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: str,
        state_machines: Mapping[str, sfn.IStateMachine],
        api: apigw.RestApi,
        api_stage: str,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        alarm_email: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch must be able to publish to the encrypted topic: the key admits the service principal.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the privacy engine's alarm notifications",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name="Privacy engine alarms", master_key=key, enforce_ssl=True
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.facade = MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=AlarmFactoryDefaults(
                actions_enabled=True,
                alarm_name_prefix="PrivacyEngine",
                action=SnsAlarmActionStrategy(on_alarm_topic=self.topic),
                runbook_link=RUNBOOK,
                datapoints_to_alarm=1,
            ),
            metric_factory_defaults=MetricFactoryDefaults(namespace=NAMESPACE, period=PERIOD),
            dashboard_factory=DefaultDashboardFactory(
                self, "Dashboards", dashboard_name_prefix="PrivacyEngine", create_dashboard=True
            ),
        )
        self.facade.add_large_header("Privacy engine: requests, evidence, retention")
        self._requests(service)
        for name, machine in state_machines.items():
            # Any failed or timed-out execution is a request or run someone has to look at.
            self.facade.monitor_step_function(
                state_machine=machine,
                human_readable_name=f"{name} workflow",
                alarm_friendly_name=f"{name}Workflow",
                add_failed_execution_count_alarm={"Failed": ErrorCountThreshold(max_error_count=0)},
                add_timed_out_execution_count_alarm={"TimedOut": ErrorCountThreshold(max_error_count=0)},
                add_aborted_execution_count_alarm={"Aborted": ErrorCountThreshold(max_error_count=0)},
            )
        self.facade.monitor_api_gateway(
            api=api,
            api_stage=api_stage,
            human_readable_name="Request intake API",
            alarm_friendly_name="IntakeApi",
            add5_xx_fault_count_alarm={"Faults": ErrorCountThreshold(max_error_count=0)},
        )
        for name, queue in dead_letter_queues.items():
            self.facade.monitor_sqs_queue(
                queue=queue,
                human_readable_name=f"{name} dead letters",
                alarm_friendly_name=f"{name}DeadLetters",
                add_queue_max_size_alarm={"NotEmpty": MaxMessageCountThreshold(max_message_count=0)},
            )

    def _requests(self, service: str) -> None:
        deadline = {"service": service}
        overdue = cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name="RequestsOverdue",
            dimensions_map=deadline,
            statistic="Maximum",
            period=Duration.hours(1),
            label="Overdue requests",
        )
        self.facade.monitor_custom(
            alarm_friendly_name="Requests",
            human_readable_name="Privacy requests",
            metric_groups=[
                CustomMetricGroup(
                    title="Requests planned by type (received and verified)",
                    metrics=[_search("RequestsPlanned", "planned")],
                ),
                CustomMetricGroup(title="Requests closed by status", metrics=[_search("RequestsClosed", "closed")]),
                CustomMetricGroup(
                    title="Requests closed by type", metrics=[_search("RequestsClosedByType", "closed by type")]
                ),
                CustomMetricGroup(
                    title="Store tasks failed after retries, by store",
                    metrics=[_search("StoreTasksFailed", "failed store tasks")],
                ),
                CustomMetricGroup(
                    title="Records deleted and anonymised by store",
                    metrics=[_search("RecordsDeleted", "deleted"), _search("RecordsAnonymised", "anonymised")],
                ),
                CustomMetricGroup(
                    title="Retention: records expired per category",
                    metrics=[_search("RetentionExpired", "expired", period=Duration.hours(1))],
                ),
                CustomMetricGroup(
                    title="Deadlines: at risk (due within 7 days) and overdue",
                    metrics=[
                        cloudwatch.Metric(
                            namespace=NAMESPACE,
                            metric_name="RequestsAtRisk",
                            dimensions_map=deadline,
                            statistic="Maximum",
                            period=Duration.hours(1),
                            label="At risk",
                        ),
                        CustomMetricWithAlarm(
                            metric=overdue,
                            alarm_friendly_name="RequestsOverdue",
                            add_alarm={
                                "Overdue": CustomThreshold(
                                    threshold=0,
                                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                                    treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                                    period=Duration.hours(1),
                                )
                            },
                        ),
                    ],
                ),
                CustomMetricGroup(
                    title="Evidence records digested", metrics=[_search("EvidenceRecordsDigested", "digested")]
                ),
            ],
        )

    @property
    def alarms(self) -> Sequence[object]:
        return self.facade.created_alarms()
