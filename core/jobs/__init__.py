"""What runs on a clock or after a change: webhook delivery from the outbox (`webhooks`), the
weekly report (`reports`) and the scheduler that runs them and the rebalancer (`schedule`). The
top package: it may import every other one."""
