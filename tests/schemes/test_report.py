"""The monthly report (政务服务月报) as Word: Miyi's July 2020 from its own items and
text, with the red flags and stars the scores give and the appendices' tables."""
from __future__ import annotations

import docx

from tests.schemes.test_reproduce import reproduce
from voting.schemes.files import builtin_folder
from voting.schemes.report import read_texts, write_report


def test_miyi_monthly_report(tmp_path):
    result = reproduce("miyi")
    write_report(result, "2020-07", read_texts(builtin_folder() / "miyi"), tmp_path / "月报.docx")
    document = docx.Document(tmp_path / "月报.docx")
    text = [paragraph.text for paragraph in document.paragraphs]
    headings = [t for t in text if t[:2] in ("一、", "二、", "三、", "四、", "五、")]
    assert headings == ["一、办件情况", "二、好差评情况", "三、窗口（单位）考核情况", "四、窗口人员考核情况", "五、工作动态"]
    assert "2020年7月政务服务月报" in text and "2020年第5期 总第143期" in text
    assert ("经考核，民政局窗口、自然资源规划和林业局窗口、公安局窗口、人力资源社会保障局窗口、农业农村局窗口被评为红旗窗口。"
            in text)
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    assert "陈芬（民政局）" in cells and "付丽（自然资源规划和林业局）" not in cells
    ranking = document.tables[2]
    assert [c.text for c in ranking.rows[0].cells] == ["名次", "窗口名称", "得分", "名次", "窗口名称", "得分"]
    assert [c.text for c in ranking.rows[1].cells] == ["1", "民政局", "103.2", "2", "自然资源规划和林业局", "103"]
    assert any(t.startswith("附件：1.2020年7月常驻窗口（单位）综合考核排名表") for t in text)
    assert "6.30日，完成乡镇、村（社区）政务服务事项清单及县级各部门2020年拟下沉政务服务事项清单初稿梳理。" in text


def test_report_without_the_office_text_says_what_to_fill(tmp_path):
    write_report(reproduce("jinjiang"), "2023-Q1", {}, tmp_path / "r.docx")
    text = [p.text for p in docx.Document(tmp_path / "r.docx").paragraphs]
    assert "（本月办件情况由办公室填写。）" in text
    assert any(t.startswith("经考核，") and "被评为红旗窗口" in t and "公安出入境" not in t for t in text)
