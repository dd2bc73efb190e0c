"""The deployer's pieces that need no server."""

from __future__ import annotations

from local.cloud import _dependency_order


def test_artifacts_are_deployed_after_their_dependencies() -> None:
    artifacts = {
        "Engine": {"dependencies": ["Stores", "Engine.assets"]},
        "Engine.assets": {},
        "Stores": {"dependencies": ["Stores.assets"]},
        "Stores.assets": {},
        "Tree": {},
    }
    order = _dependency_order(artifacts)
    assert order.index("Stores") < order.index("Engine")
    assert order.index("Engine.assets") < order.index("Engine")
    assert order.index("Stores.assets") < order.index("Stores")
