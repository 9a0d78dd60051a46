"""Follow-up (回访): automated survey calls and SMS (`survey`), the people's queues (`queues`)
and their JSON API (`web`).
"""
