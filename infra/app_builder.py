"""Builds the stacks from configuration; shared by app.py, the tests and the local cloud."""

from __future__ import annotations

from aws_cdk import App, Environment, Stack

from functions.privacy.datamap.model import load_datamap, with_resource_names

from .config import DeployConfig
from .datastore_access import acknowledge_dataset_access
from .datastores_stack import SampleDataStoresStack
from .governance import acknowledge_privacy_stack, acknowledge_sample_stack, apply_governance
from .privacy_stack import PrivacyStack


def build_app(app: App) -> dict[str, Stack]:
    config = DeployConfig.from_app(app)
    datamap = with_resource_names(load_datamap(config.datamap), config.account, config.region)
    env = Environment(account=config.account, region=config.region)
    stacks: dict[str, Stack] = {}
    if config.deploy_sample_stores:
        stacks["datastores"] = SampleDataStoresStack(app, "PrivacySampleDataStores", datamap=datamap, env=env)
    privacy = PrivacyStack(app, "PrivacyEngine", config=config, datamap=datamap, env=env)
    if "datastores" in stacks:
        privacy.add_stack_dependency(stacks["datastores"])
    stacks["privacy"] = privacy
    if "datastores" in stacks:
        acknowledge_sample_stack(stacks["datastores"])
    logical_ids = privacy.logical_ids()
    acknowledge_privacy_stack(privacy, datamap, logical_ids, api_waf=config.api_requests_per_ip > 0)
    acknowledge_dataset_access(privacy, datamap, logical_ids.get("dataset_store_task"))
    apply_governance(app)
    return stacks
