"""The security battery (issue 6): each case asserts the exact status, the message
shown and that nothing was stored."""
