"""Named domain errors. A view turns them into a flash message or an error page, the
CLI into a message and a non-zero exit; neither shows a stack trace."""
from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Something the user can fix; `str(error)` is the Chinese message to show."""

    status = 400


class NotFoundError(DomainError):
    status = 404


class TooLargeError(DomainError):
    """A request bigger than the platform takes (a form's text, not an upload)."""

    status = 413


class StaleError(DomainError):
    """What was previewed no longer matches the database: preview again."""

    status = 409


@dataclass(frozen=True, order=True)
class RowError:
    """One bad cell: the file's own row number (1-based, as Excel shows it), the
    column's letter and header, and the reason."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" if self.row else "文件"
        if self.column:
            where += f"，{self.column}"
        return f"{where}：{self.reason}"


class ImportRejected(DomainError):
    """A file with at least one bad row: nothing of it was stored."""

    status = 422

    def __init__(self, filename: str, errors: list[RowError], rows_read: int | None = None):
        self.filename = filename
        self.errors = sorted(errors)
        self.rows_read = rows_read
        self.bad_rows = len({e.row for e in self.errors if e.row})
        summary = f"读取 {rows_read} 行，其中 {self.bad_rows} 行有错误；" if rows_read is not None else ""
        super().__init__(f"文件 {filename} 有 {len(self.errors)} 处错误，{summary}未导入任何数据。")
