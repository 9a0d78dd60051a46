"""The ticket core: lifecycle, clocks, assignments, attachments, and the use cases on tickets.

- `domain`: the vocabulary and the lifecycle state machine, who may act (pure).
- `models`: the tables of tickets, assignments, events, extensions, attachments, SLA rules.
- `commands`: the validated input of each ticket use case.
- `services`: accept, act on, read and list tickets.
- `attachments`: who may add and read files on a ticket, and what a file must be.
- `idempotency`: a retried action answers what the first one did.
- `policy`: the admin's SLA rules and calendar days over config.yaml.
"""
