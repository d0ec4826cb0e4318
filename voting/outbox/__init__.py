"""The durable SMS outbox, its dispatch, the providers' callbacks and the outbox page."""
