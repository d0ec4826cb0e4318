"""Pure scoring of the thousand-person evaluation (SPEC §2).

DataFrames or plain values in, DataFrames out: no Flask, no SQLAlchemy, no I/O.
"""
