"""Error pages in Chinese with the right status; never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from voting.errors import DomainError

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("请求无效", "提交的内容不完整或格式不对,请返回重试。"),
    401: ("需要登录", "请先登录。"),
    403: ("无权访问", "您的账号没有访问这个页面的权限。"),
    404: ("页面不存在", "您要找的页面不存在,或已被删除。"),
    405: ("请求方式不允许", "这个地址不接受这种请求方式。"),
    409: ("数据已变化", "数据已被修改,请刷新后重试。"),
    410: ("已截止", "这项评价已经截止。"),
    413: ("文件太大", "上传的文件超过大小上限,请拆分后再上传。"),
    422: ("内容有误", "提交的内容有误。"),
    429: ("操作过于频繁", "请稍后再试。"),
    500: ("系统错误", "系统出现错误,已记录。请稍后再试或联系评议办。"),
}


def error_page(status: int, message: str | None = None):
    title, default = MESSAGES.get(status, MESSAGES[400] if status < 500 else MESSAGES[500])
    return render_template("error.html", title=title, message=message or default, status=status), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return error_page(400, "页面已过期或表单校验失败(CSRF),请刷新页面后重新提交。")

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
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_page(500)
