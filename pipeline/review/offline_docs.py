"""Great Expectations Data Docs that open offline: CDN addresses replaced by vendored copies.

GX's page templates load jQuery, Bootstrap, bootstrap-table, bootstrap-datepicker, Font Awesome and Vega
from CDNs and the navbar logo from S3; with no network the index page's table (drawn by bootstrap-table)
stays empty and the other pages lose their layout and icons. GX gives no setting for this (its custom
views directory cannot override its own templates: the package loader comes first), so after GX builds
the site, ``make_offline`` rewrites each page's ``<script>``/``<link>``/``<img>`` tags:

- an address listed in ``vendor/manifest.json`` ("replaces") points at the vendored file, copied to
  ``static/vendor/`` in the site with its licence (the ``integrity``/``crossorigin`` attributes go: a
  ``file://`` page cannot make the CORS request they ask for; the copies are the very bytes those
  hashes name, see tests/test_offline_reports.py);
- an address listed under "dropped" is removed (Vega: this suite has no graph blocks; a dark theme);
- an image on GX's asset host points at the copy GX itself puts in ``static/images/``;
- GX's dark-mode styles (which need the dropped dark theme) are switched off, and a ``static/`` path
  GX gets wrong (the favicon of validation pages) is corrected.

Anything still loaded from the network afterwards (a GX upgrade that adds a library) is returned and
logged, and tests/test_offline_reports.py fails on it. ``external_loads`` is that check: a scan, with the
standard library's HTML parser, of every tag attribute and style that makes a browser fetch something.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

VENDOR = Path(__file__).parent / "vendor"
SITE_VENDOR = Path("static") / "vendor"
log = logging.getLogger(__name__)
# GX's own stylesheet has a dark-mode block that expects the dark Bootstrap theme (dropped, see the
# manifest) and a logo on its asset host: a media query that never matches keeps the pages light.
DARK_THEME = "@media (prefers-color-scheme: dark)"
DARK_THEME_OFF = "@media not all"

# <script ... src="https://..."></script>, <link ... href="https://...">, <img ... src="https://...">
_TAG = re.compile(r'<(?P<tag>script|link|img)\b[^>]*?\b(?:src|href)="(?P<url>https?://[^"]+)"[^>]*>'
                  r'(?P<close>\s*</script>)?', re.IGNORECASE)
_STATIC = re.compile(r'(?P<attr>\b(?:src|href)=")(?P<path>(?:\./|(?:\.\./)+)static/(?P<rest>[\w./-]+))"')
_CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*(https?:)?//""", re.IGNORECASE)
_FETCHING = {"script": ("src",), "img": ("src", "srcset"), "iframe": ("src",), "source": ("src", "srcset"),
             "video": ("src", "poster"), "audio": ("src",), "embed": ("src",), "object": ("data",),
             "input": ("src",), "track": ("src",)}
_LINK_RELS = {"stylesheet", "icon", "shortcut", "preload", "modulepreload", "prefetch", "manifest",
              "apple-touch-icon"}


@functools.cache
def manifest() -> dict:
    return json.loads((VENDOR / "manifest.json").read_text(encoding="utf-8"))


def _replacements() -> dict[str, str]:
    """CDN address -> vendored file name (under static/vendor/), or "" for an address that is dropped."""
    m = manifest()
    out = {url: "" for url in m["dropped"]}
    for f in m["files"]:
        for url in f["replaces"]:
            out[url] = Path(f["file"]).name
    return out


def _rewrite(html: str, page: Path, site: Path) -> str:
    """The page with every known CDN tag pointing at the vendored copy (or removed)."""
    to_site = Path(os.path.relpath(site, page.parent))
    known = _replacements()

    def sub(m: re.Match) -> str:
        tag, url = m["tag"].lower(), m["url"]
        if url in known:
            if not known[url]:
                return ""
            rel = (to_site / SITE_VENDOR / known[url]).as_posix()
            return f'<script src="{rel}"></script>' if tag == "script" else f'<link rel="stylesheet" href="{rel}">'
        return m[0]

    html = _TAG.sub(sub, html).replace(DARK_THEME, DARK_THEME_OFF)
    for host, folder in manifest()["local_images"].items():
        html = _local_images(html, host, site / folder, to_site / folder)
    return _fix_static_paths(html, page, site, to_site)


def _fix_static_paths(html: str, page: Path, site: Path, to_site: Path) -> str:
    """GX links validation pages (four folders down) to ``../../../static/images/favicon.ico``, one
    level short: point such a path at the site's ``static/`` (a missing file is a failed load too)."""
    def sub(m: re.Match) -> str:
        if (page.parent / m["path"]).is_file() or not (site / "static" / m["rest"]).is_file():
            return m[0]
        return f'{m["attr"]}{(to_site / "static" / m["rest"]).as_posix()}"'

    return _STATIC.sub(sub, html)


def _local_images(html: str, host: str, folder: Path, rel_folder: Path) -> str:
    """Images on GX's asset host, in a tag or a CSS ``url()``: the copy GX puts in the site when there
    is one; a CSS ``url()`` without one becomes ``none`` (it only styles the disabled dark theme)."""
    def sub(m: re.Match) -> str:
        name, wrapped = m["name"], m["open"] is not None and m["close"] is not None
        if (folder / name).is_file():
            rel = (rel_folder / name).as_posix()
            return f"url('{rel}')" if wrapped else m[0].replace(m["url"], rel)
        return "none" if wrapped else m[0]

    pattern = re.compile(r"(?P<open>url\(\s*['\"]?)?(?P<url>" + re.escape(host)
                         + r"""(?P<name>[\w.-]+)(?:\?[^"')\s]*)?)(?P<close>['"]?\s*\))?""")
    return pattern.sub(sub, html)


def _copy_vendored(site: Path) -> None:
    dest = site / SITE_VENDOR
    (dest / "LICENSES").mkdir(parents=True, exist_ok=True)
    for f in manifest()["files"]:
        shutil.copyfile(VENDOR / f["file"], dest / Path(f["file"]).name)
        if f.get("license_file"):
            shutil.copyfile(VENDOR / f["license_file"], dest / f["license_file"])


def make_offline(site: Path) -> dict[str, list[str]]:
    """Rewrite the Data Docs under ``site`` to load nothing from the network; return what still does
    (page, relative to ``site`` -> addresses), logged as a warning; {} when every page is offline."""
    site = Path(site)
    _copy_vendored(site)
    left: dict[str, list[str]] = {}
    for page in sorted(site.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        new = _rewrite(html, page, site)
        if new != html:
            page.write_text(new, encoding="utf-8")
        urls = external_loads(new)
        if "vegaEmbed(" in new:
            urls.append("Vega (this page draws a chart; Vega is not vendored for Data Docs)")
        if urls:
            left[page.relative_to(site).as_posix()] = urls
    for name, urls in left.items():
        log.warning("Data Docs page %s still loads from the network (it will not render fully offline): %s",
                    name, ", ".join(urls))
    return left


class _Loads(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): v or "" for k, v in attrs}
        names = list(_FETCHING.get(tag, ()))
        if tag == "link" and _LINK_RELS & set(a.get("rel", "").lower().split()):
            names.append("href")
        for name in names:
            for value in a.get(name, "").split(","):
                if _remote(value.strip().split(" ")[0]):
                    self.urls.append(value.strip())
        if _CSS_URL.search(a.get("style", "")):
            self.urls.append(f"style attribute of <{tag}>: {a['style'][:80]}")
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style and _CSS_URL.search(data):
            self.urls.append(f"<style>: {_CSS_URL.search(data).group(0)}...")


def _remote(url: str) -> bool:
    u = url.lower()
    return u.startswith(("http:", "https:", "//", "ws:", "wss:", "ftp:"))


def external_loads(html: str) -> list[str]:
    """Addresses that opening ``html`` makes a browser fetch from the network (scripts, stylesheets,
    icons, images, frames, media, CSS ``url()``/``@import``); plain links (<a href>) are not loads."""
    p = _Loads()
    p.feed(html)
    p.close()
    return p.urls
