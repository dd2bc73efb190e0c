#!/usr/bin/env python3
"""CDK entry point: read the configuration and the data map, build the stacks."""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App  # noqa: E402

from infra.app_builder import build_app  # noqa: E402

if __name__ == "__main__":
    # The CDK CLI sets CDK_OUTDIR; `python app.py` alone writes to cdk.out like the CLI would.
    app = App(outdir=os.environ.get("CDK_OUTDIR", "cdk.out"))
    build_app(app)
    app.synth()
