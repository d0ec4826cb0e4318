"""The security battery: each case asserts the exact status, the message
shown and that nothing was stored."""
