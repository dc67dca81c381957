"""The record: `protocol_activity`, written by every decision in the transaction that makes it
(`activity`), and the webhook outbox that each reportable activity feeds (`outbox`; delivery is
`core.jobs.webhooks`), and the audit MACs that make these and the other deciding rows prove
themselves (`audit`). May import only `core.base`."""
