"""The intake API's infrastructure: validation, throttling, logging without personal data, CORS, least privilege."""

import json

import pytest
from aws_cdk.assertions import Match, Template

from functions.privacy.requests.record import RequestType


@pytest.fixture(scope="module")
def template(stacks):
    return Template.from_stack(stacks["privacy"])


def _resources(template, kind):
    return template.find_resources(kind)


def test_the_api_validates_bodies_against_models_derived_from_the_domain(template):
    template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator", {"ValidateRequestBody": True, "ValidateRequestParameters": True}
    )
    models = {
        model["Properties"]["Name"]: model["Properties"]["Schema"]
        for model in _resources(template, "AWS::ApiGateway::Model").values()
    }
    assert models["FileRequest"]["properties"]["type"]["enum"] == [t.value for t in RequestType]
    assert models["FileRequest"]["additionalProperties"] is False
    assert models["FileRequest"]["properties"]["note"]["maxLength"] == 2000  # bounded bodies
    assert models["VerifyCode"]["required"] == ["code"]
    methods = _resources(template, "AWS::ApiGateway::Method").values()
    posts = [m for m in methods if m["Properties"]["HttpMethod"] == "POST"]
    # File and verify carry bodies (validated against their models); cancel has none, only the token header.
    assert len([m for m in posts if "RequestModels" in m["Properties"]]) == 2
    assert all("RequestValidatorId" in m["Properties"] for m in posts)


def test_the_stage_is_throttled_traced_and_logs_access_without_personal_data(template):
    (stage,) = _resources(template, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == 10 and settings["ThrottlingBurstLimit"] == 20
    assert settings["DataTraceEnabled"] is False  # would log request bodies
    assert props["TracingEnabled"] is True
    access_format = json.loads(props["AccessLogSetting"]["Format"])
    for field in access_format.values():
        assert not any(word in field for word in ("sourceIp", "userAgent", "identity", "path", "caller", "user"))


def test_a_waf_limits_body_size_and_requests_per_client(template):
    (acl,) = _resources(template, "AWS::WAFv2::WebACL").values()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    size = rules["BodyTooLarge"]["Statement"]["SizeConstraintStatement"]
    assert (size["ComparisonOperator"], size["Size"]) == ("GT", 16 * 1024)
    assert size["FieldToMatch"]["Body"]["OversizeHandling"] == "MATCH"  # a body WAF cannot read in full is too big
    assert rules["BodyTooLarge"]["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 413
    rate = rules["RequestsPerClient"]["Statement"]["RateBasedStatement"]
    assert (rate["AggregateKeyType"], rate["Limit"]) == ("IP", 100)
    assert not any(r["VisibilityConfig"]["SampledRequestsEnabled"] for r in rules.values())  # samples keep bodies
    template.resource_count_is("AWS::WAFv2::WebACLAssociation", 1)


def test_cors_is_limited_to_the_form_origin(template):
    intake = [
        f
        for f in _resources(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "functions.handlers.intake.handler"
    ][0]
    assert intake["Properties"]["Environment"]["Variables"]["FORM_ORIGIN"] == "http://127.0.0.1:8080"
    for response in _resources(template, "AWS::ApiGateway::GatewayResponse").values():
        origin = response["Properties"]["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
        assert origin == "'http://127.0.0.1:8080'"


def test_the_api_url_is_an_output(template):
    template.has_output("ApiUrl", {"Value": Match.any_value()})


def test_idempotency_records_expire_and_are_encrypted_with_the_stack_key(template):
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
            "SSESpecification": Match.object_like({"SSEType": "KMS"}),
        },
    )


def _policy_of(template, role_fragment):
    for logical_id, policy in _resources(template, "AWS::IAM::Policy").items():
        if role_fragment in logical_id:
            return policy["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError(role_fragment)


def test_intake_may_file_and_resume_requests_but_not_touch_data_stores(template):
    statements = _policy_of(template, "FunctionsIntakeRole")
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {"states:StartExecution", "states:SendTaskSuccess", "states:SendTaskFailure"} <= actions
    assert "ses:SendEmail" not in actions
    assert not any(a.startswith("s3:Delete") or a == "dynamodb:Scan" or a == "dynamodb:Query" for a in actions)
    resources = json.dumps(statements)
    assert "dsr-sample" not in resources  # the company's stores are none of the intake's business


def test_only_the_code_sender_and_the_notifier_may_send_email_and_only_as_the_sender_identity(template):
    for role in ("FunctionsSendCodeRole", "FunctionsNotifyRole"):
        statements = _policy_of(template, role)
        (ses,) = [s for s in statements if s["Action"] == "ses:SendEmail"]
        assert "identity/privacy@example.com" in json.dumps(ses["Resource"])
    senders = ("SendCode", "FunctionsNotifyRole")
    others = [p for k, p in _resources(template, "AWS::IAM::Policy").items() if not any(s in k for s in senders)]
    assert "ses:SendEmail" not in json.dumps(others)


def test_intake_may_stop_only_the_request_workflows_executions_to_cancel(template):
    statements = _policy_of(template, "FunctionsIntakeRole")
    (stop,) = [s for s in statements if s["Action"] == "states:StopExecution"]
    (listing,) = [s for s in statements if s["Action"] == "states:ListExecutions"]
    # Executions of the request state machine only (arn:...:execution:<machine name>:*), never the retention one.
    assert "execution" in json.dumps(stop["Resource"]) and "Retention" not in json.dumps(stop["Resource"])
    assert "RequestStateMachine" in json.dumps(listing["Resource"])


def test_the_export_route_is_served_by_the_intake_which_alone_reads_archives_for_requesters(template):
    resources = _resources(template, "AWS::ApiGateway::Resource")
    (export_id,) = [k for k, r in resources.items() if r["Properties"]["PathPart"] == "export"]
    (get,) = [
        m["Properties"]
        for m in _resources(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["ResourceId"] == {"Ref": export_id}
    ]
    assert get["HttpMethod"] == "GET"
    assert get["RequestParameters"] == {
        "method.request.path.request_id": True,
        "method.request.querystring.token": False,  # a missing token is the Lambda's 404, like a wrong one
    }
    intake = _policy_of(template, "FunctionsIntakeRole")
    (reads,) = [s for s in intake if s["Action"] == "s3:GetObject"]
    assert "exports/*" in json.dumps(reads["Resource"])
    # The notifier mints a token (GenerateMac) and links to the API; it no longer signs S3 URLs, so reads nothing.
    notify = _policy_of(template, "FunctionsNotifyRole")
    notify_actions = json.dumps([s["Action"] for s in notify])
    assert "s3:GetObject" not in notify_actions and "kms:GenerateMac" in notify_actions
    (function,) = [
        f["Properties"]
        for f in _resources(template, "AWS::Lambda::Function").values()
        if "notify_requester" in f["Properties"].get("Handler", "")
    ]
    api_url = json.dumps(function["Environment"]["Variables"]["API_URL"])
    assert "execute-api" in api_url and "/v1/" in api_url


def test_the_topics_route_is_a_public_get_on_the_intake(template):
    resources = _resources(template, "AWS::ApiGateway::Resource")
    (topics_id,) = [k for k, r in resources.items() if r["Properties"]["PathPart"] == "topics"]
    methods = [
        m["Properties"]
        for m in _resources(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["ResourceId"] == {"Ref": topics_id}
    ]
    assert sorted(m["HttpMethod"] for m in methods) == ["GET", "OPTIONS"]
    (get,) = [m for m in methods if m["HttpMethod"] == "GET"]
    assert get["AuthorizationType"] == "NONE" and "FunctionsIntake" in json.dumps(get["Integration"]["Uri"])
