"""What a unit reads of a citizen's text: numbers and addresses that could name the
citizen are removed, the rest is kept as written."""
import pytest

from voting.ratings.redact import REMOVED, for_unit


@pytest.mark.parametrize(("typed", "shown"), [
    ("窗口人员态度差，我的电话13812345678", f"窗口人员态度差，我的电话{REMOVED}"),
    ("打+86 138-1234-5678找我", f"打{REMOVED}找我"),
    ("电话 138 1234 5678。", f"电话 {REMOVED}。"),
    ("身份证33032719800101123X办不了", f"身份证{REMOVED}办不了"),
    ("全角１３８１２３４５６７８", f"全角{REMOVED}"),
    ("邮箱 wang.wei@example.com 回复", f"邮箱 {REMOVED} 回复"),
    ("座机0577-6371234", f"座机{REMOVED}"),
    ("等了 40 分钟，排第 123 号", "等了 40 分钟，排第 123 号"),
    ("2024-05-06 上午", "2024-05-06 上午"),
    ("", ""),
    (None, ""),
])
def test_what_a_unit_reads(typed, shown):
    assert for_unit(typed) == shown
