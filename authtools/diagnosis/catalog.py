"""The catalog of finding ids: one entry per id, with its severity, cause and one-line title.

Ids are stable: never renumber or reuse one. README's "Finding ids" table is generated from
this catalog (``python -m authtools ids``) and a test keeps the two in sync.
Ranges: 0xx setting, 1xx model, 2xx imports, 3xx references, 4xx migrations, 5xx database,
6xx content types, 7xx related objects. The letter is the severity: E error, W warning, I info.
"""

from __future__ import annotations

from dataclasses import dataclass

from authtools.diagnosis.report import Cause, Finding, Location, Severity


@dataclass(frozen=True)
class Spec:
    severity: Severity
    cause: Cause
    title: str


CATALOG: dict[str, Spec] = {
    # setting
    "authtools.E001": Spec(
        "error", "setting", "A custom user model exists but AUTH_USER_MODEL is not set."
    ),
    "authtools.E002": Spec(
        "error", "setting", "AUTH_USER_MODEL is not of the form 'app_label.ModelName'."
    ),
    "authtools.E003": Spec("error", "setting", "AUTH_USER_MODEL has stray whitespace."),
    "authtools.E004": Spec(
        "error", "setting", "AUTH_USER_MODEL names an app label that is not installed."
    ),
    "authtools.E005": Spec(
        "error", "setting", "AUTH_USER_MODEL names a model that its app does not have."
    ),
    "authtools.E006": Spec("error", "setting", "The settings module cannot be imported."),
    "authtools.E007": Spec(
        "error", "setting", "django.setup() fails for a reason no other finding explains."
    ),
    # model
    "authtools.E101": Spec(
        "error",
        "model",
        "The user model is defined outside the app's models module and never imported there.",
    ),
    "authtools.E102": Spec("error", "model", "The user model is abstract."),
    "authtools.E103": Spec("error", "model", "The user model is a proxy model."),
    "authtools.E104": Spec(
        "error", "model", "The user model does not inherit from AbstractBaseUser."
    ),
    "authtools.E105": Spec("error", "model", "USERNAME_FIELD names no field of the user model."),
    "authtools.E106": Spec("error", "model", "USERNAME_FIELD is not unique."),
    "authtools.E107": Spec("error", "model", "USERNAME_FIELD is listed in REQUIRED_FIELDS."),
    "authtools.E108": Spec("error", "model", "REQUIRED_FIELDS is not a list or tuple."),
    "authtools.E109": Spec(
        "error",
        "model",
        "The user model's default manager lacks create_user, create_superuser or get_by_natural_key.",
    ),
    "authtools.E110": Spec(
        "error", "model", "is_anonymous or is_authenticated is a method instead of a property."
    ),
    "authtools.W111": Spec(
        "warning",
        "model",
        "USERNAME_FIELD is not unique; only custom AUTHENTICATION_BACKENDS can cope with it.",
    ),
    # imports
    "authtools.E201": Spec("error", "imports", "A models module fails to import."),
    "authtools.E202": Spec("error", "imports", "Models modules import each other in a cycle."),
    "authtools.W203": Spec(
        "warning", "imports", "get_user_model() is called when a models module is imported."
    ),
    "authtools.W204": Spec(
        "warning", "imports", "A models module imports the user model class directly."
    ),
    # references
    "authtools.E301": Spec(
        "error", "references", "Code hard-codes auth.User while AUTH_USER_MODEL is custom."
    ),
    "authtools.E302": Spec(
        "error", "references", "A migration hard-codes a user model other than AUTH_USER_MODEL."
    ),
    "authtools.W303": Spec(
        "warning",
        "references",
        "A permission string names a model that is no longer the user model.",
    ),
    # migrations
    "authtools.E401": Spec("error", "migrations", "The user model's app has no migrations."),
    "authtools.E402": Spec("error", "migrations", "The user model's migrations are not applied."),
    "authtools.E403": Spec(
        "error",
        "migrations",
        "The migration history is inconsistent (InconsistentMigrationHistory).",
    ),
    "authtools.E404": Spec(
        "error",
        "migrations",
        "A migration depends on a migration that does not exist (NodeNotFoundError).",
    ),
    "authtools.E405": Spec(
        "error", "migrations", "Applied migrations were created against a different user model."
    ),
    "authtools.W406": Spec(
        "warning", "migrations", "Models have changes that are not reflected in a migration."
    ),
    "authtools.E407": Spec(
        "error",
        "migrations",
        "Switching AUTH_USER_MODEL to the --target model would make the history inconsistent.",
    ),
    # database
    "authtools.E501": Spec("error", "database", "The user model's table does not exist."),
    "authtools.E502": Spec(
        "error",
        "database",
        "A foreign key in the database points at a different table than the model says.",
    ),
    "authtools.E503": Spec(
        "error",
        "database",
        "A foreign key column's type differs from the user table's primary key.",
    ),
    "authtools.E504": Spec("error", "database", "The database cannot be reached."),
    # contenttypes
    "authtools.W601": Spec(
        "warning",
        "contenttypes",
        "Stale content types (no model behind them) still have permissions or references.",
    ),
    "authtools.W602": Spec(
        "warning",
        "contenttypes",
        "The swapped-out user model's content type and permissions are still in use.",
    ),
    "authtools.W603": Spec(
        "warning", "contenttypes", "The user model has no content type or is missing permissions."
    ),
    # related objects
    "authtools.W701": Spec(
        "warning",
        "related-objects",
        "Users are missing the row of a one-to-one relation (RelatedObjectDoesNotExist).",
    ),
    "authtools.I702": Spec(
        "info",
        "related-objects",
        "Users without the row of an optional one-to-one relation (absence handled in code, or "
        "listed in AUTHTOOLS['OPTIONAL_RELATIONS']).",
    ),
}


def finding(
    id: str,
    message: str,
    hint: str,
    location: Location | None = None,
    fix_command: str | None = None,
) -> Finding:
    """Build a Finding whose severity and cause come from the catalog."""
    spec = CATALOG[id]
    return Finding(
        id=id,
        severity=spec.severity,
        cause=spec.cause,
        message=message,
        hint=hint,
        location=location,
        fix_command=fix_command,
    )


def markdown_table() -> str:
    """The README's table of finding ids."""
    lines = ["| id | cause | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{id}` | {spec.cause} | {spec.title} |" for id, spec in CATALOG.items()]
    return "\n".join(lines)
