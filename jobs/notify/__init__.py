"""Policyholder notifications through an outbox.

``enqueue`` writes one e-mail per policyholder in the decisions' transaction;
``send_pending`` delivers them (``.eml`` files or SMTP), at most once per outbox key."""

from jobs.notify.outbox import enqueue, outbox_key
from jobs.notify.sender import SendSummary, send_pending

__all__ = ["SendSummary", "enqueue", "outbox_key", "send_pending"]
