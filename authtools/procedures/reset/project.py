"""Where the app to reset lives: the project, the app, its migrations folder (it must be
the project's and writable), and a database that answers. Each check raises ResetError."""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from typing import Any

from authtools.procedures.reset.spec import ResetError


def project_root() -> Path:
    from authtools.diagnosis.context import current_project_root

    return current_project_root()


def resolve_app(label: str | None) -> Any:
    """The AppConfig to reset: LABEL, or the app of AUTH_USER_MODEL."""
    from django.apps import apps
    from django.conf import settings

    if label is None:
        label = str(settings.AUTH_USER_MODEL).split(".")[0]
    try:
        config = apps.get_app_config(label)
    except LookupError:
        raise ResetError(
            f"No installed app with label {label!r}; pass the label of an app in INSTALLED_APPS."
        ) from None
    if not list(config.get_models()):
        raise ResetError(f"App {label!r} has no models: there are no migrations to reset.")
    return config


def migrations_folder(config: Any, root: Path) -> tuple[str, Path]:
    """The app's migrations package and its folder; it must exist, be the project's, be writable."""
    from django.db.migrations.loader import MigrationLoader

    module_name, _ = MigrationLoader.migrations_module(config.label)
    if module_name is None:
        raise ResetError(f"Migrations of {config.label!r} are disabled in MIGRATION_MODULES.")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise ResetError(
            f"App {config.label!r} has no migrations package {module_name!r}; create "
            f"{config.label}/migrations/__init__.py (or run makemigrations {config.label})."
        ) from None
    if getattr(module, "__file__", None) is None:
        raise ResetError(
            f"Migrations package {module_name!r} has no __init__.py; Django ignores it. Add one."
        )
    folder = Path(module.__file__).parent  # type: ignore[arg-type]
    if not folder.resolve().is_relative_to(root.resolve()):
        raise ResetError(
            f"Migrations of {config.label!r} live outside the project ({str(folder)!r}); "
            "only the project's own apps can be reset."
        )
    writable_or_raise(folder)
    return module_name, folder


def writable_or_raise(folder: Path) -> None:
    """os.access alone says yes to root everywhere, so also write and remove a probe file."""
    problem = None
    if not os.access(folder, os.W_OK | os.X_OK):
        problem = "not writable"
    else:
        try:
            fd, probe = tempfile.mkstemp(prefix=".authtools-probe-", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            problem = exc.strerror or "not writable"
    if problem:
        raise ResetError(
            f"Migrations folder {str(folder)!r} is {problem}; make it writable and run again."
        )


def check_database(database: str) -> None:
    from authtools.db.connection import refusal

    problem = refusal(database)
    if problem:
        raise ResetError(problem)
