"""Pure scoring of the thousand-person evaluation (docs/rules.md §2).

DataFrames or plain values in, DataFrames out: no Flask, no SQLAlchemy, no I/O.
"""
