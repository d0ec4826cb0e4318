"""The online round (docs/rules.md §1 steps 6–7, §4): evaluators, the secret ballot, the
monitoring, the published results."""
