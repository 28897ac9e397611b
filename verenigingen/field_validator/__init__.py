"""Static field-reference validator for Frappe apps: Python and form-script JS.

Reads DocType JSON, Custom Field/Property Setter fixtures, controllers and hooks, and reports
references to fields a DocType does not have. It never imports frappe.
"""

from .baseline import filter_baseline, read_baseline, write_baseline
from .cli import main
from .doctypes import DocTypeInfo, Schema, find_apps, load_schema
from .errors import ValidatorUsageError
from .files import check_files, check_source, collect_files
from .findings import RULES, CheckResult, Finding, Reference
from .js_checker import check_js_source
from .python_checker import check_python_source
from .reporting import render

__all__ = [
	"RULES",
	"CheckResult",
	"DocTypeInfo",
	"Finding",
	"Reference",
	"Schema",
	"ValidatorUsageError",
	"check_files",
	"check_js_source",
	"check_python_source",
	"check_source",
	"collect_files",
	"filter_baseline",
	"find_apps",
	"load_schema",
	"main",
	"read_baseline",
	"render",
	"write_baseline",
]
