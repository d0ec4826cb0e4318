"""The office's work across every feature: the overview, the audit log in words and its
page, the Excel copies of the long tables, the import templates, retention."""
