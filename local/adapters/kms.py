"""KMS: keys created from templates with their KeySpec and KeyUsage."""

from __future__ import annotations

import json
import logging
from typing import Any

from .base import _patch

log = logging.getLogger("local.adapters")


def apply_kms_key_properties() -> None:
    """Gap: moto's CloudFormation creates every AWS::KMS::Key as a symmetric ENCRYPT_DECRYPT key, ignoring
    ``KeySpec`` and ``KeyUsage``, so an HMAC key (HMAC_256, GENERATE_VERIFY_MAC) refuses GenerateMac and a
    signing key (ECC_NIST_P256, SIGN_VERIFY) refuses Sign.
    """
    from moto.kms.models import Key, kms_backends

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json["Properties"]
        policy = properties.get("KeyPolicy")
        key = kms_backends[account_id][region_name].create_key(
            # The template holds the policy as an object; moto's DescribeKey parses it as a JSON string.
            policy=json.dumps(policy) if isinstance(policy, dict) else policy,
            key_usage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=properties.get("Description"),
            tags=properties.get("Tags", []),
            multi_region=bool(properties.get("MultiRegion", False)),
        )
        key.key_rotation_status = properties.get("EnableKeyRotation", False)
        key.enabled = properties.get("Enabled", True)
        return key

    _patch(Key, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
