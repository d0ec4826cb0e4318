"""The scores (docs/rules.md §2): the scorecard, its pages, charts and report."""
