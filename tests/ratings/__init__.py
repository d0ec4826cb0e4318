"""Citizens' ratings at the window: rating addresses, phone verification, working days."""
