import os

import pytest
from aws_cdk import App

from infra.app_builder import build_app

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def stacks(tmp_path_factory):
    """The real app with cdk-nag AwsSolutions applied: building it at all proves nag passes."""
    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out")))
    built = build_app(app)
    app.synth()
    return built
