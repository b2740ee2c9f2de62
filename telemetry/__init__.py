"""What PartnerDesk tells operators: Prometheus metrics, log lines, OpenTelemetry spans.

The bottom layer: every other layer may import it, it imports none of them (config only).
Operations are observed in one place, the request pipeline (schema/pipeline.py calls
telemetry/operations.py); the mail worker, the rate limits and the websocket route add
their own few counters.
"""
