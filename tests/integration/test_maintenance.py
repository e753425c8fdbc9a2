"""Maintenance silences through the real handler (issue 11).

Silences are added with the real command line (`zlb-health silence add`) into the stack's table
on moto's server; the handler then runs tick by tick against the emulator (`HandlerRig`) and
what subscribers received is checked. Silences are judged by each run's scheduled tick.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import boto3
import pytest
from tests.integration.handler_rig import (
    HandlerRig,
    Rig,
    listener,
    scheduler_event,
    set_status,
    tick_time,
    transitions,
    vm,
    world,
)

from zlb_health_tools import cli
from zlb_health_tools.history import run_history
from zlb_health_tools.silence import run_silence

pytestmark = pytest.mark.integration


def silence(r: HandlerRig, *argv: str) -> str:
    """`zlb-health silence add ARGV... --json` against the rig's table; the new silence's id."""
    args = cli.build_parser().parse_args(["silence", "add", *argv, "--author", "ops", "--json"])
    out, err = io.StringIO(), io.StringIO()
    env = {**os.environ, "TABLE_NAME": r.stack.table_name}
    assert run_silence(args, env=env, out=out, err=err) == 0, err.getvalue()
    return str(json.loads(out.getvalue())["id"])


def listed(r: HandlerRig) -> dict[str, dict[str, Any]]:
    """`zlb-health silence list --all --json`, by id."""
    args = cli.build_parser().parse_args(["silence", "list", "--all", "--json"])
    out, err = io.StringIO(), io.StringIO()
    env = {**os.environ, "TABLE_NAME": r.stack.table_name}
    assert run_silence(args, env=env, out=out, err=err) == 0, err.getvalue()
    return {s["id"]: s for s in json.loads(out.getvalue())}


def delivered(batches: list[list[dict[str, Any]]]) -> list[tuple[int, str, list[tuple]]]:
    """(tick, event_type, transitions) of every delivered message."""
    return [
        (tick, m["attributes"]["event_type"], sorted(transitions(m)))
        for tick, batch in enumerate(batches)
        for m in batch
    ]


def history(r: HandlerRig) -> dict[str, Any]:
    """`zlb-health history --json` of lb-1 from the rig's first tick to its last one."""
    argv = ["history", "--load-balancer-id", "lb-1", "--json"]
    argv += ["--since", tick_time(0), "--until", tick_time(r.minute - 1)]
    args = cli.build_parser().parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    env = {**os.environ, "TABLE_NAME": r.stack.table_name}
    assert run_history(args, env=env, out=out, err=err) == 0, err.getvalue()
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


def history_events(r: HandlerRig) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = history(r)["events"]
    return events


def three_listeners() -> list[dict[str, Any]]:
    return [
        listener(
            "lsn-a",
            [
                vm("vm-1", "10.0.0.1", backendPort=80),
                vm("vm-2", "10.0.0.2", backendPort=80),
                vm("vm-3", "10.0.0.3", backendPort=80),
            ],
        ),
        listener("lsn-b", [vm("vm-4", "10.0.0.4", backendPort=80)]),
    ]


def test_a_silence_holds_back_exactly_what_it_matches_and_its_end_says_what_is_left(
    rig: Rig,
) -> None:
    r = rig(
        world(
            three_listeners(),
            [
                set_status(1, "vm-1", "Dead"),
                set_status(1, "vm-2", "Dead"),
                set_status(1, "vm-4", "Dead", lsn="lsn-b"),
                set_status(10, "vm-1", "Alive"),
            ],
        )
    )
    held = silence(
        r,
        *("--load-balancer-id", "lb-1", "--backend", "lsn-a/vm-1/80"),
        *("--from", tick_time(0), "--until", tick_time(6), "--comment", "replace vm-1's disk"),
    )
    batches = r.ticks(13)
    assert delivered(batches) == [
        # tick 2: the second Dead observation (FAILURE_THRESHOLD 2); vm-1 is held back
        (
            2,
            "health_change",
            [("down", "vm-2", None, "Alive", "Dead"), ("down", "vm-4", None, "Alive", "Dead")],
        ),
        # tick 6: the window is over and vm-1 is still down: one message, told once
        (6, "maintenance_ended", [("down", "vm-1", None, "Alive", "Dead")]),
        # tick 11: vm-1's recovery is an ordinary alert again
        (11, "health_change", [("recovered", "vm-1", None, "Dead", "Alive")]),
    ]
    ended = next(m for m in batches[6])
    assert ended["attributes"]["severity"] == "warning"  # vm-3 still serves lsn-a
    assert ended["body"]["maintenance"] == held
    assert [(u["instanceId"], u["status"]) for u in ended["body"]["unhealthy"]] == [
        ("vm-1", "Dead")
    ]
    (sms,) = [p["sms"] for p in r.published if p["body"]["eventType"] == "maintenance_ended"]
    assert len(sms) <= 160, sms
    assert sms.isascii(), sms
    assert "maintenance ended" in sms, sms
    assert "vm-1" in sms, sms
    recorded = [e for e in history_events(r) if e.get("silencedBy")]
    assert [(e["silencedBy"], e["transitions"][0]["instanceId"]) for e in recorded] == [
        (held, "vm-1")
    ]
    assert listed(r)[held]["matched"] == 1
    # vm-1: ticks 0-5 under the silence (maintenance), then Dead 6-9 and Alive 10-12.
    (vm1,) = [a for a in history(r)["availability"] if a["backend"] == "lsn-a/vm-1/80"]
    assert (vm1["maintenance"], vm1["dead"], vm1["alive"]) == (6, 4, 3)
    assert vm1["percent"] == pytest.approx(300 / 7)


def test_a_window_that_ends_with_all_well_says_nothing(rig: Rig) -> None:
    r = rig(
        world(
            three_listeners(),
            [
                set_status(1, "vm-1", "Dead"),
                set_status(1, "vm-2", "Dead"),
                set_status(1, "vm-3", "Dead"),
                set_status(4, "vm-1", "Alive"),
                set_status(4, "vm-2", "Alive"),
                set_status(4, "vm-3", "Alive"),
                set_status(5, "vm-4", "Dead", lsn="lsn-b"),
            ],
        )
    )
    whole = silence(
        r,
        *("--load-balancer-id", "*", "--listener-id", "lsn-a", "--from", tick_time(0)),
        *("--until", tick_time(8), "--comment", "rolling restart"),
    )
    batches = r.ticks(12)
    # lsn-a went dark and came back inside the window: nothing; lsn-b is not silenced.
    assert delivered(batches) == [
        (6, "health_change", [("down", "vm-4", None, "Alive", "Dead")]),
    ]
    recorded = [e for e in history_events(r) if e.get("silencedBy") == whole]
    assert [[t["kind"] for t in e["transitions"]] for e in recorded] == [
        ["down", "down", "down"],
        ["recovered", "recovered", "recovered"],
    ]


def test_monitoring_trouble_of_a_silenced_load_balancer_waits_for_the_window(rig: Rig) -> None:
    faults = [{"type": "server_error", "loadBalancerId": "lb-1", "fromStep": 1}]
    r = rig(world(three_listeners(), faults=faults))
    silence(
        r,
        *("--load-balancer-id", "lb-1", "--from", tick_time(0), "--until", tick_time(5)),
        *("--comment", "API maintenance"),
    )
    batches = r.ticks(7)
    assert [(tick, kind) for tick, kind, _ in delivered(batches)] == [(5, "maintenance_ended")]
    (ended,) = batches[5]
    assert [e["change"] for e in ended["body"]["monitorEvents"]] == ["degraded"]


def at(moment: str, step: int) -> dict[str, Any]:
    return {**scheduler_event(step), "scheduledTime": moment}


def test_a_recurring_window_keeps_its_local_time_across_a_daylight_saving_change(
    rig: Rig,
) -> None:
    """Every evening 22:00-23:00 in Berlin: 21:00Z in winter, 20:00Z once summer time starts
    (2027-03-28). Ticks on both sides of the change; FAILURE/RECOVERY_THRESHOLD 1."""
    r = rig(
        world(
            [listener("lsn-a", [vm("vm-1", "10.0.0.1", backendPort=80), vm("vm-2", "10.0.0.2")])],
            [
                set_status(1, "vm-1", "Dead"),  # 27th 21:10Z = 22:10 CET: inside
                set_status(3, "vm-1", "Alive"),  # 28th 20:10Z = 22:10 CEST: inside
                set_status(4, "vm-2", "Dead"),  # 28th 21:10Z = 23:10 CEST: outside
            ],
        ),
        FAILURE_THRESHOLD="1",
        RECOVERY_THRESHOLD="1",
    )
    silence(
        r,
        *("--load-balancer-id", "lb-1", "--cron", "0 22 * * *", "--duration", "1h"),
        *("--timezone", "Europe/Berlin", "--from", "2027-03-01T00:00:00Z"),
        *("--comment", "nightly backup"),
    )
    ticks = [
        "2027-03-27T20:30:00Z",  # 21:30 CET: before the window
        "2027-03-27T21:10:00Z",  # 22:10 CET: in the window; vm-1 down is held
        "2027-03-27T22:10:00Z",  # 23:10 CET: after it; maintenance ended, vm-1 down
        "2027-03-28T20:10:00Z",  # 22:10 CEST: in the window (a fixed-UTC window would not be)
        "2027-03-28T21:10:00Z",  # 23:10 CEST: after it (a fixed-UTC window would be open)
    ]
    batches = []
    for step, moment in enumerate(ticks):
        r.tick(event=at(moment, step))
        batches.append(r.inbox.messages())
    assert delivered(batches) == [
        (2, "maintenance_ended", [("down", "vm-1", None, "Alive", "Dead")]),
        (
            4,
            "maintenance_ended",
            [("down", "vm-2", None, "Alive", "Dead"), ("recovered", "vm-1", None, "Dead", "Alive")],
        ),
    ]
    (last,) = batches[4]
    assert last["attributes"]["severity"] == "warning"  # vm-1 serves lsn-a again


def test_an_acknowledgement_ends_itself_once_the_backend_is_healthy_again(rig: Rig) -> None:
    """lsn-b's only backend is down (critical, reminders every minute); someone acknowledges
    it: the reminders stop, and its recovery ends the acknowledgement by itself."""
    r = rig(
        world(
            three_listeners(),
            [
                set_status(1, "vm-4", "Dead", lsn="lsn-b"),
                set_status(6, "vm-4", "Alive", lsn="lsn-b"),
            ],
        ),
        REMINDER_INTERVAL_MINUTES="1",
    )
    first = r.ticks(4)
    assert [(tick, kind) for tick, kind, _ in delivered(first)] == [
        (2, "health_change"),  # the second Dead observation: critical
        (3, "reminder"),
    ]
    ack = silence(
        r,
        *("--load-balancer-id", "lb-1", "--backend", "lsn-b/vm-4/80", "--until-healthy"),
        *("--from", tick_time(4), "--comment", "on it: INC-42"),
    )
    assert listed(r)[ack]["until_healthy"] is True
    later = r.ticks(6)  # ticks 4..9: no reminders; the recovery (seen twice at 7) is held
    assert [(tick + 4, kind, ts) for tick, kind, ts in delivered(later)] == [
        (8, "maintenance_ended", [("recovered", "vm-4", None, "Dead", "Alive")]),
    ]
    (ended,) = later[4]
    assert ended["attributes"]["severity"] == "info"
    assert listed(r)[ack]["state"] == "expired"
    assert listed(r)[ack]["expired_at"] == "2026-11-23T12:07:00.000Z"


def test_bad_input_is_refused_and_nothing_is_written(rig: Rig) -> None:
    r = rig(world(three_listeners()))
    for argv, named in [
        (["--until", "2026-11-23T12:00:00Z", "--from", "2026-11-23T13:00:00Z"], "--until"),
        (["--for", "31d"], "30 days"),
        (["--for", "1h", "--backend", "lsn-a/vm-1"], "--backend"),
        (["--cron", "0 25 * * *", "--duration", "1h"], "--cron"),
        (["--cron", "0 2 8-14 * 2", "--duration", "1h"], "2#2"),
        (["--cron", "0 2 * * *", "--duration", "1h", "--timezone", "Mars/Olympus"], "--timezone"),
    ]:
        args = cli.build_parser().parse_args(
            ["silence", "add", "--load-balancer-id", "lb-1", "--comment", "x", *argv]
        )
        err = io.StringIO()
        env = {**os.environ, "TABLE_NAME": r.stack.table_name}
        assert run_silence(args, env=env, out=io.StringIO(), err=err) == 2, argv
        line = err.getvalue()
        assert line.count("\n") == 1, (argv, line)
        assert named in line, (argv, line)
    args = cli.build_parser().parse_args(
        ["silence", "add", "--load-balancer-id", "lb-1", "--for", "1h", "--comment", " "]
    )
    err = io.StringIO()
    env = {**os.environ, "TABLE_NAME": r.stack.table_name}
    assert run_silence(args, env=env, out=io.StringIO(), err=err) == 2
    assert "--comment" in err.getvalue()
    items = boto3.client("dynamodb").scan(TableName=r.stack.table_name)["Items"]
    assert [i for i in items if i["PK"]["S"].startswith("SILENCE")] == []


def test_the_end_and_a_change_seen_in_the_same_run_keep_observation_order(rig: Rig) -> None:
    """vm-1 goes down inside the window (held); in the run that ends the window its health
    check is turned off. What subscribers last heard (Alive) must become Close: the held down
    comes before the new change, not after it."""
    health_check_off = {
        "step": 3,
        "action": "set_health_check",
        "loadBalancerId": "lb-1",
        "listenerId": "lsn-a",
        "enabled": False,
    }
    r = rig(
        world(
            [listener("lsn-a", [vm("vm-1", "10.0.0.1", backendPort=80)])],
            [set_status(1, "vm-1", "Dead"), health_check_off],
        ),
        FAILURE_THRESHOLD="1",
        RECOVERY_THRESHOLD="1",
    )
    silence(
        r,
        *("--load-balancer-id", "lb-1", "--from", tick_time(1), "--until", tick_time(3)),
        *("--comment", "swap vm-1"),
    )
    batches = r.ticks(5)
    assert delivered(batches) == [
        (3, "maintenance_ended", [("closed", "vm-1", None, "Alive", "Close")]),
    ]


def test_a_load_balancer_deleted_under_a_silence_is_closed_when_the_window_ends(
    rig: Rig,
) -> None:
    """Found by the soak (seed 5150): the load balancer's monitoring was degraded (a discovery
    outage polled it after its deletion), then a silence began, then discovery said it was
    gone. Its last word (deleted, monitoring ended) waits for the window; at the end it must
    come, so that nobody is left believing its monitoring is still degraded."""
    two = {
        "steps": 40,
        "loadBalancers": [
            {"loadBalancerId": "lb-1", "listeners": [listener("lsn-a", [vm("vm-1", "10.0.0.1")])]},
            {"loadBalancerId": "lb-2", "listeners": [listener("lsn-b", [vm("vm-9", "10.0.0.9")])]},
        ],
        "timeline": [{"step": 3, "action": "remove_load_balancer", "loadBalancerId": "lb-2"}],
        "faults": [{"type": "server_error", "status": 503, "actions": ["DescribeLoadBalancers"],
                    "fromStep": 3, "toStep": 6}],
    }  # fmt: skip
    r = rig(two)
    silence(
        r,
        *("--load-balancer-id", "lb-2", "--from", tick_time(7), "--until", tick_time(11)),
        *("--comment", "decommissioning"),
    )
    batches = r.ticks(14)
    said: list[tuple[int, str, str | None, str]] = []  # what each message said of lb-2
    for tick, batch in enumerate(batches):
        for m in batch:
            for entry in m["body"].get("loadBalancers", [m["body"]]):
                if entry.get("loadBalancerId") == "lb-2":
                    said += [(tick, m["attributes"]["event_type"], entry.get("retired"),
                              e["change"]) for e in entry.get("monitorEvents", [])]  # fmt: skip
    assert said == [
        (4, "monitor_degraded", None, "degraded"),  # before the window: told at once
        (11, "maintenance_ended", "deleted", "ended"),  # its last word, held until the end
    ]
    assert [len(batch) for batch in batches[12:]] == [0, 0]  # then nothing more
