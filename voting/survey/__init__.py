"""The citizens' survey rounds (docs/rules.md §4): sampling, invitations, the four doors
to a vote, the phone survey."""
