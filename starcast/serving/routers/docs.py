"""`/docs`: Swagger UI served from the Python package that ships it, so it works offline.

FastAPI's default `/docs` page loads Swagger UI from a CDN (a blank page without internet) and
its favicon from fastapi.tiangolo.com; here every file comes from this server.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"

router = APIRouter(include_in_schema=False)


# Swagger UI's page starts itself with an inline script; everything else comes from here.
DOCS_POLICY = (
    "default-src 'self'; img-src 'self' data:; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)


@router.get(DOCS_PATH, response_class=HTMLResponse)
async def docs() -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="starcast API",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
    )
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page


def install_docs(app: FastAPI) -> None:
    """The page and its files; the app must be made with `docs_url=None, redoc_url=None`."""
    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_path), name="docs-assets")
