"""Administration use cases (系统管理): user accounts, the unit catalogue, SLA rules, calendar."""
