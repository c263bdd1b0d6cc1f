"""The interactive documentation, served with its own assets so that it works offline, and
the JSON Schema of a criteria set's file, for editors and `reflexe check`'s users.

FastAPI's default /docs and /redoc pages load Swagger UI and ReDoc from a CDN. Here the pages
are FastAPI's own, and their scripts, stylesheet and icon are the files that the
`fastapi-offline` package ships (Swagger UI 5, ReDoc 2), served under ASSETS_PATH.
"""

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from app.criteria.files import file_schema, to_json

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/docs/assets"
SCHEMA_PATH = "/schemas/criteria-set.json"
SCHEMA_MEDIA_TYPE = "application/schema+json"

# Only the package's files are used: its app factory would replace our FastAPI() call.
_BUNDLE = ("fastapi_offline", "static")


def install_docs(app: FastAPI) -> None:
    """Serve /docs (Swagger UI) and /redoc (ReDoc) and their assets from this service.

    The app must be created with `docs_url=None, redoc_url=None`.
    """
    app.mount(ASSETS_PATH, StaticFiles(packages=[_BUNDLE]), name="docs-assets")

    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=None,  # API keys are bearer tokens: no OAuth2 flow
            # No badge fetched from the online validator, whatever the layout.
            swagger_ui_parameters={"validatorUrl": None},
        )

    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )

    schema = to_json(file_schema()).encode()  # built once, indented for the people reading it

    def criteria_set_schema(request: Request) -> Response:
        return Response(schema, media_type=SCHEMA_MEDIA_TYPE)

    # Plain routes, as FastAPI adds its own docs: out of the OpenAPI document, HEAD included.
    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)
    app.add_route(REDOC_PATH, redoc, include_in_schema=False)
    app.add_route(SCHEMA_PATH, criteria_set_schema, include_in_schema=False)
