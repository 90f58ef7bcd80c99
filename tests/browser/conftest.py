"""Registers the browser fixtures of book_site.py (the built site, a static server, one Chromium,
a recording page) for every test module in this folder."""

from book_site import browser, page, site, static_url  # noqa: F401
