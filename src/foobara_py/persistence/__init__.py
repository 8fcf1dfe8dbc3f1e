"""Entities, the stores that keep them, and the transactions around command runs."""
