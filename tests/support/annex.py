"""Builds a section list in the Annex-1 layout real offices send: a title block above
the header, unit number and name in merged cells spanning their sections, the header
repeated at every page break (with the unit named again below it), stray spaces in
the header (`科      室`) and around names."""
from __future__ import annotations

import io

import pandas as pd
from openpyxl import Workbook

HEADER = ["单位序号", "单位名称", "科室序号", "科      室"]


def annex1_xlsx(frame: pd.DataFrame, page_rows: int = 40) -> bytes:
    """`frame` has the clean columns 单位序号, 单位名称, 科室序号, 科室."""
    wb = Workbook()
    ws = wb.active
    ws.append(["附件1"])
    ws.append(["2021年度全县千人评机关(含国有企业)中层科室活动参评科室名单"])
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=4)
    ws.append([])
    ws.append(HEADER)
    on_page = 0
    for (unit_no, unit), group in frame.groupby(["单位序号", "单位名称"], sort=False):
        start = None
        for record in group.to_dict("records"):
            if on_page == page_rows:  # page break: header again, the unit again below it
                if start is not None and ws.max_row > start:
                    _merge(ws, start, ws.max_row)
                ws.append(HEADER)
                on_page, start = 0, None
            if start is None:
                start = ws.max_row + 1
                ws.append([int(unit_no), f"\n{unit} ", int(record["科室序号"]), record["科室"]])
            else:
                ws.append([None, None, int(record["科室序号"]), record["科室"]])
            on_page += 1
        if ws.max_row > start:
            _merge(ws, start, ws.max_row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _merge(ws, first: int, last: int) -> None:
    ws.merge_cells(start_row=first, start_column=1, end_row=last, end_column=1)
    ws.merge_cells(start_row=first, start_column=2, end_row=last, end_column=2)
