"""Routing (分得更准): which unit, category and request type a ticket is, learned from use.

- `router`: suggestions for a draft and the auto-dispatch decision.
- `classifier`: Chinese text classification behind one interface, and its evaluation.
- `learning`: training data from the hotline's own decisions, retraining, model versions.
- `assist`: the front desk's use of routing: suggestions, duplicates, auto-dispatch on create.
- `locality`: which district, street and community a request is about.
- `duplicates`: open tickets on the same matter, at the same place or from the same caller.
- `pending`: 待派单, tickets accepted but not yet given to any unit, with suggestions.
- `models`: the tables of the matter catalogue and the saved models.
"""
