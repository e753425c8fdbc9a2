"""The pure health-state engine: state, rules, notifications, coalescing, rendering, planning.

No I/O, no clock, standard library only. The adapters persist `LbState` / `FleetState` (via
`to_dict`) and pending `Notification`s, coalesce what is pending (`coalesce`), and publish what
`plan_messages` returns.

    observation.py  what a run saw (per scope: an answer or a failure)
    backends.py     an answer applied to the backends: units, streaks, absence, transitions
    monitoring.py   the monitor's own health per scope (degraded / restored / ended)
    tally.py        how listeners serve (healthy / partial / down), criticality
    compose.py      transitions + events -> Notification (type, severity, summary)
    rules.py        apply_observation / note_missing / retire: one subject, one step
    fleet.py        discovery's health and the registry of known load balancers
    coalesce.py     undelivered notifications -> their net effect
    render.py       one notification (or a group) -> subject, JSON, email, SMS
    plan.py         the run's messages under the storm cap
"""
