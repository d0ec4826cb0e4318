"""SMS: senders, link tokens, inbound webhook parsing. Knows nothing about voting."""
