"""The shared kernel: the words every package speaks, in plain Python (stdlib only).

It imports nothing else of the project, and no framework (import-linter holds it to that).

- `roles`: who a user is (话务员, 班长, 督办, 联络员, 领导, 管理员) and their labels.
- `actor`: who is acting, as the use cases need to know it.
- `errors`: the errors use cases raise (validation, not found, conflict, permission...).
- `masking`: who sees a caller's identity, and masking of names, phones and free text.
- `worktime`: durations, working-time arithmetic, deadlines and traffic lights.
- `text`: normalising Chinese input text and telling whether it holds words.
- `vocabulary`: request types and urgencies, the words of the service-level clocks.
- `units`: the kinds of member unit.
- `phones`: telephone numbers as people type them and as the hotline stores them.
"""
