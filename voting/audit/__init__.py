"""The append-only audit log: every score-affecting action, chained (its sentences and its
page are the office's: voting/office/)."""
