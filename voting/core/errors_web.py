"""Error pages in Chinese with the right status; never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from voting.core.db import rollback_request
from voting.core.errors import DomainError, TooLargeError

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("请求无效", "提交的内容不完整或格式不对，请返回重试。"),
    401: ("需要登录", "请先登录。"),
    403: ("无权访问", "您的账号没有访问这个页面的权限。"),
    404: ("页面不存在", "您要找的页面不存在，或已被删除。"),
    405: ("请求方式不允许", "这个地址不接受这种请求方式。"),
    409: ("数据已变化", "数据已被修改，请刷新后重试。"),
    410: ("已截止", "这项评价已经截止。"),
    413: ("内容太大", "上传的文件太大或提交的内容太长，超过大小上限：文件请拆分后再上传，文字请删减后再提交。"),
    422: ("内容有误", "提交的内容有误。"),
    429: ("操作过于频繁", "请稍后再试。"),
    500: ("系统错误", "系统出现错误，已记录。请稍后再试或联系评议办。"),
}


def error_page(status: int, message: str | None = None):
    title, default = MESSAGES.get(status, MESSAGES[400] if status < 500 else MESSAGES[500])
    return render_template("error.html", title=title, message=message or default, status=status), status


NUL_REFUSED = "提交的内容含有空字符（NUL,\\x00），无法保存；请删除该字符后重新提交。"


def check_input() -> None:
    """Before any view. A form that is not an upload (not multipart) bigger
    than MAX_TEXT_FORM_LENGTH is refused with 413: no text field takes more than a few
    KB, and a page must not echo megabytes back (uploads keep MAX_CONTENT_LENGTH, their
    text fields werkzeug's MAX_FORM_MEMORY_SIZE). A NUL character in a query or form
    value (or a field or file name) is refused with 400: PostgreSQL cannot store or
    even compare text holding one (it raises), and no field has a use for it."""
    limit = current_app.config.get("MAX_TEXT_FORM_LENGTH")
    if limit and request.mimetype != "multipart/form-data" and (request.content_length or 0) > limit:
        raise TooLargeError(f"提交的内容超过大小上限（{limit // 1024} KB），请删减文字后再提交。")
    sources = [request.args]
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        sources += [request.form]
        names = [(key, storage.filename or "") for key, storage in request.files.items(multi=True)]
    else:
        names = []
    for source in sources:
        for key, value in source.items(multi=True):
            if "\x00" in key or "\x00" in value:
                raise DomainError(NUL_REFUSED)
    if any("\x00" in key or "\x00" in name for key, name in names):
        raise DomainError(NUL_REFUSED)


def init_app(app: Flask) -> None:
    app.before_request(check_input)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return error_page(400, "页面已过期或表单校验失败（CSRF），请刷新页面后重新提交。")

    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        return error_page(error.status, str(error))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        message = None
        if error.code == 429:
            message = error.description if isinstance(error.description, str) else None
        return error_page(error.code or 500, message)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        from voting.core.logs import redact

        log.exception("unhandled error on %s %s", request.method, redact(request.path))
        # Done already for a view's error or a failed commit (voting/core/db.py, the request's
        # unit of work); not for one raised before the view (a before_request function).
        # The page's own reads (the user in the navigation) need a usable session, or
        # the WSGI server's bare page would be all that is left.
        rollback_request()
        return error_page(500)
