"""Staff accounts, their login, second factor and roles (docs/rules.md §1.3)."""
