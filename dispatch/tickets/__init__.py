"""The ticket core: lifecycle, clocks, assignments, attachments, and the use cases on tickets.

- `domain`: the vocabulary and the lifecycle state machine, who may act (pure).
- `models`: the tables of tickets, assignments, events, extensions, attachments, SLA rules.
- `commands`: the validated input of each ticket use case.
- `context`: what every use case takes (SLA policy, publisher, clock, names) and the ticket
  facts they share.
- `actions`: accept a request and act on a ticket (`create_ticket`, `perform_action`).
- `transitions`: what each lifecycle action does to a ticket, and its event row.
- `reads`: who may read a ticket, one ticket's detail, the filtered lists.
- `views`: how a ticket reads to an actor, masked where the rules say so.
- `units`: the units a ticket can be dispatched to.
- `attachments`: who may add and read files on a ticket, and what a file must be.
- `idempotency`: a retried action answers what the first one did.
- `policy`: the admin's SLA rules and calendar days over config.yaml.
"""
