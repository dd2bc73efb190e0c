"""The settings of several functions at once: integration tests run a workflow's use cases in one environment.

Each model is a subclass of every function model it combines, so it is accepted wherever one of them is.
"""

from __future__ import annotations

from functions.privacy.core.settings import (
    CompleteSettings,
    IntakeSettings,
    NotifySettings,
    PlanSettings,
    RejectUnverifiedSettings,
    SendCodeSettings,
    StoreTaskSettings,
)


class ErasureSettings(PlanSettings, StoreTaskSettings, CompleteSettings, RejectUnverifiedSettings):
    """Plan, store tasks, completion and rejection: what erasure and its evidence need."""


class RightsWorkflowSettings(ErasureSettings, NotifySettings):
    """The request workflow's functions, the confirmation email included."""


class IntakeEngineSettings(IntakeSettings, SendCodeSettings, RejectUnverifiedSettings):
    """The intake API with identity verification (sending codes, rejecting the unverified)."""
