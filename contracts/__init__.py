"""Shared shapes of Gongkai: the event envelope, the event schemas and the topic catalogue."""
