"""EventBridge: Ref to an event bus is its name."""

from __future__ import annotations

import logging

from .base import _patch

log = logging.getLogger("local.adapters")


def refer_to_event_buses_by_name() -> None:
    """Gap: moto's EventBus has no ``physical_resource_id``, so ``Ref`` to an AWS::Events::EventBus resolves to
    the Python object (and breaks ListFunctions on a Lambda environment holding it). On AWS ``Ref`` gives the name.
    """
    from moto.events.models import EventBus

    _patch(EventBus, "physical_resource_id", property(lambda self: self.name))
