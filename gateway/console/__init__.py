"""The ops console: server-rendered pages for the people who run Waybill.

A pure function of a request and the services (:class:`~gateway.console.app.Console`),
so the local edge mounts it under ``/console/`` and a Lambda can serve it later. Pages
read only what is stored (counted windows, state items, the due indexes: never a Scan);
actions call the same functions as their CLI twins (:mod:`gateway.ops`). Everything a
carrier or tenant sent is escaped (jinja2 autoescape; bidi and control characters shown
as escapes). Auth: an ops credential (:mod:`gateway.console.auth`), signed expiring
session cookies, a CSRF token on every form, strict security headers.
"""
