"""Column names of the schemes' frames, in one place."""
from __future__ import annotations

PERIOD = "period"  # "2020-07", "2023-Q1", "2021-H2", "2021"
ENTITY = "entity"  # the assessed window, department, town or staff member, by name
INDICATOR = "indicator"  # an indicator's id
MODULE = "module"  # a module's id
COUNT = "count"  # 数量: events a record stands for (default 1)
VALUE = "value"  # 数值 as a figure, in thousandths (NA when it is not a number)
LEVEL = "level"  # 数值 as written: a level's or a flag's name
POINTS = "points"  # thousandths of a point
NOTE = "note"  # 说明: the evidence, the reason
ROW = "row"  # the source file's row number
DATE = "date"
PLACE = "place"  # comparison: the other place's name
OTHER = "other"  # comparison: the other place's figure, in thousandths
GROUP = "group"  # a group's id
KIND = "kind"  # window, department, town, staff
ORDER = "order"  # 序号
WINDOW = "window"  # a staff member's window
KEY = [PERIOD, ENTITY]
