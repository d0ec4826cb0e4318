"""下载模板: GET /office/templates/<kind>.xlsx, the import template of each file the
platform reads (voting/office/import_templates.py), for the campaign's year and rules.

Each template is open to the roles of the page that imports its file:

- sections, history: the review office's admins (导入参评科室名单, 导入往年评议结果);
- objects: the admins and the unit liaisons (上传服务对象名单);
- votes, platform, inspection, bonus, supervisor: the review office (评分数据: admins
  import, operators and auditors read the page with its columns);
- representatives: the review office (网络评价, where admins import the 代表名单).

A liaison enters supervisor scores in the 主管单位评价 form, which has no file, so the
supervisor template is the review office's, as its import is.
"""
from __future__ import annotations

import io

from flask import Blueprint, abort, send_file
from flask_login import current_user

from voting.staff.auth import roles_required
from voting.office import import_templates
from voting.web.common import ADMIN, OFFICE, STAFF, UPLOADERS, current_campaign

bp = Blueprint("import_templates", __name__, url_prefix="/office/templates")

ROLES = {
    "sections": ADMIN,
    "history": ADMIN,
    "objects": UPLOADERS,
    "votes": OFFICE,
    "platform": OFFICE,
    "inspection": OFFICE,
    "bonus": OFFICE,
    "supervisor": OFFICE,
    "representatives": OFFICE,
}
assert ROLES.keys() == import_templates.SPECS.keys()


@bp.get("/<kind>.xlsx")
@roles_required(*STAFF)
def download(kind: str):
    """The template of `kind` (a key of ROLES: sections, objects, votes, ...)."""
    if kind not in ROLES:
        abort(404)
    if current_user.role not in ROLES[kind]:
        abort(403)
    template = import_templates.spec(kind, current_campaign())
    response = send_file(io.BytesIO(import_templates.build(template)), mimetype=import_templates.XLSX,
                         as_attachment=True, download_name=f"{template.title}-导入模板.xlsx")
    response.headers["Cache-Control"] = "no-store"  # the campaign's rules may change
    return response
