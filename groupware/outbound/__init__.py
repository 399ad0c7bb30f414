"""Outbound delivery: the worker that drains the queue (worker.py) over SMTP (client.py).
It is a front door like the others: it only calls services, and never the siblings.
"""
