"""The admin API and page (`serve --admin`, `proxy --admin`), as `openapi/admin.yaml` describes them: the journal
with its verdicts, scenarios, tasks, and a page for people."""

from .api import Admin, JournalAdmin, error_response, http_error

__all__ = ["Admin", "JournalAdmin", "error_response", "http_error"]
