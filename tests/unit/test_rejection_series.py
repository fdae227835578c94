"""Every reason a worker can reject a command with has its Prometheus series
from the start (alerts and rate() need one before the first rejection)."""

from prometheus_client import REGISTRY

import app.metrics  # noqa: F401  (creates the series)
from api_schemas.enums import RejectionReason


def test_each_rejection_reason_starts_with_a_series() -> None:
    # The hand-kept list this replaced had `replayed_nonce` (the worker says
    # `nonce_replayed`) and no `wrong_run`.
    for reason in ("nonce_replayed", "wrong_run", *RejectionReason):
        value = REGISTRY.get_sample_value(
            "esper_command_rejections_total", {"reason": str(reason)}
        )
        assert value is not None, reason
    assert (
        REGISTRY.get_sample_value(
            "esper_command_rejections_total", {"reason": "replayed_nonce"}
        )
        is None
    )
