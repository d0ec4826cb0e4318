#!/usr/bin/env python3
"""Convert ASCII punctuation inside Chinese prose to full-width (简体中文) punctuation.

    python fullwidth.py REPO_ROOT [--dry-run] [--diff] [--report]

    (no option)  rewrite the files in place, print each changed file and a total
    --dry-run    change nothing, print what would change (file: lines)
    --diff       with --dry-run: also print the unified diff
    --report     also print, for review: the punctuation left ASCII inside Chinese text,
                 the conversions made only because of placeholders or of a missing
                 partner parenthesis, the strings skipped (regexes in production code,
                 CSV text, SQL), the English docstrings/comments left alone, the
                 explicit edits applied

Deterministic (files sorted, no randomness, no network), idempotent (every text is
converted until it no longer changes, so a second run changes nothing), standard library
only.  Run it with Python 3.11 (the project's version): in 3.11 an f-string is one
STRING token, which is what the Python part expects.  A converted Python file is
compiled before it is written (and must hold the same number of literals), or it is
left unchanged with a REFUSED line on stderr.

WHAT IS CONVERTED:  , : ; ! ? ( )  ->  ， ： ； ！ ？ （ ）  in Chinese prose only
  "Chinese" below means a CJK ideograph or CJK / full-width punctuation (、。“”…（）).
  * , ; :  when the nearest non-space character before or after is Chinese
      ("满意, 基本满意", "提醒:您", "账号:{login}");
    or in a line holding Chinese, when it sits between placeholders ({x}, {{ x }}) or at
      an end of the text ("{unit}:{tier}档有", "{{ fair }}</b>:0 – 2.9 分", a test's
      prefix "单位00:"); a colon must touch its placeholders ("{type}: {error}" is
      Python's own "Name: message" and stays);
    never between digits or digit-formatted fields (10:30, 1,000, {hour:02d}:{minute:02d}),
      a colon never before "/" or ":" nor after "://" inside the same word (URLs, DSNs:
      http://{host}:{port}/, postgresql+psycopg://用户@主机:端口/数据库, redis://主机:6379).
  * ! ?    when the character before is Chinese (or a placeholder in a Chinese line);
    never "!=".
  * ( )    as a matched pair (both sides always agree) when
      - the content is Chinese (has ideographs and fewer English words than half its
        ideographs: "(可选 / one of: ...)" stays, "(--unit 和 --section)" converts; or
        Chinese quotes and no English word: "(“{shown}”)"), or
      - right before "(" is an ideograph or a closing bracket/quote (not "；(12 + 3) ÷ 20",
        a formula), or right after ")" is Chinese, or
      - the content is only placeholders right after a placeholder or a word, in a
        Chinese line ("{label}({level})", "DATABASE_URL({shown})");
    never a call in code inside a string (includes('已复制'), :has-text('确认'),
      .method(...)), never %(name)s, never regex groups.
    A parenthesis whose partner is outside the text (a test's substring of a message:
      "压缩比异常(", "100 倍),", "{named}(“") is converted when it touches Chinese.
  * Spaces: the ASCII spaces after a converted , : ; ! ? are dropped ("满意, 基本" ->
    "满意，基本"), so are spaces between Chinese and a converted "(" ("文件 (可能损坏)" ->
    "文件（可能损坏）"); a space after ")" stays (code often builds "上半年(H1)" and
    " 满意 ..." apart, and its tests hold the two together).  Line breaks stay.
  * A lone separator literal joining Chinese texts: ";".join(messages) next to a
    Chinese literal on the same logical line becomes "；".join (not when that Chinese
    literal is bilingual English).

WHERE
  * Python (voting/, sms/, scoring/, tests/, bench/): the bodies of string literals
    holding Chinese, found with `tokenize`; implicitly concatenated literals
    ("...(表头须在前 " f"{N} 行内)") are one text for the rules.  Never inside an
    f-string's replacement field ({value:,.1f}, {x!r}, nested strings included), a
    str.format field ({0:>3}), a %-format (%(name)s, %.1f, %H:%M), an escape (\\n,
    \\x00), an HTML entity (&amp;) or an HTML tag inside a string (tags are read past,
    as in a template: '优秀</b>:4.0' converts like the template does).
      - docstrings and comments: only when written in Chinese (starting with Chinese,
        more ideographs than ASCII letters: the click help texts of the packages'
        commands.py, "# 0 优秀, 1 良好"); the English ones naming Chinese terms are left
        as they are.
      - skipped strings: bytes; SQL (text(...)/execute(...) arguments, bodies starting
        with SELECT/INSERT/UPDATE/DELETE/CREATE/ALTER/DROP/BEGIN/WITH); strftime/strptime
        arguments; CSV text (a literal with a line break whose lines are comma-separated
        short fields: "单位名称,科室\\n县财政局,预算科\\n") and bare lists of column names
        ("单位名称,科室,轮次": three or more fields of at most six characters).
      - regular expressions (first argument of re.compile/search/match/fullmatch/
        findall/finditer/sub/subn/split, pytest.raises(match=...), raw strings):
        in voting/, sms/, scoring/, bench/ they are skipped: they parse input and
        already accept both widths (sms/webhook.py, voting/core/logs.py, bundle.py).  In
        tests/ they follow the UI text they match: literal , : ; ! and escaped \\( \\)
        are converted by the rules above (\\( -> （), while groups, (?:...),
        quantifiers and classes stay, and a character class holding , : ; ( ) ! ? is
        widened with the full-width forms ([^:,;] -> [^:,;，：；]) so that a test's
        parser of UI text reads both widths.
  * Jinja templates (templates/**/*.html): text between tags ({{ }} is a placeholder,
    tags and {% %} are read past), the values of title/aria-label/placeholder/alt/label
    attributes, and string literals holding Chinese inside {{ }} / {% %} ('确认(无改动)',
    placeholder="例如:来源、文号"); nothing else inside {{ }} / {% %}, nothing in
    {# #}, <script>, <style>, <code>, <pre>, <kbd>, <samp>, <textarea>, tag names,
    other attribute values (href, class, data-*, value) or HTML entities.
  * JavaScript (templates/static/*.js): string literals holding Chinese (comments no).
  * CSS (templates/static/*.css): quoted strings holding Chinese only (the printed
    page footer: content: "第 " counter(page) " 页,共 " ...); comments no.

WHAT IS NEVER TOUCHED
  * migrations/ (applied history; the audit-log trigger's message lives in existing
    databases), README.md and every other *.md (English documentation; code blocks),
    setup.cfg, pyproject.toml, .ci/, data files (csv, xlsx, json, yaml: the shipped
    section list is a published government document).
  * Protected text (Protector), kept verbatim wherever it occurs, in either width and
    with or without spaces around its punctuation ("能源科 (县能源监察大队)" in a test
    stays as the test wrote it):
      - every cell of the shipped data (voting/data/*.csv, *.xlsx): section names such as
        "能源科(县能源监察大队)" are stored NFKC-folded by tables.fold(), so a name
        written in code or tests must keep its ASCII parentheses;
      - the importer headers, read with `ast` from every Column(key, (headers...)) in
        voting/, scoring/, sms/: tables._find_header() compares a file's NFKC-folded
        header cell with these strings as they are, so "单位(职务)" and
        "事项内容(处罚类案件名称)" must stay ASCII or no existing (or new) user file would
        match them any more.  Files written with either width keep working: the fold
        turns "单位（职务）" into "单位(职务)";
      - every Chinese string of migrations/ and its pieces between parentheses (the
        tests match "审计日志只能追加,不能修改或删除" raised by the trigger);
      - MANUAL_PROTECT: the title of the published Pingyang document
        (2021年度全县千人评机关(含国有企业)中层科室活动...), and "主机名:进程号" (the
        format of a value, hostname:pid).
  * EXPLICIT_EDITS: exact, reviewed code snippets that no rule can see (format strings
    without Chinese of their own that put Chinese texts together, "(" + stage + ")" in
    JS, a Jinja join(';')), and one test expectation the rules cannot derive; each is
    applied to the original text before the rules and only where its old text is
    present, so a second run has nothing to do; its new text is written in its final
    form, and a run that finds neither text warns that the code moved on.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import html
import io
import re
import sys
import tokenize
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

FULL = {",": "，", ":": "：", ";": "；", "!": "！", "?": "？", "(": "（", ")": "）"}
PUNCT = ",:;!?"

# ---------------------------------------------------------------------------------------
# Configuration

PY_DIRS = ("voting", "sms", "scoring", "tests", "bench")
# Python files whose regular expressions parse input, not UI text: skipped, never widened.
PRODUCTION_DIRS = ("voting", "sms", "scoring", "bench")
TEMPLATE_GLOB = ("templates/**/*.html", "templates/*.html")
JS_GLOB = ("templates/static/*.js",)
CSS_GLOB = ("templates/static/*.css",)
DATA_GLOBS = ("voting/data/*.csv", "voting/data/*.xlsx")

# Literal text kept verbatim wherever it occurs (regular expressions).
MANUAL_PROTECT = [
    # The published document (an external title, quoted as published).
    r"\d{4}年度全县千人评机关\(含国有企业\)中层科室活动[^\"'\n<]*",
    # A value's format, not prose: the SMS worker's name is hostname:pid.
    r"主机名:进程号",
    # click writes a help section's heading followed by its own ASCII ":" (voting/cli.py
    # formatter.section("平台命令")); the test that splits the help text on it keeps it.
    r"(?<=平台命令):",
    r"(?<=开发与排错用[)）]):",
]

# Exact snippets no rule can see; (file, old, new), applied once.
EXPLICIT_EDITS: list[tuple[str, str, str]] = [
    # The tier message the browser shows while typing mirrors scoring/supervisor.py
    # ("{unit}:{tier}档有 ... 个科室,应为 ...,{diff}"): its ":" and "," are lone literals.
    ("templates/static/supervisor.js",
     'return unit + ":" + tier + "档有 " + count + " 个科室,应为 " + expected + "," + diff;',
     'return unit + "：" + tier + "档有 " + count + " 个科室，应为 " + expected + "，" + diff;'),
    # Format strings with no Chinese of their own that put Chinese texts together
    # (labels, messages, names): their punctuation is Chinese prose all the same.
    ("voting/core/errors.py", 'where += f",{self.column}"', 'where += f"，{self.column}"'),
    ("voting/core/errors.py", 'return f"{where}:{self.reason}"', 'return f"{where}：{self.reason}"'),
    ("voting/scores/charts.py", 'f",{label} {counts[code]}" for code', 'f"，{label} {counts[code]}" for code'),
    ("voting/scores/charts.py", 'tip += f";{L.label(L.RESULTS, result)}"', 'tip += f"；{L.label(L.RESULTS, result)}"'),
    ("voting/scores/charts.py", 'tip += f";{decision}"', 'tip += f"；{decision}"'),
    ("voting/office/import_templates.py",
     'items = ";".join(f"{L.label(L.PLATFORMS, p)}:{_or(',
     'items = "；".join(f"{L.label(L.PLATFORMS, p)}：{_or('),
    ("voting/office/import_templates.py",
     'levels = ";".join(f"{L.label(L.BONUS_KINDS, k)}:{_or(',
     'levels = "；".join(f"{L.label(L.BONUS_KINDS, k)}：{_or('),
    ("voting/components/views.py", 'else f"{names[0]}({names[1]})"', 'else f"{names[0]}（{names[1]}）"'),
    ("voting/components/views.py", 'f"{L.label(L.PLATFORMS, p)}:{\' / \'.join(', 'f"{L.label(L.PLATFORMS, p)}：{\' / \'.join('),
    ("voting/components/views.py", 'f"{L.label(L.BONUS_KINDS, k)}:{_slash(levels)}"', 'f"{L.label(L.BONUS_KINDS, k)}：{_slash(levels)}"'),
    ("voting/components/supervisor_views.py", 'errors = [f"{r.section}:{r.error}"', 'errors = [f"{r.section}：{r.error}"'),
    ("voting/scores/report.py", 'else f"({NETWORK_NOT_HELD})"', 'else f"（{NETWORK_NOT_HELD}）"'),
    ("voting/demo/campaign.py", 'role.label + (f"({unit.name})" if unit else "")', 'role.label + (f"（{unit.name}）" if unit else "")'),
    # The audit log's stored detail, "标签:值;标签:值" (Chinese labels), in the export;
    # the export test's expectation has a raw key no rule can read as Chinese.
    ("voting/office/export_views.py", 'return ";".join(f"{DETAIL_LABELS.get(key, key)}:{shown(value)}"',
     'return "；".join(f"{DETAIL_LABELS.get(key, key)}：{shown(value)}"'),
    ("tests/office/test_exports.py", "\"'=cmd:x;理由:=1+1;科室编号:[1, 2]\"", "\"'=cmd：x；理由：=1+1；科室编号：[1, 2]\""),
    # voting/office/audit_text.py (the audit log in sentences): its parts are joined
    # with lone separators and built by format strings without Chinese of their own.
    ('voting/office/audit_text.py', 'return [f"{lead}:{\'、\'.join(items)}"]',
     'return [f"{lead}：{\'、\'.join(items)}"]'),
    ('voting/office/audit_text.py', 'return ",".join(words)',
     'return "，".join(words)'),
    ('voting/office/audit_text.py', '{_quoted(values[\'matter\'])}({values[\'date\']})"',
     '{_quoted(values[\'matter\'])}（{values[\'date\']}）"'),
    ('voting/office/audit_text.py', 'parts.append(":" + "、".join(',
     'parts.append("：" + "、".join('),
    ('voting/office/audit_text.py', 'parts += [";", *_named(',
     'parts += ["；", *_named('),
    ('voting/office/audit_text.py', 'parts += [";" if n else "", f"{label}:", *shown]',
     'parts += ["；" if n else "", f"{label}：", *shown]'),
    ('voting/office/audit_text.py', 'return f"{ROUND_NAMES[RoundKind(code)]}({code})"',
     'return f"{ROUND_NAMES[RoundKind(code)]}（{code}）"'),
    ('voting/office/audit_text.py', 'return f"({\',\'.join(given)})" if given else ""',
     'return f"（{\'，\'.join(given)}）" if given else ""'),
    ('voting/office/audit_text.py', 'unit = f"({d[\'unit\']})" if d.get("unit") else ""',
     'unit = f"（{d[\'unit\']}）" if d.get("unit") else ""'),
    ('voting/office/audit_text.py', 'return f"{ACTORS[actor]}({actor})" if actor in ACTORS else actor',
     'return f"{ACTORS[actor]}（{actor}）" if actor in ACTORS else actor'),
    ('voting/office/audit_text.py', "{f'({lists})' if lists else ''}",
     "{f'（{lists}）' if lists else ''}"),
    ('voting/office/audit_text.py', "{f'({kinds})' if kinds else ''}",
     "{f'（{kinds}）' if kinds else ''}"),
    # The generic audit sentence's raw keys and a time before a raw key, in its test.
    ('tests/office/test_audit_text.py', '"记录评议结果决定。=cmd:x;',
     '"记录评议结果决定。=cmd：x；'),
    ('tests/office/test_audit_text.py', '截止时间:2021-12-20 18:00;ok:是;',
     '截止时间：2021-12-20 18:00；ok：是；'),
    # templates/office/_audit.html: an aside link in brackets after a Chinese sentence.
    ('templates/office/_audit.html', '(<a href="{{ to }}">{{ part.text }}</a>)',
     '（<a href="{{ to }}">{{ part.text }}</a>）'),
    # The bundle's error lines: "{where}：{reason}" as voting/core/errors.py now writes it.
    ('tests/scores/test_bundle_cli.py', 'f"    {where}:{reason}"', 'f"    {where}：{reason}"'),
    # A test that cuts the column name off "A 列(单位序号)", a UI text that is now full-width.
    ("tests/security/test_hostile_numbers.py", 'e.column.split("(")[0]', 'e.column.split("（")[0]'),
    # Between an ASCII name and a digit no rule sees Chinese.
    ("voting/outbox/commands.py", "默认取设置 SMS_RATE;0 为不限", "默认取设置 SMS_RATE；0 为不限"),
    # A job's stage (Chinese) in parentheses, drawn by the page and redrawn by job.js.
    ("templates/jobs/job.html", "({{ state.stage }})", "（{{ state.stage }}）"),
    ("templates/static/job.js", '"(" + state.stage + ")"', '"（" + state.stage + "）"'),
    # The warnings of a row (Chinese sentences) joined in a tooltip.
    ("templates/scores/_scores.html", "r.warnings|join(';')", "r.warnings|join('；')"),
    # sms/templates.py: the parts of a template error are joined after a Chinese colon.
    ("sms/templates.py",
     '";".join(parts)',
     '"；".join(parts)'),
    # voting/checks.py: "{message}({meanwhile};生产环境会拒绝)": the ';' sits in a field.
    ("voting/checks.py",
     "meanwhile + ';' if meanwhile",
     "meanwhile + '；' if meanwhile"),
]

ATTRS = {"title", "aria-label", "placeholder", "alt", "label"}
RAW_ELEMENTS = {"script", "style", "code", "pre", "kbd", "samp", "textarea"}
RE_FUNCS = {"compile", "search", "match", "fullmatch", "findall", "finditer", "sub", "subn", "split"}

# ---------------------------------------------------------------------------------------
# Character classes


def is_ideograph(c: str) -> bool:
    o = ord(c)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FA1F


def is_cjk_punct(c: str) -> bool:
    o = ord(c)
    return 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF or c in "“”‘’…"


def cls(c: str) -> str:
    if is_ideograph(c):
        return "I"
    if is_cjk_punct(c):
        return "Q"
    if "0" <= c <= "9":
        return "D"
    if c.isascii() and c.isalpha():
        return "L"
    if c in " \t\r\n\f\v":
        return "S"
    return "O"


CHINESE = ("I", "Q")
CLOSING = "”’」』》】）〕"
HAS_IDEOGRAPH = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
HAS_CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3001-\u303f\uff01-\uff1f“”‘’…]")

# ---------------------------------------------------------------------------------------
# Items: the text of one unit (a string body, a template's text) as a list of pieces.
#   T  one editable character          K  one protected character (keep list)
#   P  a placeholder (code, protected) X  other code (protected, blocks adjacency)
#   H  markup that is transparent for adjacency (an HTML tag, a {% %} statement)
#   E  a regular expression's escaped parenthesis (\\( or \\)), editable as a paren


@dataclass
class Item:
    kind: str
    text: str
    out: str | None = None  # replacement (T/E) after conversion

    def rendered(self) -> str:
        return self.text if self.out is None else self.out


@dataclass
class Notes:
    """What --report lists."""
    lines: list[str] = field(default_factory=list)

    def add(self, where: str, what: str) -> None:
        self.lines.append(f"{where}: {what}")


def neighbour(items: list[Item], i: int, step: int) -> tuple[str, int | None]:
    j = i + step
    while 0 <= j < len(items):
        it = items[j]
        if it.kind == "H":
            j += step
            continue
        if it.kind in "TK":
            c = cls(it.text)
            if c == "S":
                j += step
                continue
            return c, j
        if it.kind == "E":
            return "O", j
        if it.kind == "P":
            return p_class(it.text), j
        return it.kind, j  # X
    return "B", None


NUMERIC_FIELD = re.compile(r":[^{}:]*[dfgeEn%xXbo]\}$")


def p_class(text: str) -> str:
    """A placeholder with a numeric format ({hour:02d}) stands for digits."""
    return "D" if NUMERIC_FIELD.search(text) else "P"


def adjacent(items: list[Item], i: int, step: int) -> str:
    """The class of the piece right beside i (markup skipped, spaces not)."""
    j = i + step
    while 0 <= j < len(items) and items[j].kind == "H":
        j += step
    if not 0 <= j < len(items):
        return "B"
    it = items[j]
    if it.kind in "TK":
        return cls(it.text)
    if it.kind == "P":
        return p_class(it.text)
    return it.kind


def raw_char(items: list[Item], j: int) -> str:
    return items[j].text if 0 <= j < len(items) and items[j].kind in "TK" else ""


def word_around(items: list[Item], i: int) -> tuple[str, str]:
    """The run of non-space text around i (placeholders included): before and after."""
    def part(k: int) -> bool:
        it = items[k]
        return it.kind in "PX" or (it.kind in "TK" and cls(it.text) != "S")
    a = i
    while a - 1 >= 0 and part(a - 1):
        a -= 1
    b = i
    while b + 1 < len(items) and part(b + 1):
        b += 1
    return "".join(items[k].text for k in range(a, i)), "".join(items[k].text for k in range(i + 1, b + 1))


def convert(items: list[Item], where: str = "", notes: Notes | None = None, made: Notes | None = None) -> bool:
    """Decide on the original text, then rewrite. Returns whether anything changed."""
    # Chinese in the text or in its fields' own literals ({'不列入'})
    chinese_text = any(it.kind in "TKP" and HAS_IDEOGRAPH.search(it.text) for it in items)
    # Chinese on the same line (a template is converted whole; its placeholder rule is local)
    line_chinese: list[bool] = []
    start = 0
    for i, it in enumerate(items + [Item("T", "\n")]):
        if it.kind == "T" and it.text == "\n":
            has = any(x.kind in "TKP" and HAS_IDEOGRAPH.search(x.text) for x in items[start:i])
            line_chinese.extend([has] * (i - start + 1))
            start = i + 1
    changes: dict[int, str] = {}

    # -- parentheses, as pairs
    stack: list[int] = []
    pairs: list[tuple[int, int]] = []
    unmatched: list[int] = []
    for i, it in enumerate(items):
        p = it.text if it.kind == "T" else (it.text[-1] if it.kind == "E" else "")
        if p == "(":
            stack.append(i)
        elif p == ")":
            if stack:
                pairs.append((stack.pop(), i))
            else:
                unmatched.append(i)
    unmatched.extend(stack)
    for a, b in pairs:
        inner = items[a + 1:b]
        if not any(it.kind != "H" and not (it.kind in "TK" and cls(it.text) == "S") for it in inner):
            continue
        if code_call(items, a, b):
            continue
        inner_text = "".join(it.text for it in inner if it.kind in "TK")
        ideographs = len(HAS_IDEOGRAPH.findall(inner_text))
        # English words of the content ("可选 / one of: ..."): option names and
        # identifiers (--unit, phone_hash, Flask-Limiter, PostgreSQL) do not count.
        english = len(re.findall(r"(?<![\w\-./])[a-z]{2,}(?![\w\-./=(])", inner_text))
        content_chinese = (ideographs > 0 and english * 2 < ideographs) or \
            (english == 0 and any(it.kind in "TK" and cls(it.text) == "Q" for it in inner))  # (“{shown}”)
        before = items[a - 1].text if a >= 1 and items[a - 1].kind in "TK" else ""
        # Before "(": an ideograph or a closing quote/bracket ("；(12 + 3) ÷ 20" is a
        # formula); after ")": an ideograph or any Chinese punctuation.
        # "{label}({level})", "DATABASE_URL({shown})" in a Chinese text.
        fields_only = all(it.kind in "PH" or (it.kind == "T" and cls(it.text) == "S") for it in inner) \
            and adjacent(items, a, -1) in ("P", "L") and line_chinese[a]
        if content_chinese or adjacent(items, a, -1) == "I" or (before and before in CLOSING) \
                or adjacent(items, b, +1) in CHINESE or fields_only:
            changes[a] = "（"
            changes[b] = "）"
    # A parenthesis whose partner lies outside this text (a test's substring of a
    # message, "倍,上限 100 倍)"): converted when it touches Chinese, as its partner was.
    for i in unmatched:
        p = items[i].text[-1]
        before, after = adjacent(items, i, -1), adjacent(items, i, +1)
        if (p == "(" and (before == "I" or after in CHINESE or (before == "P" and after == "B" and line_chinese[i]))) \
                or (p == ")" and (before in CHINESE or after == "I")):
            changes[i] = FULL[p]
            if made is not None:
                made.add(where, f"unmatched {p!r} next to Chinese made full-width: …{context(items, i)}…")
        elif notes is not None and chinese_text:
            notes.add(where, f"unmatched parenthesis left ASCII: …{context(items, i)}…")

    # -- , : ; ! ?
    for i, it in enumerate(items):
        if it.kind != "T" or it.text not in PUNCT:
            continue
        c = it.text
        prev, pj = neighbour(items, i, -1)
        nxt, nj = neighbour(items, i, +1)
        prev_adj = raw_char(items, i - 1)
        next_adj = raw_char(items, i + 1)
        if c in ",:" and prev == "D" and nxt == "D":
            continue
        if c == ":":
            if next_adj == "/" or prev_adj == ":" or next_adj == ":":
                continue
            before, _after = word_around(items, i)
            if "://" in before and not before.endswith("://"):
                continue  # inside a URL or DSN: redis://主机:6379, http://{host}:{port}
        if c == "!" and next_adj == "=":
            continue
        # Between placeholders in a Chinese line: "{unit}:{tier}档有", "{{ label }}:0 – 5 分".
        # A colon must touch them ("{type}: {error}" is Python's own "Name: message").
        left, right = adjacent(items, i, -1), adjacent(items, i, +1)
        near = (left, right) if c == ":" else (prev, nxt)
        placeholder_only = line_chinese[i] and "P" in near and {prev, nxt} <= {"P", "B", "I", "Q", "D"} \
            and set(near) <= {"P", "B", "I", "Q", "D"}
        # At an end of a Chinese text ("单位00:" is a test's prefix of "{unit}:{tier}档有 ...").
        at_end = line_chinese[i] and ((nxt == "B" and prev in ("I", "Q", "D", "P")) or
                                      (prev == "B" and nxt in ("I", "Q", "D", "P")))
        if c in ",:;":
            ok = prev in CHINESE or nxt in CHINESE or placeholder_only or at_end
        else:  # ! ?
            ok = prev in CHINESE or (prev == "P" and line_chinese[i] and nxt in ("I", "Q", "B"))
        if ok:
            changes[i] = FULL[c]
            if made is not None and placeholder_only and not (prev in CHINESE or nxt in CHINESE):
                made.add(where, f"{c!r} between placeholders made full-width: …{context(items, i)}…")
        elif notes is not None and chinese_text and (prev in CHINESE or nxt in CHINESE or "P" in (prev, nxt)):
            notes.add(where, f"{c!r} left ASCII: …{context(items, i)}…")

    if not changes:
        return False
    for i, new in changes.items():
        items[i].out = new
    # -- spacing around what became full-width
    for i in sorted(changes):
        new = changes[i]
        if new in "，：；！？":
            j = i + 1
            while j < len(items) and items[j].kind == "T" and items[j].text in " \t" and items[j].out is None:
                items[j].out = ""
                j += 1
        elif new == "（":
            j = i - 1
            while j >= 0 and items[j].kind == "T" and items[j].text in " \t" and items[j].out is None:
                j -= 1
            if j < i - 1 and j >= 0 and items[j].kind in "TK" and cls(items[j].text) in CHINESE:
                for k in range(j + 1, i):
                    items[k].out = ""
    return True


def code_call(items: list[Item], a: int, b: int) -> bool:
    """(a, b) is code inside a text: a call with a quoted argument
    (textContent.includes('已复制'), :has-text('确认')) or a method/pseudo-class call."""
    inner = "".join(it.text for it in items[a + 1:b] if it.kind in "TKPX").strip()
    if len(inner) >= 2 and inner[0] in "'\"" and inner[-1] == inner[0]:
        return True
    j = a - 1
    name = ""
    while j >= 0 and items[j].kind == "T" and (items[j].text.isascii() and (items[j].text.isalnum() or items[j].text in "_-")):
        name = items[j].text + name
        j -= 1
    # ".name(" or ":name(" with code inside (not "往年.csv(4 行)": Chinese inside is prose)
    return bool(name) and j >= 0 and items[j].kind == "T" and items[j].text in ".:" and not name[0].isdigit() \
        and not HAS_IDEOGRAPH.search(inner)


def settle(body: str, build, where: str, notes: Notes | None) -> str:
    """Convert until nothing changes: a decision may rest on a neighbour that only
    became full-width in the same pass ("({x})," -> "（{x}），"). The notes are taken
    from the final text."""
    for round_ in range(6):
        items = build(body)
        convert(items, where, None, notes if round_ == 0 else None)
        new = render(items)  # a widened regex class changes the text without a conversion
        if new == body:
            break
        body = new
    else:
        raise RuntimeError(f"{where}: no fixed point")
    if notes is not None:
        convert(build(body), where, notes)
    return body


def settle_group(bodies: list[str], builders: list, where: str, notes: Notes | None) -> list[str]:
    """`settle` for implicitly concatenated literals: one text for the rules (a pair may
    open in one literal and close in the next), each literal rebuilt on its own."""
    def build_all(bs: list[str]) -> tuple[list[Item], list[int]]:
        items: list[Item] = []
        sizes = []
        for body, build in zip(bs, builders):
            part = build(body)
            items.extend(part)
            sizes.append(len(part))
        return items, sizes

    for round_ in range(6):
        items, sizes = build_all(bodies)
        convert(items, where, None, notes if round_ == 0 else None)
        new, pos = [], 0
        for size in sizes:
            new.append(render(items[pos:pos + size]))
            pos += size
        if new == bodies:
            break
        bodies = new
    else:
        raise RuntimeError(f"{where}: no fixed point")
    if notes is not None:
        convert(build_all(bodies)[0], where, notes)
    return bodies


def context(items: list[Item], i: int, width: int = 12) -> str:
    a, b = max(0, i - width), min(len(items), i + width + 1)
    return "".join(it.text if it.kind in "TKE" else ("{…}" if it.kind == "P" else "") for it in items[a:b]).replace("\n", "⏎")


def render(items: list[Item]) -> str:
    return "".join(it.rendered() for it in items)

# ---------------------------------------------------------------------------------------
# Protection (keep list)


class Protector:
    def __init__(self, root: Path, notes: Notes):
        self.texts: set[str] = set()
        for pattern in DATA_GLOBS:
            for path in sorted(root.glob(pattern)):
                for value in data_cells(path):
                    if any(p in value for p in ",:;!?()") and HAS_IDEOGRAPH.search(value):
                        self.texts.add(value)
        for d in ("voting", "scoring", "sms"):
            for path in sorted((root / d).rglob("*.py")):
                self.texts.update(column_headers(path))
        for path in sorted((root / "migrations").rglob("*.py")):
            for body in chinese_literals(path):
                if any(p in body for p in ",:;!?()"):
                    self.texts.add(body)
                    # and its pieces between parentheses (a test matches "...删除" of "...删除(%)")
                    for piece in re.split(r"[()]", body):
                        if any(p in piece for p in ",:;!?") and len(HAS_IDEOGRAPH.findall(piece)) >= 4:
                            self.texts.add(piece.strip())
        parts = [variants(t) for t in sorted(self.texts, key=lambda t: (-len(t), t))] + MANUAL_PROTECT
        self.regex = re.compile("|".join(parts)) if parts else None
        notes.add("protect", f"{len(self.texts)} literal texts kept verbatim (data cells, importer headers, migrations)")

    def spans(self, text: str) -> list[tuple[int, int]]:
        if not self.regex:
            return []
        return [m.span() for m in self.regex.finditer(text) if m.end() > m.start()]


def variants(text: str) -> str:
    """A protected text in either width, with or without spaces around its
    punctuation: "能源科 (县能源监察大队)" and "能源科（县能源监察大队）" are the same name
    to tables.fold(), and a test that writes one of them means it."""
    out = []
    for c in text:
        if c in FULL:
            out.append(r"\s*[" + re.escape(c) + FULL[c] + r"]\s*")
        else:
            out.append(re.escape(c))
    return "".join(out)


def data_cells(path: Path) -> list[str]:
    if path.suffix == ".csv":
        import csv
        with open(path, encoding="utf-8-sig", newline="") as f:
            return [cell for row in csv.reader(f) for cell in row]
    if path.suffix == ".xlsx":
        cells = []
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.startswith("xl/") and name.endswith(".xml") and ("sharedStrings" in name or "worksheets/" in name):
                    xml = z.read(name).decode("utf-8", "replace")
                    cells += [html.unescape(t) for t in re.findall(r"<t[^>]*>([^<]*)</t>", xml)]
        return cells
    return []


def column_headers(path: Path) -> set[str]:
    """The header strings of every Column(key, (headers...)) in a module."""
    found: set[str] = set()
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Column":
            for arg in node.args[1:2]:
                if isinstance(arg, ast.Tuple):
                    for elt in arg.elts:
                        if isinstance(elt, ast.Constant) and isinstance(elt.value, str) and \
                                any(p in elt.value for p in ",:;!?()") and HAS_IDEOGRAPH.search(elt.value):
                            found.add(elt.value)
    return found


def chinese_literals(path: Path) -> list[str]:
    out = []
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError:
        return out
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and HAS_IDEOGRAPH.search(node.value):
            # the Chinese stretch of it (an SQL body holds a Chinese message in quotes)
            for m in re.finditer(r"[^'\"\n]*[\u4e00-\u9fff][^'\"\n]*", node.value):
                out.append(m.group(0).strip())
    return out

# ---------------------------------------------------------------------------------------
# Building items from a string body (Python, JS, Jinja literal, attribute value)

ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#\d+|#[xX][0-9A-Fa-f]+);")
PERCENT = re.compile(r"%(?:\([A-Za-z_][A-Za-z0-9_]*\))?[-#0 +]*(?:\d+|\*)?(?:\.\d+)?[A-Za-z%]")
BRACE_FIELD = re.compile(r"\{[^{}\n]*\}")
HTML_TAG = re.compile(r"</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>")


def keep_mask(text: str, protector: Protector) -> list[bool]:
    mask = [False] * len(text)
    for a, b in protector.spans(text):
        for k in range(a, b):
            mask[k] = True
    return mask


def fstring_field_end(body: str, i: int) -> int:
    """body[i] == '{' opening a replacement field: the index after its closing '}'."""
    depth = 0
    j = i
    n = len(body)
    while j < n:
        c = body[j]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return j + 1
        elif c in "'\"":
            q = body[j:j + 3] if body[j:j + 3] in ("'''", '"""') else c
            k = body.find(q, j + len(q))
            j = (k + len(q) - 1) if k >= 0 else n
        j += 1
    return n


def string_items(body: str, protector: Protector, *, f: bool = False, raw: bool = False, regex: bool = False,
                 python: bool = True, braces: bool = True) -> list[Item]:
    """Items of a string literal's source body."""
    mask = keep_mask(body, protector)
    items: list[Item] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if mask[i]:
            items.append(Item("K", c))
            i += 1
            continue
        # f-string replacement fields and str.format fields
        if f and c == "{":
            if body.startswith("{{", i):
                items.append(Item("X", "{{"))
                i += 2
                continue
            j = fstring_field_end(body, i)
            items.append(Item("P", body[i:j]))
            i = j
            continue
        if f and body.startswith("}}", i):
            items.append(Item("X", "}}"))
            i += 2
            continue
        if braces and not f and c == "{":
            m = BRACE_FIELD.match(body, i)
            if m:
                items.append(Item("P", m.group(0)))
                i = m.end()
                continue
        if regex:
            if c == "[":
                j = class_end(body, i)
                items.append(Item("X", widen_class(body[i:j])))
                i = j
                continue
            if c == "\\":
                if raw or not python:
                    if body[i + 1:i + 2] in ("(", ")"):
                        items.append(Item("E", body[i:i + 2]))
                        i += 2
                        continue
                    items.append(Item("X", body[i:i + 2]))
                    i += 2
                    continue
                # non-raw Python: "\\(" is the regex's \(
                if body[i + 1:i + 2] == "\\" and body[i + 2:i + 3] in ("(", ")"):
                    items.append(Item("E", body[i:i + 3]))
                    i += 3
                    continue
                j = escape_end(body, i)
                items.append(Item("X", body[i:j]))
                i = j
                continue
            if c == "(" and body.startswith("(?", i):
                m = re.match(r"\(\?(?:P<\w+>|P=\w+\)|[:=!]|<[=!]|#[^)]*\)|[aiLmsux-]+\)|[aiLmsux-]+:)", body[i:])
                j = i + (m.end() if m else 2)
                items.append(Item("X", body[i:j]))
                i = j
                continue
            if c in "()?*+|^$.":
                items.append(Item("X", c))
                i += 1
                continue
            if c == "{":
                m = re.match(r"\{\d*,?\d*\}", body[i:])
                if m:
                    items.append(Item("X", m.group(0)))
                    i += m.end()
                    continue
        elif c == "\\":
            j = i + 2 if raw else escape_end(body, i)
            items.append(Item("X", body[i:j]))
            i = j
            continue
        if c == "&":
            m = ENTITY.match(body, i)
            if m:
                items.append(Item("X", m.group(0)))
                i = m.end()
                continue
        if c == "<":  # markup in a string ('优秀</b>:4.0 – 5.0 分'): transparent, as in a template
            m = HTML_TAG.match(body, i)
            if m:
                items.append(Item("H", m.group(0)))
                i = m.end()
                continue
        if c == "%":
            m = PERCENT.match(body, i)
            if m:
                items.append(Item("X", m.group(0)))
                i = m.end()
                continue
        items.append(Item("T", c))
        i += 1
    return items


def escape_end(body: str, i: int) -> int:
    nxt = body[i + 1:i + 2]
    if nxt == "x":
        return i + 4
    if nxt == "u":
        return i + 6
    if nxt == "U":
        return i + 10
    if nxt == "N" and body[i + 2:i + 3] == "{":
        k = body.find("}", i)
        return k + 1 if k > 0 else i + 2
    if nxt in "01234567":
        m = re.match(r"\\[0-7]{1,3}", body[i:])
        return i + m.end()
    return i + 2


def class_end(body: str, i: int) -> int:
    j = i + 1
    if body[j:j + 1] == "^":
        j += 1
    if body[j:j + 1] == "]":
        j += 1
    while j < len(body):
        if body[j] == "\\":
            j += 2
            continue
        if body[j] == "]":
            return j + 1
        j += 1
    return len(body)


def widen_class(text: str) -> str:
    """[^:,;] -> [^:,;：，；]: a test's parser of UI text reads both widths."""
    inner = text[1:-1] if text.endswith("]") else text[1:]
    add = "".join(FULL[c] for c in ",:;()!?" if c in inner and FULL[c] not in inner)
    if not add or not text.endswith("]"):
        return text
    return text[:-1] + add + "]"

# ---------------------------------------------------------------------------------------
# Python


STRING_PREFIX = re.compile(r"(?i)^([rbuf]*)('''|\"\"\"|'|\")")


def split_literal(tok: str) -> tuple[str, str, str]:
    m = STRING_PREFIX.match(tok)
    prefix, quote = m.group(1), m.group(2)
    return prefix, quote, tok[len(prefix) + len(quote): len(tok) - len(quote)]


CSV_LINE = re.compile(r"^[^,，\s。:：;；]{0,40}(?:,[^,，。:：;；]{0,40})+$")


def csv_like(body: str) -> bool:
    """CSV text (lines of comma-separated short fields) or a bare comma list."""
    text = body.replace("\\n", "\n").replace("\\r", "")
    lines = [line for line in text.split("\n") if line.strip()]
    if "\n" in text and lines and all(CSV_LINE.match(line) for line in lines):
        return True
    # a bare list of column names: "单位名称,科室,轮次" (short fields, nothing else)
    fields = text.split(",")
    return len(fields) >= 3 and all(0 < len(f) <= 6 for f in fields) \
        and not re.search(r"[\s:;!?()。，：；！？（）、]", text) and bool(HAS_IDEOGRAPH.search(text))


SQL = re.compile(r"(?is)^\s*(select|insert|update|delete|create|alter|drop|begin|with)\b")


@dataclass
class Frame:
    func: str  # dotted name before "(", or "" for a bracket
    arg: int = 0
    kw: str | None = None


JOIN_SEPARATORS = {",": "，", ", ": "，", ";": "；", "; ": "；", ":": "：", ": ": "："}


def _builder(protector: Protector, prefix: str, regex: bool):
    """The items builder of one literal of a group, by its prefix (f, r) and whether it is a regex."""
    return lambda body: string_items(body, protector, f="f" in prefix, raw="r" in prefix, regex=regex,
                                     braces=not regex)


def python_file(path: Path, rel: str, text: str, protector: Protector, notes: Notes) -> str:
    production = rel.split("/")[0] in PRODUCTION_DIRS
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    line_starts = [0]
    for line in text.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))

    def offset(pos: tuple[int, int]) -> int:
        return line_starts[pos[0] - 1] + pos[1]

    edits: list[tuple[int, int, str]] = []
    stack: list[Frame] = []
    significant = [t for t in tokens if t.type not in (tokenize.NL, tokenize.COMMENT)]
    sig_index = {id(t): k for k, t in enumerate(significant)}

    def dotted_before(k: int) -> str:
        """The dotted name right before significant token k (a call's function)."""
        parts = []
        j = k - 1
        while j >= 0 and significant[j].type == tokenize.NAME:
            parts.append(significant[j].string)
            if j - 1 >= 0 and significant[j - 1].string == ".":
                j -= 2
                continue
            break
        return ".".join(reversed(parts))

    def group_at(k: int) -> list[tokenize.TokenInfo]:
        """The implicitly concatenated literals starting at significant token k."""
        e = k
        while e < len(significant) and significant[e].type == tokenize.STRING:
            e += 1
        return significant[k:e]

    def is_docstring(k: int) -> bool:
        j = k - 1
        if j >= 0 and significant[j].type not in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING):
            return False
        e = k + len(group_at(k))
        return e >= len(significant) or significant[e].type in (tokenize.NEWLINE, tokenize.ENDMARKER)

    def logical_line(k: int) -> list[tokenize.TokenInfo]:
        a = k
        while a - 1 >= 0 and significant[a - 1].type not in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            a -= 1
        b = k
        while b < len(significant) and significant[b].type not in (tokenize.NEWLINE, tokenize.ENDMARKER):
            b += 1
        return significant[a:b]

    for tok in tokens:
        if tok.type == tokenize.OP and tok.string in "([{":
            k = sig_index[id(tok)]
            stack.append(Frame(dotted_before(k) if tok.string == "(" else ""))
            continue
        if tok.type == tokenize.OP and tok.string in ")]}":
            if stack:
                stack.pop()
            continue
        if tok.type == tokenize.OP and tok.string == "," and stack:
            stack[-1].arg += 1
            stack[-1].kw = None
            continue
        if tok.type == tokenize.OP and tok.string == "=" and stack:
            k = sig_index[id(tok)]
            if k >= 1 and significant[k - 1].type == tokenize.NAME:
                stack[-1].kw = significant[k - 1].string
            continue
        if tok.type == tokenize.COMMENT:
            body = tok.string
            if HAS_IDEOGRAPH.search(body) and any(p in body for p in PUNCT + "()") and chinese_dominant(body[1:]):
                new = settle(body[1:], lambda b: string_items(b, protector, python=False, braces=False),
                             f"{rel}:{tok.start[0]}", notes)
                if new != body[1:]:
                    edits.append((offset(tok.start) + 1, offset(tok.end), new))
            elif HAS_IDEOGRAPH.search(body) and re.search(r"[\u4e00-\u9fff]\s*[,:;(]|[,:;)]\s*[\u4e00-\u9fff]", body):
                notes.add(f"{rel}:{tok.start[0]}", f"English comment left as is: {body.strip()[:90]}")
            continue
        if tok.type != tokenize.STRING:
            continue
        k = sig_index[id(tok)]
        if k >= 1 and significant[k - 1].type == tokenize.STRING:
            continue  # handled with the first literal of its group
        group = group_at(k)
        parts = [split_literal(t.string) for t in group]
        where = f"{rel}:{tok.start[0]}"
        bodies = [body for _, _, body in parts]
        joined = "".join(bodies)

        # A lone separator joining Chinese texts: ";".join(messages) next to "...比例:"
        if len(group) == 1 and bodies[0] in JOIN_SEPARATORS and not parts[0][0] and \
                [t.string for t in significant[k + 1:k + 4]] == [".", "join", "("]:
            line = logical_line(k)
            texts = [strip_fields(t.string) for t in line if t.type == tokenize.STRING]
            if any(HAS_IDEOGRAPH.search(x) for x in texts) and \
                    not any(re.search(r"\b[a-z]{3,}\b", x) for x in texts if HAS_IDEOGRAPH.search(x)):
                new = parts[0][1] + JOIN_SEPARATORS[bodies[0]] + parts[0][1]
                edits.append((offset(tok.start), offset(tok.end), new))
                notes.add(where, f"separator {tok.string} joining Chinese text -> {new}")
            continue

        if not HAS_CHINESE.search(joined) or not re.search(r"[,:;!?()]", joined):
            # A literal of fields and punctuation only ("{where}:{self.reason}", ";") near
            # Chinese text may be Chinese prose no rule can see: listed for EXPLICIT_EDITS.
            bare = strip_fields(joined)
            if re.fullmatch(r"[\s,:;()!?]*[,:;()!?][\s,:;()!?]*", bare or "-"):
                near = text.splitlines()[max(0, tok.start[0] - 3):tok.end[0] + 2]
                if any(HAS_IDEOGRAPH.search(line) for line in near):
                    notes.add(where, f"review: punctuation-only literal near Chinese text: {tok.string[:80]}")
            continue
        prefixes = [prefix.lower() for prefix, _, _ in parts]
        if any("b" in p for p in prefixes):
            continue
        frame = stack[-1] if stack else None
        func = frame.func if frame else ""
        short = func.rsplit(".", 1)[-1]
        in_escape = func == "re.escape"
        regex = bool(frame) and not in_escape and (
            (func.startswith("re.") and short in RE_FUNCS and frame.arg == 0 and frame.kw is None)
            or frame.kw in ("match", "pattern")
        )
        if any("r" in p for p in prefixes) and not in_escape:
            regex = True
        if regex and production:
            notes.add(where, f"regular expression in production code left as is: {joined[:60]}")
            continue
        if short in ("strftime", "strptime", "text", "execute") or SQL.match(joined):
            notes.add(where, f"skipped ({short or 'SQL'}): {joined[:60]}")
            continue
        if not regex and any(csv_like(body) for body in bodies):
            notes.add(where, f"CSV-like text left as is: {joined[:70]}")
            continue
        if is_docstring(k) and not chinese_dominant(joined):
            if re.search(r"[\u4e00-\u9fff]\s*[,:;(]|[,:;)]\s*[\u4e00-\u9fff]", joined):
                notes.add(where, "English docstring left as is")
            continue

        builders = [_builder(protector, p, regex) for p in prefixes]
        new_bodies = settle_group(bodies, builders, where, notes)
        for t, (prefix, quote, body), new in zip(group, parts, new_bodies):
            if new != body:
                edits.append((offset(t.start), offset(t.end), prefix + quote + new + quote))
    return apply_edits(text, edits)


def strip_fields(text: str) -> str:
    """A literal without its {...} fields (nested ones included)."""
    while True:
        new = re.sub(r"\{[^{}]*\}", "", text)
        if new == text:
            return text
        text = new


def chinese_dominant(text: str) -> bool:
    """A docstring or comment written in Chinese: it starts in Chinese and has more CJK
    ideographs than ASCII letters."""
    plain = re.sub(r"\{[^{}]*\}", "", text)
    first = re.search(r"[A-Za-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]", plain)
    if not first or not is_ideograph(first.group(0)):
        return False
    return len(HAS_IDEOGRAPH.findall(plain)) > len(re.findall(r"[A-Za-z]", plain))


def apply_edits(text: str, edits: list[tuple[int, int, str]]) -> str:
    for a, b, new in sorted(edits, reverse=True):
        text = text[:a] + new + text[b:]
    return text

# ---------------------------------------------------------------------------------------
# Jinja templates

JINJA_STRING = re.compile(r"""(?s)'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""")


def jinja_code(code: str, protector: Protector, where: str, notes: Notes) -> str:
    """A {{ }} / {% %} block: only its string literals holding Chinese are converted."""
    def one(m: re.Match) -> str:
        lit = m.group(0)
        body = lit[1:-1]
        if not HAS_IDEOGRAPH.search(body) or csv_like(body):
            return lit
        return lit[0] + settle(body, lambda b: string_items(b, protector, python=False), where, notes) + lit[0]
    return JINJA_STRING.sub(one, code)


def template_items(text: str, protector: Protector, where: str, notes: Notes, *, tags: bool = True) -> list[Item]:
    mask = keep_mask(text, protector)
    items: list[Item] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("{#", i):
            j = text.find("#}", i)
            j = n if j < 0 else j + 2
            items.append(Item("X", text[i:j]))
            i = j
            continue
        if text.startswith("{{", i) or text.startswith("{%", i):
            close = "}}" if text.startswith("{{", i) else "%}"
            j = jinja_end(text, i + 2, close)
            code = jinja_code(text[i:j], protector, where, notes)
            items.append(Item("P" if close == "}}" else "H", code))
            i = j
            continue
        if tags and text[i] == "<" and re.match(r"</?[A-Za-z!]", text[i:i + 3]):
            j = tag_end(text, i)
            tag = text[i:j]
            items.append(Item("H", html_tag(tag, protector, where, notes)))
            i = j
            m = re.match(r"<([A-Za-z][\w-]*)", tag)
            if m and m.group(1).lower() in RAW_ELEMENTS and not tag.endswith("/>"):
                end = re.compile(r"</%s\s*>" % m.group(1), re.I).search(text, i)
                k = end.start() if end else n
                if k > i:
                    items.append(Item("X", text[i:k]))
                i = k
            continue
        if text[i] == "&":
            m = ENTITY.match(text, i)
            if m:
                items.append(Item("X", m.group(0)))
                i = m.end()
                continue
        items.append(Item("K" if mask[i] else "T", text[i]))
        i += 1
    return items


def jinja_end(text: str, i: int, close: str) -> int:
    n = len(text)
    while i < n:
        if text.startswith(close, i):
            return i + 2
        if text[i] in "'\"":
            m = JINJA_STRING.match(text, i)
            if m:
                i = m.end()
                continue
        i += 1
    return n


def tag_end(text: str, i: int) -> int:
    n = len(text)
    j = i + 1
    while j < n:
        c = text[j]
        if text.startswith("{{", j) or text.startswith("{%", j) or text.startswith("{#", j):
            close = {"{{": "}}", "{%": "%}", "{#": "#}"}[text[j:j + 2]]
            j = jinja_end(text, j + 2, close)
            continue
        if c in "'\"":
            k = j + 1
            while k < n and text[k] != c:
                if text.startswith("{{", k) or text.startswith("{%", k):
                    close = "}}" if text[k + 1] == "{" else "%}"
                    k = jinja_end(text, k + 2, close)
                    continue
                k += 1
            j = k + 1
            continue
        if c == ">":
            return j + 1
        j += 1
    return n


ATTR = re.compile(r"""([\w:-]+)(\s*=\s*)("([^"]*)"|'([^']*)')""")


def html_tag(tag: str, protector: Protector, where: str, notes: Notes) -> str:
    """A tag: whitelisted attribute values holding Chinese, and Jinja literals inside it."""
    out = []
    i = 0
    n = len(tag)
    while i < n:
        if tag.startswith("{{", i) or tag.startswith("{%", i):
            close = "}}" if tag.startswith("{{", i) else "%}"
            j = jinja_end(tag, i + 2, close)
            out.append(jinja_code(tag[i:j], protector, where, notes))
            i = j
            continue
        m = ATTR.match(tag, i) if (i == 0 or not (tag[i - 1].isalnum() or tag[i - 1] in "-_:")) else None
        if m:
            name, eq, quoted = m.group(1), m.group(2), m.group(3)
            value = quoted[1:-1]
            if name.lower() in ATTRS and HAS_IDEOGRAPH.search(value):
                value = settle(value, lambda b: template_items(b, protector, where, None, tags=False), where, notes)
            else:
                value = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", lambda mm: jinja_code(mm.group(0), protector, where, notes), value)
            out.append(name + eq + quoted[0] + value + quoted[0])
            i = m.end()
            continue
        out.append(tag[i])
        i += 1
    return "".join(out)


def template_file(rel: str, text: str, protector: Protector, notes: Notes) -> str:
    # The whole file at once (a pair may span lines); its Jinja literals and attribute
    # values are settled while the items are built.
    text = render(template_items(text, protector, rel, notes))
    return settle(text, lambda b: template_items(b, protector, rel, None), rel, notes)

# ---------------------------------------------------------------------------------------
# JavaScript and CSS: string literals only


def script_file(rel: str, text: str, protector: Protector, notes: Notes, *, css: bool) -> str:
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(text[i:j])
            i = j
            continue
        if not css and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
            continue
        if c in "'\"`" and not (css and c == "`"):
            j = i + 1
            while j < n and text[j] != c:
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n" and c != "`":
                    break
                j += 1
            lit = text[i:j + 1]
            body = lit[1:-1]
            line = text.count("\n", 0, i) + 1
            if HAS_IDEOGRAPH.search(body) and re.search(r"[,:;!?()]", body) and not csv_like(body):
                if c == "`":  # template literal: ${...} is code
                    build = lambda b: js_template_items(b, protector)  # noqa: E731
                else:
                    build = lambda b: string_items(b, protector, python=False, braces=False)  # noqa: E731
                lit = c + settle(body, build, f"{rel}:{line}", notes) + c
            out.append(lit)
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def js_template_items(body: str, protector: Protector) -> list[Item]:
    items: list[Item] = []
    i = 0
    while i < len(body):
        if body.startswith("${", i):
            j = fstring_field_end(body, i + 1)
            items.append(Item("P", body[i:j]))
            i = j
            continue
        items.extend(string_items(body[i], protector, python=False, braces=False))
        i += 1
    return items

# ---------------------------------------------------------------------------------------
# Driver


def files(root: Path) -> list[tuple[str, Path]]:
    found: dict[str, tuple[str, Path]] = {}
    for d in PY_DIRS:
        for path in (root / d).rglob("*.py"):
            found[str(path)] = ("py", path)
    for pattern in TEMPLATE_GLOB:
        for path in root.glob(pattern):
            found[str(path)] = ("html", path)
    for pattern in JS_GLOB:
        for path in root.glob(pattern):
            found[str(path)] = ("js", path)
    for pattern in CSS_GLOB:
        for path in root.glob(pattern):
            found[str(path)] = ("css", path)
    skip = ("/.venv/", "/node_modules/", "/__pycache__/", "/.git/", "/build/", "/.ci/", ".egg-info/")
    return sorted((kind, p) for kind, p in found.values() if not any(s in str(p) + "/" for s in skip))


def convert_file(kind: str, path: Path, rel: str, text: str, protector: Protector, notes: Notes) -> str:
    for file, old, replacement in EXPLICIT_EDITS:  # before the rules: they match the original text
        if file != rel:
            continue
        if old in text:
            text = text.replace(old, replacement)
            notes.add(rel, f"explicit edit: {old} -> {replacement}")
        elif replacement not in text:  # neither: the code moved on, the edit needs a look
            print(f"WARNING {rel}: explicit edit not applied, its text is gone: {old}", file=sys.stderr)
    if kind == "py":
        new = python_file(path, rel, text, protector, notes)
    elif kind == "html":
        new = template_file(rel, text, protector, notes)
    else:
        new = script_file(rel, text, protector, notes, css=kind == "css")
    return new


BACK = str.maketrans("，：；！？（）", ",:;!?()")


def same_code(a: ast.AST, b: ast.AST, in_spec: bool = False) -> None:
    """Raise ValueError unless `b` is `a` with only its string constants' punctuation
    changed: same nodes, same names and numbers, format specs ({x:,.1f}) identical, and
    each changed string the old one with , : ; ! ? ( ) made full-width, spaces next to
    them dropped, "\\(" made "（", or a regex class widened."""
    if type(a) is not type(b):
        raise ValueError(f"the code changed ({type(a).__name__} -> {type(b).__name__})")
    if isinstance(a, ast.Constant):
        if a.value == b.value:
            return
        if in_spec or not isinstance(a.value, str) or not isinstance(b.value, str):
            raise ValueError(f"line {a.lineno}: a format spec or a non-string constant changed")
        old = a.value.replace(" ", "").replace("\\", "")
        new = b.value.translate(BACK).replace(" ", "").replace("\\", "")
        rest = iter(new)  # the old text, in order, inside the new one ...
        extra = Counter(new) - Counter(old)  # ... plus only punctuation (a widened class)
        if not all(c in rest for c in old) or any(c not in ",:;!?()" for c in extra):
            raise ValueError(f"line {a.lineno}: a string changed beyond its punctuation")
        return
    for name, va in ast.iter_fields(a):
        vb = getattr(b, name)
        spec = in_spec or (isinstance(a, ast.FormattedValue) and name == "format_spec")
        if isinstance(va, list):
            if len(va) != len(vb):
                raise ValueError(f"line {getattr(a, 'lineno', '?')}: the code changed ({name})")
            for x, y in zip(va, vb):
                if isinstance(x, ast.AST):
                    same_code(x, y, spec)
                elif x != y:
                    raise ValueError(f"line {getattr(a, 'lineno', '?')}: the code changed ({name})")
        elif isinstance(va, ast.AST):
            same_code(va, vb, spec)
        elif va != vb:
            raise ValueError(f"line {getattr(a, 'lineno', '?')}: the code changed ({name})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--diff", action="store_true")
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    notes = Notes()
    protector = Protector(root, notes)
    changed_files = changed_lines = 0
    for kind, path in files(root):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        new = convert_file(kind, path, rel, text, protector, notes)
        if new == text:
            continue
        if kind == "py":
            try:
                compile(new, rel, "exec")
                same_code(ast.parse(text), ast.parse(new))
            except (SyntaxError, ValueError) as error:
                print(f"REFUSED {rel}: {error}; left unchanged", file=sys.stderr)
                continue
        diff = list(difflib.unified_diff(text.splitlines(keepends=True), new.splitlines(keepends=True),
                                         f"a/{rel}", f"b/{rel}", n=0))
        lines = sum(1 for d in diff if d.startswith("-") and not d.startswith("---"))
        changed_files += 1
        changed_lines += lines
        print(f"{'would change' if args.dry_run else 'changed'} {rel}: {lines} lines")
        if args.dry_run and args.diff:
            sys.stdout.writelines(diff)
        if not args.dry_run:
            path.write_text(new, encoding="utf-8")
    print(f"{'would change' if args.dry_run else 'changed'} {changed_files} files, {changed_lines} lines")
    if args.report:
        print("\n# left as is, for review")
        for line in notes.lines:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
