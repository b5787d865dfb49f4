"""Reports out (报表): the sales office's weekly figures and the archive's, on pages with charts, in the API
as JSON and exported to XLSX; and the landing page (工作台) each role opens after logging in.

One module per report family holds its queries as plain functions (session, actor, period, today);
each answers a ``tables.Report`` that the page (``views``), the API (``api``), the charts (``charts``)
and the export (``exporting``) all read. Every count is one aggregate query (GROUP BY), scoped by
``policy.report_department``: a head counts their department, leadership and the archive the company.
"""
