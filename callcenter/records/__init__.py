"""Call records (CDR): kept in step with the ACD, and the call KPIs counted from them.

- `sync`: write each call's record after every ACD step; defer it while the database is down.
- `kpis`: the call KPIs (话务指标) of a period, from the records.
"""
