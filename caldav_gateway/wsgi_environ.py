"""The WSGI environment Radicale's own server would build, from the one a2wsgi builds.

Radicale is written against its own server (``radicale/server.py``, on top of ``wsgiref``),
and that server departs from the WSGI standard in ways Radicale relies on:

- ``PATH_INFO`` is the request path percent-decoded **as UTF-8** (invalid sequences become
  U+FFFD), not the standard "bytes as latin-1" spelling. Radicale uses ``PATH_INFO`` as
  text without decoding it again, so through a standard bridge ``/j%C3%BCrgen/`` reaches it
  as ``/jÃ¼rgen/``: hrefs get stored under mangled names, emoji names are refused as "not
  compliant", and a user ``jürgen`` gets 403 on their own collection.
- nothing of the process environment leaks in (a bridge that reads ``SCRIPT_NAME`` from
  ``os.environ`` would make Radicale strip that prefix from every path); the gateway serves
  the root of its dedicated port, so ``SCRIPT_NAME`` is empty;
- ``HTTPS`` is ``on`` for a TLS connection (Radicale logs it and builds URLs from it).

uvicorn decodes ``scope["path"]`` exactly as Radicale's server decodes its ``PATH_INFO``
(``urllib.parse.unquote``, UTF-8 with replacement), and the probe policy judges that same
string; a2wsgi then spells it the WSGI way (UTF-8 bytes as latin-1). Undoing that spelling
gives Radicale the very path the policy judged.
"""

from __future__ import annotations

from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment


def wsgi_to_text(value: str) -> str:
    """A WSGI "bytes as latin-1" string as the UTF-8 text it spells (U+FFFD if it is not)."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:  # already text: a bridge that does not follow PEP 3333
        return value
    return raw.decode("utf-8", "replace")


class RadicaleServerEnviron:
    """WSGI middleware: hand ``app`` the environment Radicale's own server would."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["PATH_INFO"] = wsgi_to_text(environ.get("PATH_INFO", ""))
        environ["SCRIPT_NAME"] = ""
        if environ.get("wsgi.url_scheme") == "https":
            environ["HTTPS"] = "on"
        return self.app(environ, start_response)
