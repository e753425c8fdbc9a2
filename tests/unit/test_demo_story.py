"""`make run`'s story, pure: why nothing was sent (changes held below their threshold), the
blips that came back unsent, the totals, and the JSON rendition shown once."""

from __future__ import annotations

import io
from collections.abc import Iterator

from tests.unit.engine_helpers import be, observation
from tests.unit.test_fleet_status import ALIVE, THRESHOLDS, run, stored

from zlb_health_tools.demo import Story, print_messages


def ticking(*moments: float) -> Iterator[float]:
    yield from moments


def test_the_story_says_why_nothing_was_sent_then_counts_the_blip() -> None:
    clock = ticking(100.0, 112.34)
    story = Story(THRESHOLDS, clock=lambda: next(clock))
    runner = run("lb-api", "api-gateway", ALIVE, [be("i-1", "Dead"), be("i-2")])
    out = io.StringIO()
    story.cycle(out, [stored(runner)])
    assert out.getvalue() == (
        "  below threshold, not sent yet:\n    api-gateway: i-1:80 Dead, 1 of 2 before alerting\n"
    )
    runner.apply(observation(3, *ALIVE, lb="lb-api", name="api-gateway"))
    out = io.StringIO()
    story.cycle(out, [stored(runner)])
    assert out.getvalue() == (
        "  blip, suppressed: api-gateway: i-1:80 was Dead for 1 run (threshold 2), Alive again\n"
    )
    story.messages([{"attributes": {"severity": s}} for s in ("critical", "info", "info")])
    out = io.StringIO()
    story.totals(out, 10)
    assert out.getvalue() == (
        "totals after 10 runs:\n"
        "  messages sent: 3 (1 critical, 0 warning, 2 info)\n"
        "  blips suppressed: 1 (changes that came back before their threshold: nothing sent)\n"
        "  held back by maintenance: 0 changes (told once, when it ended)\n"
        "  elapsed: 12.3 s\n"
    )


def test_the_json_rendition_is_shown_for_the_first_message_only_when_asked() -> None:
    message = {
        "subject": "S",
        "sms": "T",
        "email": "E\n",
        "default": '{"schemaVersion":1,"eventType":"health_change"}',
        "attributes": {"event_type": "health_change", "severity": "info", "load_balancer_id": "lb"},
    }
    out = io.StringIO()
    assert print_messages(out, [message, message], 2, show_json=True) is True
    assert out.getvalue().count("[JSON, as SQS, Lambda and HTTP subscribers get it") == 1
    assert '  |   "schemaVersion": 1,\n' in out.getvalue()
    out = io.StringIO()
    assert print_messages(out, [message], 1) is False
    assert "JSON" not in out.getvalue()
    assert print_messages(io.StringIO(), [], 0, show_json=True) is False  # nothing to show yet
