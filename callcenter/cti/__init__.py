"""CTI for people's browsers: the operator's console, the hall's live view, the call-back list.

- `console`: sign in to a seat, set the agent state, hear of calls, press the phone's buttons.
- `hall`: the supervisors' live view (坐席监控), their not-ready and seat reset, listen-in.
- `callbacks`: 漏接回拨 over JSON: list the tasks, claim, dial from one's seat, record, cancel.
"""
