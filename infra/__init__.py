"""What every package stands on: database, settings, web plumbing, accounts, jobs, files.

It imports the shared kernel and frameworks, never a package above it.

- `db`: the declarative base, engine, sessions and the unit of work; `migrate`: Alembic.
- `settings`: typed settings from config.yaml and HOTLINE_ environment overrides.
- `models`: member units, users, API tokens and the audit log; `auth`: passwords, sign-in
  throttling and tokens; `audit`: the audit log's writer.
- `http`: Flask plumbing every blueprint shares (the container, the actor, CSRF, input);
  `errors`: one mapping from errors to `{"error", "message", "details"}` answers; `ids`:
  bounded row ids; `ratelimit`: fixed-window limits in Redis; `commands`: strict input models.
- `assembly`: how jobs and commands get the app's services without importing the root;
  `jobs`: the rq job runtime and cron clock; `worker`: rescuing a dead worker's jobs;
  `lifeline`: keeping a loop alive through outages.
- `text`: the jieba tokenizer with the hotline's own words; `files`: content-addressed
  files; `ooxml`: is an upload really a Word or Excel file; `workdays`: the official
  holiday calendar; `logs`: request and ticket ids on every log line; `openapi`: the
  building blocks every package's OpenAPI paths share (errors, parameters, bodies).
"""
