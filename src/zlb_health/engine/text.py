"""Text helpers shared by the renditions: ASCII folding, clipping, and the labels of things."""

from __future__ import annotations

import unicodedata

from zlb_health.engine.notifications import Notification, Transition


def ascii_text(text: str, limit: int | None = None) -> str:
    """Printable ASCII only: accents folded, anything else dropped, whitespace collapsed."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = " ".join("".join(c if " " <= c <= "~" else " " for c in folded).split())
    return clip(cleaned, limit)


def clip(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    if limit <= 3:
        return text[:limit]
    return text[: limit - 3].rstrip() + "..."


def one_line(text: str) -> str:
    """For the email: any characters, but no control characters or line breaks."""
    return " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in text).split())


def ascii_token(text: str, fallback: str, limit: int) -> str:
    """`text` folded to ASCII, or `fallback` when nothing of it survives (a name in Greek)."""
    return ascii_text(text, limit) or ascii_text(fallback, limit) or "?"


def ascii_label(listener_id: str, name: str) -> str:
    """A listener as an ASCII-only text (subjects, SMS) can show it."""
    return ascii_token(name, listener_id, 40)


def lb_label(n: Notification) -> str:
    if n.load_balancer_name and n.load_balancer_name != n.load_balancer_id:
        return f"{n.load_balancer_name} ({n.load_balancer_id})"
    return n.load_balancer_id


def listener_label(listener_id: str, name: str) -> str:
    return f"{name} ({listener_id})" if name and name != listener_id else listener_id


def target_label(t: Transition) -> str:
    if t.instance_id and t.private_ip_address:
        return f"{t.instance_id} ({t.private_ip_address})"
    return t.target


def ports_label(t: Transition) -> str:
    shown = t.shown_ports
    label = f"port{'s' if ',' in shown else ''} {shown}"
    if t.previous_port is not None:
        label += f" (was {t.previous_port})"
    return label
