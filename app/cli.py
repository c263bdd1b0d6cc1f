"""The `reflexe` command line: serve, migrate, export the OpenAPI document."""

import json
import os
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from app.settings import get_settings

cli = typer.Typer(help="Reflexe: decide on connection invitations.", no_args_is_help=True)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [REFLEXE_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [REFLEXE_PORT].")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Migrate the database, seed the default set, and serve the API with uvicorn."""
    from app.main import prepare_database

    settings = get_settings()
    prepare_database(settings)
    # Done once here, so the workers uvicorn starts need not each migrate again.
    os.environ["REFLEXE_MIGRATE_ON_START"] = "false"
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level,
    )


@cli.command()
def migrate() -> None:
    """Apply pending migrations and seed the default criteria set."""
    from app.main import prepare_database

    prepare_database(get_settings())
    typer.echo("database is up to date")


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the document.")] = Path(
        "openapi/openapi.json"
    ),
) -> None:
    """Write the OpenAPI document of the API."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_openapi())
    typer.echo(f"wrote {output}")


def render_openapi() -> str:
    from app.main import create_app

    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    cli()
