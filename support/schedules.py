BEAT_SCHEDULE = {
    # Urgent first-response targets are 15 minutes, so a one-minute sweep keeps breaches timely.
    "support-sla-monitor": {"task": "support.sla_monitor", "schedule": 60.0},
}
