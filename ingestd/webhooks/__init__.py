"""Webhooks (docs/http.md#webhooks): what happened, told to the billing systems that asked,
signed per the Standard Webhooks specification, stored before sending and retried for a day.

``payloads`` builds the events from what an import or a message did; ``deliveries`` keeps one
row per event and receiver and sends them (``sender``)."""
