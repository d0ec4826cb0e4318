"""The campaign's lists: units and sections (参评科室), service-object lists, earlier years'
results (docs/rules.md §3, §6)."""
