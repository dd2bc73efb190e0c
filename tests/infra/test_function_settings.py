"""Every Lambda function's synthesized environment satisfies the settings model its handler loads.

A function deployed without a variable its model requires would fail at its first invocation; this
catches it at synth time instead. The model is the handler module's own ``SETTINGS``, so the mapping
cannot drift from what the handler reads.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from functions.privacy.core.settings import FunctionSettings, MissingSettings
from infra.config import ROOT

HANDLERS = sorted(p.stem for p in (ROOT / "functions" / "handlers").glob("*.py") if p.stem != "__init__")


def _settings_model(handler: str) -> type[FunctionSettings]:
    module_name, _, _ = handler.rpartition(".")
    module = importlib.import_module(module_name)
    model = getattr(module, "SETTINGS", None)
    assert isinstance(model, type) and issubclass(model, FunctionSettings), f"{module_name} declares no SETTINGS"
    return model


def _resolved(value: Any) -> str:
    # Refs and GetAtts resolve to names and ARNs at deploy time: present and non-empty.
    return value if isinstance(value, str) else "<resolved at deploy time>"


@pytest.fixture(scope="module")
def functions(stacks) -> dict[str, dict[str, Any]]:
    """Every Lambda function of every stack the app builds (a function without a model fails the tests)."""
    found = {}
    for name, stack in stacks.items():
        for logical, resource in Template.from_stack(stack).find_resources("AWS::Lambda::Function").items():
            found[f"{name}/{logical}"] = resource["Properties"]
    return found


def test_every_handler_module_is_deployed_and_declares_its_settings(functions):
    deployed = {p["Handler"] for p in functions.values()}
    assert deployed == {f"functions.handlers.{name}.handler" for name in HANDLERS}
    for name in HANDLERS:
        _settings_model(f"functions.handlers.{name}.handler")


def test_every_functions_environment_satisfies_its_handlers_settings(functions):
    problems = []
    for logical, properties in sorted(functions.items()):
        model = _settings_model(properties["Handler"])
        variables = properties.get("Environment", {}).get("Variables", {})
        try:
            model.from_environment({name: _resolved(value) for name, value in variables.items()})
        except MissingSettings as error:
            problems.append(f"{logical}: {error}")
    assert not problems, "\n".join(problems)


def test_a_function_missing_a_variable_is_reported(functions):
    """The check itself bites: the plan function without its holds table fails, naming the variable."""
    (plan,) = [p for p in functions.values() if p["Handler"] == "functions.handlers.plan.handler"]
    variables = {k: _resolved(v) for k, v in plan["Environment"]["Variables"].items() if k != "HOLDS_TABLE"}
    with pytest.raises(MissingSettings, match="HOLDS_TABLE"):
        _settings_model(plan["Handler"]).from_environment(variables)


def test_handler_modules_read_settings_only_through_their_model():
    for name in HANDLERS:
        source = Path(ROOT / "functions" / "handlers" / f"{name}.py").read_text(encoding="utf-8")
        assert "os.environ" not in source and "SETTINGS.load()" in source, name
