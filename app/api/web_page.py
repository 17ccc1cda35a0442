"""The web page at `/` and the API docs (Swagger UI, ReDoc), all from files in the package:
nothing is fetched from a CDN, so they work on a machine without internet."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).parent / "web"
STATIC_PREFIX = "/web"
# The doc pages may load images and data from this server only: ReDoc's bundle always shows a
# logo from its vendor's CDN, and the browser should not reach out for it.
DOCS_POLICY = {"Content-Security-Policy": "img-src 'self' data:; connect-src 'self'"}

# Python 3.11 does not know .mjs; browsers refuse a module script served as anything else.
mimetypes.add_type("text/javascript", ".mjs")


def mount_web_page(app: FastAPI) -> None:
    """`/` (the page), `/web/...` (its files), `/docs` and `/redoc`. Create the app with
    `docs_url=None, redoc_url=None` so these replace FastAPI's CDN-based pages."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=WEB_DIR), name="web")

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{STATIC_PREFIX}/{name}"

    def openapi_url(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{app.openapi_url}"

    @app.get("/", include_in_schema=False)
    def web_page() -> FileResponse:
        # The page itself holds no data; what it shows comes from the API behind the keys.
        return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} API",
            swagger_js_url=asset(request, "vendor/swagger-ui/swagger-ui-bundle.js"),
            swagger_css_url=asset(request, "vendor/swagger-ui/swagger-ui.css"),
            swagger_favicon_url=asset(request, "favicon.svg"),
        )
        page.headers.update(DOCS_POLICY)
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} API",
            redoc_js_url=asset(request, "vendor/redoc/redoc.standalone.js"),
            redoc_favicon_url=asset(request, "favicon.svg"),
            with_google_fonts=False,
        )
        page.headers.update(DOCS_POLICY)
        return page
