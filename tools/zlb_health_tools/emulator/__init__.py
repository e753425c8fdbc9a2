"""Local Zenlayer API emulator (zlb service): see docs/emulator.md."""

from zlb_health_tools.emulator.demo import demo_scenario
from zlb_health_tools.emulator.scenario import (
    FleetLookupError,
    Scenario,
    ScenarioError,
    generate_fleet,
    load_scenario,
)
from zlb_health_tools.emulator.server import (
    DEMO_ACCESS_KEY,
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_PASSWORD,
    DEMO_TOKEN,
    Emulator,
    demo_credentials,
    run_emulator,
)

__all__ = [
    "DEMO_ACCESS_KEY",
    "DEMO_ACCESS_KEY_ID",
    "DEMO_ACCESS_KEY_PASSWORD",
    "DEMO_TOKEN",
    "Emulator",
    "FleetLookupError",
    "Scenario",
    "ScenarioError",
    "demo_credentials",
    "demo_scenario",
    "generate_fleet",
    "load_scenario",
    "run_emulator",
]
