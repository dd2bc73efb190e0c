"""The local cloud's EventBridge gap: Ref to an AWS::Events::EventBus must give the bus name, as on AWS."""

from __future__ import annotations

import json

from local import adapters

TEMPLATE = {
    "Resources": {"Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "privacy-bus"}}},
    "Outputs": {"BusName": {"Value": {"Ref": "Bus"}}},
}


def test_ref_to_an_event_bus_is_its_name_and_events_reach_a_rule_target(aws, tmp_path):
    adapters.install(tmp_path)
    try:
        cloudformation = aws.client("cloudformation")
        cloudformation.create_stack(StackName="bus", TemplateBody=json.dumps(TEMPLATE))
        (stack,) = cloudformation.describe_stacks(StackName="bus")["Stacks"]
        assert stack["Outputs"][0]["OutputValue"] == "privacy-bus"
    finally:
        adapters.uninstall()
    # What the e2e tests rely on to observe events: a rule on the bus forwarding to an SQS queue.
    sqs, events = aws.client("sqs"), aws.client("events")
    queue = sqs.create_queue(QueueName="observer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName="privacy-bus", EventPattern=json.dumps({"source": ["privacy-engine"]}))
    events.put_targets(Rule="all", EventBusName="privacy-bus", Targets=[{"Id": "q", "Arn": arn}])
    events.put_events(
        Entries=[{"Source": "privacy-engine", "DetailType": "T", "Detail": "{}", "EventBusName": "privacy-bus"}]
    )
    (message,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(message["Body"])["source"] == "privacy-engine"
