"""Infrastructure shared by the services: settings, logs, metrics, Mongo, Kafka, outbox, HTTP.

Only adapters live here; no service's domain logic. Services import this and ``contracts``,
never each other.
"""
