"""The request intake API: API Gateway REST in front of the intake Lambda (proxy integration).

API Gateway validates bodies against models before the Lambda runs, throttles the stage, and logs
access without personal data (no source IP, no user agent, no path parameters). The Lambda validates
again in full (Powertools) and answers CORS for the form's origin only.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack, aws_wafv2
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.privacy.intake import filing as intake
from functions.privacy.intake import verification as codes
from functions.privacy.requests.record import Jurisdiction, RequestType

from .audit import CHAIN, INTAKE_WRITES, grant_evidence_writes
from .governance import _ack
from .storage import PrivacyStorage

STAGE = "v1"
# Access log fields: enough to operate the API, nothing that identifies a person.
ACCESS_LOG = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latency": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "errorType": "$context.error.responseType",
}


def _string(**kwargs: Any) -> apigw.JsonSchema:
    return apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, **kwargs)


def file_request_schema() -> apigw.JsonSchema:
    """The body of POST /requests, derived from the same constants as the Lambda's pydantic model."""
    return apigw.JsonSchema(
        schema=apigw.JsonSchemaVersion.DRAFT4,
        title="FileRequest",
        type=apigw.JsonSchemaType.OBJECT,
        required=["type", "email"],
        additional_properties=False,
        properties={
            "type": _string(enum=[t.value for t in RequestType]),
            "email": _string(min_length=3, max_length=intake.MAX_EMAIL, pattern=r"^[^@\s]+@[^@\s]+$"),
            "jurisdiction": _string(enum=[j.value for j in Jurisdiction]),
            "corrections": apigw.JsonSchema(
                type=apigw.JsonSchemaType.OBJECT,
                min_properties=1,
                max_properties=intake.MAX_CORRECTIONS,
                additional_properties=_string(max_length=intake.MAX_CORRECTION_VALUE),
            ),
            "note": _string(max_length=intake.MAX_NOTE),
        },
    )


def verify_schema() -> apigw.JsonSchema:
    return apigw.JsonSchema(
        schema=apigw.JsonSchemaVersion.DRAFT4,
        title="VerifyCode",
        type=apigw.JsonSchemaType.OBJECT,
        required=["code"],
        additional_properties=False,
        properties={"code": _string(pattern=codes.CODE_PATTERN)},
    )


class IntakeApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.Function,
        storage: PrivacyStorage,
        audit_bucket: s3.IBucket,
        state_machine: sfn.StateMachine,
        form_origin: str,
        throttle_rate: int,
        throttle_burst: int,
        requests_per_ip: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self._wire_handler(handler, storage, audit_bucket, state_machine, form_origin)
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.DESTROY
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name="privacy-requests",
            description="Privacy request intake: file, verify with the emailed code, read the status",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,  # execution logging (errors only) needs the account's CloudWatch role
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=throttle_rate,
                throttling_burst_limit=throttle_burst,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG)),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # would log full request bodies: emails, notes, codes
                metrics_enabled=True,
                tracing_enabled=True,
            ),
        )
        validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        file_model = self.api.add_model(
            "FileRequestModel", content_type="application/json", model_name="FileRequest", schema=file_request_schema()
        )
        verify_model = self.api.add_model(
            "VerifyCodeModel", content_type="application/json", model_name="VerifyCode", schema=verify_schema()
        )
        # One integration; no test-invoke permissions (they would double the Lambda permissions).
        integration = apigw.LambdaIntegration(handler, allow_test_invoke=False)

        requests_resource = self.api.root.add_resource("requests")
        request_resource = requests_resource.add_resource("{request_id}")
        verify_resource = request_resource.add_resource("verify")
        cancel_resource = request_resource.add_resource("cancel")
        export_resource = request_resource.add_resource("export")
        # Public and parameterless: the form builds its opt-out checkboxes from it.
        topics_resource = self.api.root.add_resource("topics")
        topics_resource.add_method("GET", integration)
        requests_resource.add_method(
            "POST",
            integration,
            request_validator=validator,
            request_models={"application/json": file_model},
            request_parameters={"method.request.header.Idempotency-Key": False},
        )
        verify_resource.add_method(
            "POST",
            integration,
            request_validator=validator,
            request_models={"application/json": verify_model},
            request_parameters={"method.request.path.request_id": True},
        )
        request_resource.add_method(
            "GET",
            integration,
            request_validator=validator,
            # Optional on purpose: a missing token gets the same 404 as a wrong one, from the Lambda.
            request_parameters={"method.request.path.request_id": True, "method.request.header.X-Status-Token": False},
        )
        cancel_resource.add_method(
            "POST",
            integration,
            request_validator=validator,
            # Optional on purpose, as for the status: a missing token is the Lambda's 404.
            request_parameters={"method.request.path.request_id": True, "method.request.header.X-Status-Token": False},
        )
        export_resource.add_method(
            "GET",
            integration,
            request_validator=validator,
            # Optional for the same reason: a missing download token is the same 404 as a wrong one.
            request_parameters={"method.request.path.request_id": True, "method.request.querystring.token": False},
        )
        # Preflight goes to the Lambda too (Powertools answers CORS for the configured origin only),
        # keeping one source of truth for CORS instead of MOCK integrations here.
        for resource in (requests_resource, request_resource, verify_resource, cancel_resource, topics_resource):
            resource.add_method("OPTIONS", integration)

        cors = {"Access-Control-Allow-Origin": f"'{form_origin}'", "Vary": "'Origin'"}
        for name, response_type, status, error in (
            ("BadRequestBody", apigw.ResponseType.BAD_REQUEST_BODY, "400", "invalid_request"),
            ("RequestTooLarge", apigw.ResponseType.REQUEST_TOO_LARGE, "413", "body_too_large"),
            ("Default4xx", apigw.ResponseType.DEFAULT_4_XX, None, "api_error"),
            ("Default5xx", apigw.ResponseType.DEFAULT_5_XX, None, "api_error"),
        ):
            self.api.add_gateway_response(
                f"{name}Response",
                type=response_type,
                status_code=status,
                response_headers=cors,
                # messageString is already a quoted JSON string; the validator's detail is not escaped, so it stays out.
                templates={"application/json": f'{{"error": "{error}", "message": $context.error.messageString}}'},
            )

        if requests_per_ip:
            self._protect_with_waf(requests_per_ip)

        stack = Stack.of(self)
        # Built from parts rather than api.url, whose stage reference the local cloud cannot resolve.
        self.url = f"https://{self.api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}/{STAGE}/"
        CfnOutput(stack, "ApiUrl", value=self.url, description="Base URL of the request intake API")

    @staticmethod
    def _wire_handler(
        handler: lambda_.Function,
        storage: PrivacyStorage,
        audit_bucket: s3.IBucket,
        state_machine: sfn.StateMachine,
        form_origin: str,
    ) -> None:
        """The intake files requests (evidence, idempotency), checks codes and starts or resumes the workflow."""
        grant_evidence_writes(handler, audit_bucket, storage.key, writes=INTAKE_WRITES, reads=(f"{CHAIN}*",))
        storage.requests_table.grant(handler, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        storage.idempotency_table.grant(
            handler, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
        )
        handler.add_environment("IDEMPOTENCY_TABLE", storage.idempotency_table.table_name)
        handler.add_environment("FORM_ORIGIN", form_origin)
        storage.hmac_key.grant(handler, "kms:GenerateMac")
        handler.add_environment("STATE_MACHINE_ARN", state_machine.state_machine_arn)
        state_machine.grant_start_execution(handler)
        # SendTaskSuccess/Failure: the verify route resumes (or fails) the task waiting for the code.
        state_machine.grant_task_response(handler)
        # The cancel route stops the request's running execution (its first or a re-run).
        state_machine.grant(handler, "states:ListExecutions")
        state_machine.grant_execution(handler, "states:StopExecution")
        stack = Stack.of(handler)
        # How CDK writes the executions ARN of an unnamed state machine (the name is the ARN's 7th part).
        logical = stack.get_logical_id(state_machine.node.default_child)  # type: ignore[arg-type]  # an L2's default_child is a CfnElement
        name = json.dumps({"Fn::Select": [6, {"Fn::Split": [":", {"Ref": logical}]}]}, separators=(",", ":"))
        _ack(
            stack,
            f"IAM5[Resource::arn:<AWS::Partition>:states:{stack.region}:{stack.account}:execution:{name}:*]",
            "The cancel route stops the running execution of the request being cancelled; executions are named "
            "after random request ids, and only the request state machine's are covered.",
        )
        # The export route signs the archive's short-lived S3 URL with this role's live session (HEAD first).
        handler.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[storage.export_bucket.arn_for_objects("exports/*")]
            )
        )
        storage.key.grant_decrypt(handler)

    def _protect_with_waf(self, requests_per_ip: int) -> None:
        """A web ACL on the stage: a body-size limit, and a rate limit per client IP. Stage throttling is
        shared by everyone, so without the latter one abuser (say, filing requests for other people's
        addresses to flood them with codes) could starve legitimate requesters."""
        wafv2 = aws_wafv2
        json_type = "APPLICATION_JSON"
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("PrivacyIntakeApi"),
            # WAF reads the first 16 KB of a body, the same as the intake's own limit.
            association_config=wafv2.CfnWebACL.AssociationConfigProperty(
                request_body={
                    "API_GATEWAY": wafv2.CfnWebACL.RequestBodyAssociatedResourceTypeConfigProperty(
                        default_size_inspection_limit="KB_16"
                    )
                }
            ),
            custom_response_bodies={
                "BodyTooLarge": wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type=json_type, content=json.dumps(_error("body_too_large", intake.BODY_TOO_LARGE))
                ),
                "TooManyRequests": wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type=json_type, content=json.dumps(_error("too_many_requests", "Too many requests."))
                ),
            },
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="BodyTooLarge",
                    priority=0,
                    action=_block(413, "BodyTooLarge"),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
                            comparison_operator="GT",
                            size=intake.MAX_BODY_BYTES,
                            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                                body=wafv2.CfnWebACL.BodyProperty(oversize_handling="MATCH")
                            ),
                            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
                        )
                    ),
                    visibility_config=_visibility("BodyTooLarge"),
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="RequestsPerClient",
                    priority=1,
                    action=_block(429, "TooManyRequests"),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=requests_per_ip, aggregate_key_type="IP", evaluation_window_sec=300
                        )
                    ),
                    visibility_config=_visibility("RequestsPerClient"),
                ),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self, "WebAclAssociation", resource_arn=self.api.deployment_stage.stage_arn, web_acl_arn=acl.attr_arn
        )


def _error(error: str, message: str) -> dict[str, str]:
    return {"error": error, "message": message}  # the intake API's ErrorBody shape


def _visibility(metric: str) -> aws_wafv2.CfnWebACL.VisibilityConfigProperty:
    # Sampled requests would keep client IPs and bodies (emails, notes): metrics only.
    return aws_wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=False
    )


def _block(status: int, body_key: str) -> aws_wafv2.CfnWebACL.RuleActionProperty:
    return aws_wafv2.CfnWebACL.RuleActionProperty(
        block=aws_wafv2.CfnWebACL.BlockActionProperty(
            custom_response=aws_wafv2.CfnWebACL.CustomResponseProperty(
                response_code=status, custom_response_body_key=body_key
            )
        )
    )
