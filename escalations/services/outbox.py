"""The one place escalations queues Celery work: delivering the notification outbox."""

import logging

from celery import current_app
from django.db import transaction

DELIVER_TASK_NAME = "escalations.deliver_notifications"

logger = logging.getLogger(__name__)

# A kick is a hint, not the delivery itself: try the broker briefly, then leave the
# rows to the periodic delivery sweep (every minute).
_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}


def notifications_enqueue_delivery() -> None:
    """Ask a worker to deliver pending notifications, once the transaction commits.

    The one place escalations enqueues Celery work. A broker outage after commit is
    logged, never raised: the rows stay pending for the next delivery sweep.
    """
    transaction.on_commit(send_delivery_task, robust=True)


def send_delivery_task() -> None:
    """Send the delivery task by its name (``escalations.tasks`` registers it)."""
    try:
        current_app.send_task(DELIVER_TASK_NAME, retry=True, retry_policy=_PUBLISH_RETRY_POLICY)
    except Exception:  # the broker is down or refuses: the periodic sweep delivers
        logger.warning(
            "Could not queue %s; the periodic delivery sweep will send the notifications.",
            DELIVER_TASK_NAME,
            exc_info=True,
        )
