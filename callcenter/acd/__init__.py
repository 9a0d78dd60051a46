"""The ACD: seats, agent states and the queue in Redis, and what every party shares of it.

- `engine`: the atomic routing decisions (Lua in Redis) and the seats' and calls' state.
- `scripts`: the Lua scripts `engine` runs in Redis, one per operation.
- `keys`: the one place the ACD's Redis keys, channels and protocol headers are spelled.
- `seatsync`: what a seat's softphone tells the ACD of its calls, until the web app heard it.
- `channel`: a Redis pub/sub channel a long-running process keeps through Redis outages.
- `spytoken`: listen-in tokens a seat asks of a supervisor before letting them in.
"""
