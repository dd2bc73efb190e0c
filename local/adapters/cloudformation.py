"""CloudFormation: resource types moto skips, deliberate skips, and stacks that fail loudly."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .base import _installed, _patch

log = logging.getLogger("local.adapters")


class AttributeUnavailableLocally(NotImplementedError):  # noqa: N818
    """A GetAtt the local cloud cannot answer. moto's template parser catches NotImplementedError from
    get_cfn_attribute and logs it instead of failing the stack, so this must stay that type."""


class StackUpdateUnsupported(RuntimeError):
    """The local cloud creates stacks; it never updates a resource in place (redeploy from scratch)."""


class _LocalResource:
    """A CloudFormation resource that moto does not model, created through moto's own service backends.

    Deliberately not a `CloudFormationModel` subclass: moto discovers those by ``__subclasses__()``, and these
    must disappear again on `uninstall()`.
    """

    cfn_type = ""
    name_property = ""

    def __init__(self, physical_id: str, attributes: Mapping[str, Any] | None = None) -> None:
        self.physical_resource_id = physical_id
        self.attributes = dict(attributes or {})

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.cfn_type

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.name_property

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.attributes:
            raise AttributeUnavailableLocally(f"{self.cfn_type} has no attribute {attribute_name} in the local cloud")
        return self.attributes[attribute_name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, *args: Any, **kwargs: Any) -> Any:
        raise StackUpdateUnsupported(f"updating {cls.cfn_type} is not supported by the local cloud")

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        """Deleting the stack leaves these in place (the local cloud never deletes stacks)."""


class SesContactList(_LocalResource):
    cfn_type, name_property = "AWS::SES::ContactList", "ContactListName"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SesContactList:
        from moto.sesv2.models import sesv2_backends

        properties = cloudformation_json.get("Properties", {})
        params = {"ContactListName": resource_name, "Topics": properties.get("Topics", [])}
        if properties.get("Description"):
            params["Description"] = properties["Description"]
        if properties.get("Tags"):
            params["Tags"] = properties["Tags"]
        sesv2_backends[account_id][region_name].create_contact_list(params)
        return cls(resource_name)


class SesEmailIdentity(_LocalResource):
    cfn_type, name_property = "AWS::SES::EmailIdentity", "EmailIdentity"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SesEmailIdentity:
        from moto.sesv2.models import sesv2_backends

        properties = cloudformation_json.get("Properties", {})
        sesv2_backends[account_id][region_name].create_email_identity(
            email_identity=resource_name,
            tags=None,
            dkim_signing_attributes=None,
            configuration_set_name=properties.get("ConfigurationSetAttributes", {}).get("ConfigurationSetName"),
        )
        return cls(resource_name)


class SesConfigurationSet(_LocalResource):
    cfn_type, name_property = "AWS::SES::ConfigurationSet", "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SesConfigurationSet:
        from moto.sesv2.models import sesv2_backends

        p = cloudformation_json.get("Properties", {})
        sending = p.get("SendingOptions", {})
        sesv2_backends[account_id][region_name].create_configuration_set(
            configuration_set_name=resource_name,
            tracking_options=p.get("TrackingOptions", {}),
            delivery_options=p.get("DeliveryOptions", {}),
            reputation_options=p.get("ReputationOptions", {}),
            sending_options={"SendingEnabled": sending.get("SendingEnabled", True)},
            tags=[],
            # Kept as written: an empty SuppressedReasons overrides account-level suppression (sesv2.py).
            suppression_options=p.get("SuppressionOptions", {}),
            vdm_options=p.get("VdmOptions", {}),
        )
        return cls(resource_name)


class SchedulerScheduleGroup(_LocalResource):
    cfn_type, name_property = "AWS::Scheduler::ScheduleGroup", "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SchedulerScheduleGroup:
        from moto.scheduler.models import scheduler_backends

        tags = cloudformation_json.get("Properties", {}).get("Tags", [])
        group = scheduler_backends[account_id][region_name].create_schedule_group(resource_name, tags)
        return cls(resource_name, {"Arn": group.arn})


class SchedulerSchedule(_LocalResource):
    cfn_type, name_property = "AWS::Scheduler::Schedule", "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SchedulerSchedule:
        from moto.scheduler.models import scheduler_backends

        p = cloudformation_json.get("Properties", {})
        schedule = scheduler_backends[account_id][region_name].create_schedule(
            description=p.get("Description"),
            end_date=_epoch(p.get("EndDate")),
            flexible_time_window=p.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            group_name=p.get("GroupName"),
            kms_key_arn=p.get("KmsKeyArn"),
            name=resource_name,
            schedule_expression=p["ScheduleExpression"],
            schedule_expression_timezone=p.get("ScheduleExpressionTimezone"),
            start_date=_epoch(p.get("StartDate")),
            state=p.get("State"),
            target=p["Target"],
            action_after_completion=p.get("ActionAfterCompletion"),
        )
        return cls(resource_name, {"Arn": schedule.arn})


LOCAL_RESOURCE_TYPES: dict[str, type[_LocalResource]] = {
    model.cfn_type: model
    for model in (SesContactList, SesEmailIdentity, SesConfigurationSet, SchedulerScheduleGroup, SchedulerSchedule)
}
# Skipped on purpose, with the reason logged once per deploy instead of a warning.
DELIBERATELY_SKIPPED = {
    "AWS::CDK::Metadata": "CDK's usage analytics, nothing to create",
    "AWS::S3::BucketPolicy": (
        "moto enforces bucket policies without evaluating Conditions, so CDK's enforceSSL statement "
        "(Deny unless aws:SecureTransport) would refuse every request to the plain-HTTP local endpoint"
    ),
}


def _epoch(value: Any) -> Any:
    if isinstance(value, str):
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    return value


def create_resource_types_moto_skips() -> None:
    """Gap: moto's CloudFormation warns about and skips resource types it has no model for, leaving their Refs
    empty. Create the ones the product uses (SES contact list and email identity, Scheduler schedule and group)
    through moto's own backends, during create_stack, so Refs, GetAtts and outputs resolve. The deployer lists
    the remaining unsupported types once per stack (`unsupported_resource_types`), so moto's own warning,
    repeated for every Ref to such a resource, is silenced.
    """
    from moto.cloudformation import parsing

    class_from_type = parsing.resource_class_from_type
    name_property_from_type = parsing.resource_name_property_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type in LOCAL_RESOURCE_TYPES:
            return LOCAL_RESOURCE_TYPES[resource_type]
        if not _moto_models(resource_type):
            return None
        return class_from_type(resource_type)

    def resource_name_property_from_type(resource_type: str) -> str | None:
        if resource_type in LOCAL_RESOURCE_TYPES:
            return LOCAL_RESOURCE_TYPES[resource_type].name_property or None
        return name_property_from_type(resource_type)

    _patch(parsing, "resource_class_from_type", resource_class_from_type)
    _patch(parsing, "resource_name_property_from_type", resource_name_property_from_type)
    warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
    entry = warnings.filters[0]

    def remove_filter() -> None:
        if entry in warnings.filters:
            warnings.filters.remove(entry)
            warnings._filters_mutated()  # type: ignore[attr-defined]  # the C module caches the filter list

    _installed.cleanups.append(remove_filter)


def _moto_models(resource_type: str) -> bool:
    """Whether moto's CloudFormation can create ``resource_type`` itself (checked without moto's warning)."""
    from moto.cloudformation import parsing

    if resource_type in parsing.NULL_MODELS:
        return True  # moto knows these and creates nothing, on purpose
    return resource_type.startswith("Custom::") or resource_type in parsing.get_model_map()


def unsupported_resource_types(template: Mapping[str, Any]) -> dict[str, list[str]]:
    """Resource types in ``template`` that the local cloud cannot create (type -> logical ids), not counting
    the `DELIBERATELY_SKIPPED` ones.
    """
    skipped: dict[str, list[str]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        resource_type = resource["Type"]
        if resource_type in DELIBERATELY_SKIPPED or resource_type in LOCAL_RESOURCE_TYPES:
            continue
        if not _moto_models(resource_type):
            skipped.setdefault(resource_type, []).append(logical_id)
    return skipped


def fail_stacks_loudly() -> None:
    """Gap: when a resource fails to create, moto's create_stack dies with a bare HTTP 500 and no stack event.
    Record a CREATE_FAILED event naming the resource and its error, and leave the stack in CREATE_FAILED, so the
    deployer can report what broke (as CloudFormation would).
    """
    from moto.cloudformation import models, parsing

    create_resource = parsing.parse_and_create_resource

    def parse_and_create_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        try:
            return create_resource(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            stack = models.cloudformation_backends[account_id][region_name].stacks.get(resources_map.stack_id)
            if stack is not None:
                stack.events.append(
                    models.Event(
                        stack_id=stack.stack_id,
                        stack_name=stack.name,
                        logical_resource_id=logical_id,
                        physical_resource_id="",
                        resource_type=resource_json.get("Type", ""),
                        resource_status="CREATE_FAILED",
                        resource_status_reason=f"{type(exc).__name__}: {exc}",
                        resource_properties=None,
                    )
                )
            raise

    create_resources = models.Stack.create_resources

    def stack_create_resources(self: Any) -> None:
        try:
            create_resources(self)
        except Exception as exc:  # reported through the stack's status and events instead, as CloudFormation does
            log.debug("stack %s failed", self.name, exc_info=True)
            self.status = "CREATE_FAILED"
            self._add_stack_event("CREATE_FAILED", resource_status_reason=f"{type(exc).__name__}: {exc}")

    _patch(parsing, "parse_and_create_resource", parse_and_create_resource)
    _patch(models.Stack, "create_resources", stack_create_resources)
