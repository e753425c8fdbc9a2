"""The built-in demo fleet (`demo.json` next to this module).

Storyline, one step per cycle of the local runner (thresholds FAILURE_THRESHOLD=2,
RECOVERY_THRESHOLD=2, MONITOR_FAILURE_THRESHOLD=3: a state must be seen twice to count):

| step | what happens                                              | expected alert (cycle = step) |
| ---- | --------------------------------------------------------- | ----------------------------- |
| 0    | everything Alive                                          |                               |
| 1    | lb-api vm-api-1 port 8001 Dead (port 8000 stays Alive)    |                               |
| 2    | lb-web vm-web-2 Dead on lsn-web-http (Alive on https);    | lb-api port 8001 down         |
|      | lb-db IP-only standby 10.0.3.40 Dead                      |   (warning)                   |
| 3    | lb-api API outage starts: every call answers 503          | lb-web vm-web-2 down, lb-db   |
|      |                                                           |   10.0.3.40 down (warning)    |
| 4    | lb-db vm-db-1 and vm-db-2 Dead: lsn-db-tcp has no healthy |                               |
|      | backend; lb-api: first DescribeBackendHealth hangs 6 s    |                               |
|      | then drops, the rest 503                                  |                               |
| 5    | lb-api still 503 (3rd failed step)                        | lb-db critical; lb-api        |
|      |                                                           |   monitor_degraded            |
| 6    | lb-api API back; vm-api-1 port 8001 Alive;                | lb-api monitor_restored       |
|      | lb-web vm-web-2 Alive                                     |                               |
| 7    | lb-db all three backends Alive                            | lb-web vm-web-2 up, lb-api    |
|      |                                                           |   port 8001 up (info)         |
| 8    | lb-web vm-web-3 Dead on https for this one step only      | lb-db recovered (info)        |
| 9    | vm-web-3 Alive again: the blip never reaches the          |                               |
|      | threshold, so no alert                                    |                               |
| 10   | maintenance of lb-web's lsn-web-http (`make run` adds a   |                               |
|      | silence for steps 10-13): vm-web-1 Dead (restarting)      |                               |
| 11   | vm-web-2 Dead too                                         | vm-web-1 down: held back      |
| 12   | vm-web-1 Alive again                                      | vm-web-2 down: held back      |
| 13   | (vm-web-2 stays Dead)                                     | vm-web-1 recovered: held back |
| 14   | the window is over                                        | lb-web maintenance_ended:     |
|      |                                                           |   vm-web-2 still down         |
|      |                                                           |   (warning); vm-web-1's down  |
|      |                                                           |   and back in the email only  |
| 15   | vm-web-2 Alive                                            |                               |
| 16   | the state equals step 0                                   | lb-web vm-web-2 up (info)     |

After step 16 the timeline loops (`afterTimeline: loop`), so the standalone emulator replays
the story for ever; step 16 and step 0 are identical, so the loop is seamless. The silence lives
in the table, not in the emulator: a standalone emulator replays steps 10-15 as ordinary alerts.
"""

from __future__ import annotations

from pathlib import Path

from zlb_health_tools.emulator.scenario import Scenario, load_scenario

DEMO_SCENARIO_PATH = Path(__file__).with_name("demo.json")


def demo_scenario() -> Scenario:
    """A fresh copy of the built-in demo fleet."""
    return load_scenario(DEMO_SCENARIO_PATH)
