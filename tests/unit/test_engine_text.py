"""The text helpers of the renditions: ASCII for SMS and subjects, one-line email text, labels."""

from __future__ import annotations

import pytest

from zlb_health.engine.notifications import Notification, Transition
from zlb_health.engine.text import (
    ascii_label,
    ascii_text,
    ascii_token,
    clip,
    lb_label,
    listener_label,
    one_line,
    ports_label,
    target_label,
)


def _t(
    instance_id: str | None = "i-1",
    ip: str = "10.0.0.1",
    *,
    port: int | None = None,
    ports: tuple[int, ...] = (),
    previous_port: int | None = None,
) -> Transition:
    return Transition(
        "lsn-1", "web", instance_id, ip, "80", port, "Alive", "Dead", None, "down",
        ports=ports, previous_port=previous_port,
    )  # fmt: skip


def test_ascii_text_keeps_every_printable_ascii_character_and_folds_accents() -> None:
    printable = "".join(chr(c) for c in range(0x21, 0x7F))  # "!" to "~"
    assert ascii_text(printable) == printable
    assert ascii_text("Café ~ Zürich") == "Cafe ~ Zurich"
    assert ascii_text("  tab\there\nnew  line \x7f end ") == "tab here new line end"
    assert ascii_text("Ωμέγα") == ""


@pytest.mark.parametrize(
    ("limit", "clipped"),
    [
        (None, "abcdefgh"),
        (9, "abcdefgh"),
        (8, "abcdefgh"),  # exactly at the limit: as is
        (7, "abcd..."),  # one over: clipped, the ellipsis within the limit
        (4, "a..."),
        (3, "abc"),  # no room for an ellipsis and a character: cut
        (2, "ab"),
        (0, ""),
    ],
)
def test_a_text_over_its_limit_is_clipped_with_an_ellipsis_when_there_is_room(
    limit: int | None, clipped: str
) -> None:
    assert clip("abcdefgh", limit) == clipped


def test_a_clipped_text_loses_the_space_before_its_ellipsis_but_keeps_its_start() -> None:
    assert clip("ab cdefgh", 6) == "ab..."
    assert clip(" abcdefgh", 7) == " abc..."


def test_one_line_turns_control_and_format_characters_into_single_spaces() -> None:
    assert one_line("a\x00b\tc\r\nd\u200be\x85f") == "a b c d e f"
    assert one_line("  Zürich \u2013 Ω ") == "Zürich \u2013 Ω"  # no control: kept as is


def test_a_name_with_nothing_in_ascii_falls_back_to_the_id_within_the_same_limit() -> None:
    assert ascii_token("Ωμέγα", "lsn-1234567890", 10) == "lsn-123..."
    assert ascii_token("Zürich", "lsn-1", 10) == "Zurich"
    assert ascii_token("Ωμέγα", "Ωμέγα", 10) == "?"


def test_a_listener_is_named_in_ascii_in_at_most_forty_characters() -> None:
    assert ascii_label("lsn-1", "n" * 40) == "n" * 40
    assert ascii_label("lsn-1", "n" * 41) == "n" * 37 + "..."
    assert ascii_label("lsn-" + "9" * 50, "Ωμέγα") == "lsn-" + "9" * 33 + "..."


def _n(name: str) -> Notification:
    return Notification("lb-1#00000001", "health_change", "info", "lb-1", name, "t", "")


def test_a_load_balancer_is_shown_by_name_and_id_unless_the_name_adds_nothing() -> None:
    assert lb_label(_n("shop")) == "shop (lb-1)"
    assert lb_label(_n("")) == "lb-1"
    assert lb_label(_n("lb-1")) == "lb-1"


def test_a_listener_is_shown_by_name_and_id_unless_the_name_adds_nothing() -> None:
    assert listener_label("lsn-1", "web") == "web (lsn-1)"
    assert listener_label("lsn-1", "") == "lsn-1"
    assert listener_label("lsn-1", "lsn-1") == "lsn-1"


def test_a_backend_is_shown_with_its_address_only_when_it_has_an_instance_id() -> None:
    assert target_label(_t()) == "i-1 (10.0.0.1)"
    assert target_label(_t(None)) == "10.0.0.1"
    assert target_label(_t("i-1", "")) == "i-1"


def test_the_ports_of_a_change_are_plural_only_when_there_are_several() -> None:
    assert ports_label(_t()) == "port 80"
    assert ports_label(_t(port=443)) == "port 443"
    assert ports_label(_t(ports=(80, 443))) == "ports 80,443"
    assert ports_label(_t(port=8080, previous_port=80)) == "port 8080 (was 80)"
