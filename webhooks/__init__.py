"""Webhooks: every domain event, delivered to the URLs a partner registers, signed and retried.

    outbox.py     queue_deliveries(): one row per matching endpoint, in the change's transaction
                  (called by events/activity.py record_activity); pings and redeliveries
    payloads.py   the JSON body of each event type: {"type", "timestamp", "data"}
    signing.py    Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature)
    addresses.py  which URLs and addresses an endpoint may have (no private networks), checked
                  when it is saved and at every attempt, with the connection pinned to the
                  address that was checked
    failures.py   why an attempt failed: a short reason partners may read, the detail for the log
    worker.py     the delivery worker (leases, SKIP LOCKED, concurrent sends, full-jitter retries)
    outcomes.py   what an attempt's outcome changes: the row, the endpoint's health, disabling it

It sits beside mailers/: it imports models/, events/ and mailers/ (the owners' e-mail when an
endpoint is disabled), never resolvers/ or schema/.
"""
