"""List integrity: flags for the review office (docs/rules.md §3.11), never a score."""
