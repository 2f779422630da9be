"""--scaffold APP: write the new app and a user model that is a copy of auth.User's fields.

The model subclasses AbstractUser (so its fields are auth.User's) and declares the primary key
with the type auth_user.id has in the database (a 32-bit AutoField unless the table says
otherwise), so that every foreign key to it stays valid. The swap generates its migration.

Beside the swap's chain (it prepares the project before a swap): reads the database's
primary key type and the project's folders; returns a ``Scaffold`` (files to write).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from authtools.procedures.swap.spec import SwapRefused

STARTAPP_MODELS = "from django.db import models\n\n# Create your models here.\n"

MODELS = '''from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The project's user model: auth.User's fields for now, ready to grow."""

    # {table}.{column} is {db_type!r}: the same type keeps every foreign key to it valid.
    id = models.{pk_class}(primary_key=True, verbose_name="ID")
'''

APPS = """from django.apps import AppConfig


class {class_name}(AppConfig):
    name = "{app}"
"""

ADMIN = """from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from {app}.models import User

admin.site.register(User, UserAdmin)
"""


@dataclass
class Scaffold:
    app: str
    folder: Path
    files: dict[Path, str]  # what to write (files that exist with other content are refused)
    model_label: str


def plan_scaffold(app: str, root: Path, database: str) -> Scaffold:
    """The files of APP under ROOT (the folder of manage.py); refuses what it would overwrite."""
    from django.apps import apps
    from django.conf import settings
    from django.db import connections

    from authtools.db.catalog import primary_key
    from authtools.db.schema import integer_width

    if not app.isidentifier():
        raise SwapRefused(f"--scaffold {app!r} is not a valid app name (a Python identifier)")
    if settings.AUTH_USER_MODEL != "auth.User":
        raise SwapRefused(
            f"AUTH_USER_MODEL is {settings.AUTH_USER_MODEL!r}: --scaffold writes a copy of "
            "auth.User for projects still on it; write the new model by hand"
        )
    if apps.is_installed(app) and apps.get_app_config(app).models_module is not None:
        models = [str(m._meta.object_name) for m in apps.get_app_config(app).get_models()]
        if models:
            raise SwapRefused(
                f"the app {app!r} is installed and has models ({', '.join(models)}): add the "
                "user model to it by hand"
            )
    user = apps.get_model("auth", "User")
    found = primary_key(connections[database], user._meta.db_table)
    column, db_type = found if found else ("id", "integer")
    pk_class = {64: "BigAutoField", 16: "SmallAutoField"}.get(
        integer_width(db_type) or 32, "AutoField"
    )
    folder = root / app
    class_name = "".join(part.title() for part in app.split("_")) + "Config"
    files = {
        folder / "__init__.py": "",
        folder / "apps.py": APPS.format(app=app, class_name=class_name),
        folder / "models.py": MODELS.format(
            table=user._meta.db_table, column=column, db_type=db_type, pk_class=pk_class
        ),
        folder / "admin.py": ADMIN.format(app=app),
    }
    for path, text in files.items():
        if path.exists() and path.read_text() not in ("", text, STARTAPP_MODELS):
            raise SwapRefused(
                f"{str(path)!r} exists and is not empty: move it away or write the model by hand"
            )
    return Scaffold(app, folder, files, f"{app}.User")


def write_scaffold(scaffold: Scaffold) -> list[Path]:
    written = []
    for path, text in scaffold.files.items():
        if path.exists() and path.read_text() == text:
            continue
        if not path.parent.exists():
            path.parent.mkdir(parents=True)
            os.chmod(path.parent, 0o755)
        path.write_text(text)
        os.chmod(path, 0o644)
        written.append(path)
    return written


def project_app_test(root: Path) -> Callable[[str], bool]:
    """Whether an INSTALLED_APPS entry names one of the project's own apps (its folder is under
    ROOT, outside the standard library and installed packages)."""
    from django.apps import apps

    from authtools.diagnosis.boot import booted_state
    from authtools.diagnosis.context import Context

    context = Context.create(booted_state())
    ours = set()
    for config in apps.get_app_configs():
        if config.path and context.is_project_file(config.path):
            ours |= {config.name, f"{type(config).__module__}.{type(config).__qualname__}"}
    return ours.__contains__


def next_step(app: str, *, settings_pending: bool, write_settings: bool, dry_run: bool) -> str:
    """What is left to do after --scaffold, as the command's last line."""
    steps = ["run it again without --dry-run"] if dry_run else []
    if settings_pending and not write_settings:
        steps.append("make the settings change above (or run again with --write-settings)")
    steps.append(
        f"python manage.py swap_user_model --from auth.User (it writes the migration of {app!r})"
    )
    return "Next: " + ", then ".join(steps)
