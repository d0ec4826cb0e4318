"""Column names of every DataFrame that crosses into or out of `scoring` (one place)."""

UNIT = "unit"
SECTION = "section"
YEAR = "year"
RESULT = "result"

# Results, as stored and as in SPEC §6's JSON.
SATISFIED = "satisfied"
UNSATISFIED = "unsatisfied"
MOST_UNSATISFIED = "most_unsatisfied"

# Flags derived from history.
EXEMPT = "exempt"
PREVIOUS_UNSATISFIED = "previous_unsatisfied"
