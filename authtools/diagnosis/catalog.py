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
    fix: str = ""  # what the finding's fix is, and when it is withheld (see FIXES)


CATALOG: dict[str, Spec] = {
    # setting
    "authtools.E001": Spec(
        "error",
        "setting",
        "A custom user model exists but AUTH_USER_MODEL is not set.",
        "The line to add to the settings file every environment imports (where INSTALLED_APPS is set). None of its own; with a database built on auth.User, then `swap_user_model --from auth.User`.",
    ),
    "authtools.E002": Spec(
        "error",
        "setting",
        "AUTH_USER_MODEL is not of the form 'app_label.ModelName'.",
        "The line to write (the model the value most likely means). No command.",
    ),
    "authtools.E003": Spec(
        "error",
        "setting",
        "AUTH_USER_MODEL has stray whitespace.",
        "The line without the whitespace. No command.",
    ),
    "authtools.E004": Spec(
        "error",
        "setting",
        "AUTH_USER_MODEL names an app label that is not installed.",
        "The line with the installed label. No command.",
    ),
    "authtools.E005": Spec(
        "error",
        "setting",
        "AUTH_USER_MODEL names a model that its app does not have.",
        "The line with the model meant, only if the migrations create it; a class renamed in code only gets the safe routes (rename back, or RenameModel and the setting together), never a setting change alone.",
    ),
    "authtools.E006": Spec(
        "error",
        "setting",
        "The settings module cannot be imported.",
        "None: the error to fix in the settings module.",
    ),
    "authtools.E007": Spec(
        "error",
        "setting",
        "django.setup() fails for a reason no other finding explains.",
        "None: the error to fix.",
    ),
    # model
    "authtools.E101": Spec(
        "error",
        "model",
        "The user model is defined outside the app's models module and never imported there.",
        "The import line to add to the models module. No command.",
    ),
    "authtools.E102": Spec(
        "error", "model", "The user model is abstract.", "The change to the class. No command."
    ),
    "authtools.E103": Spec(
        "error",
        "model",
        "The user model is a proxy model.",
        "The change to the class or the setting. No command.",
    ),
    "authtools.E104": Spec(
        "error",
        "model",
        "The user model does not inherit from AbstractBaseUser.",
        "The base class to inherit from. No command.",
    ),
    "authtools.E105": Spec(
        "error",
        "model",
        "USERNAME_FIELD names no field of the user model.",
        "The USERNAME_FIELD to write. No command.",
    ),
    "authtools.E106": Spec(
        "error",
        "model",
        "USERNAME_FIELD is not unique.",
        "The unique field to declare. No command.",
    ),
    "authtools.E107": Spec(
        "error",
        "model",
        "USERNAME_FIELD is listed in REQUIRED_FIELDS.",
        "The REQUIRED_FIELDS to write. No command.",
    ),
    "authtools.E108": Spec(
        "error",
        "model",
        "REQUIRED_FIELDS is not a list or tuple.",
        "The REQUIRED_FIELDS to write. No command.",
    ),
    "authtools.E109": Spec(
        "error",
        "model",
        "The user model's default manager lacks create_user, create_superuser or get_by_natural_key.",
        "The manager the module already has, or the methods to add to the project's own manager, else a new BaseUserManager. No command.",
    ),
    "authtools.E110": Spec(
        "error",
        "model",
        "is_anonymous or is_authenticated is a method instead of a property.",
        "The @property to add. No command.",
    ),
    "authtools.W111": Spec(
        "warning",
        "model",
        "USERNAME_FIELD is not unique; only custom AUTHENTICATION_BACKENDS can cope with it.",
        "The unique field to declare, or backends that cope. No command.",
    ),
    # imports
    "authtools.E201": Spec(
        "error", "imports", "A models module fails to import.", "None: the error at the line shown."
    ),
    "authtools.E202": Spec(
        "error",
        "imports",
        "Models modules import each other in a cycle.",
        "The import to move. No command.",
    ),
    "authtools.W203": Spec(
        "warning",
        "imports",
        "get_user_model() is called when a models module is imported.",
        "The settings.AUTH_USER_MODEL reference to use. No command.",
    ),
    "authtools.W204": Spec(
        "warning",
        "imports",
        "A models module imports the user model class directly.",
        "The settings.AUTH_USER_MODEL reference to use. No command.",
    ),
    # references
    "authtools.E301": Spec(
        "error",
        "references",
        "Code hard-codes auth.User while AUTH_USER_MODEL is custom.",
        "The reference to use. No command.",
    ),
    "authtools.E302": Spec(
        "error",
        "references",
        "A migration hard-codes a user model other than AUTH_USER_MODEL.",
        "The swappable reference to use. No command.",
    ),
    "authtools.W303": Spec(
        "warning",
        "references",
        "A permission string names a model that is no longer the user model.",
        "The permission string to use. No command.",
    ),
    "authtools.W304": Spec(
        "warning",
        "references",
        "A third-party package hard-codes auth.User.",
        "None: upgrade the package or report it upstream (the hint names the pip command).",
    ),
    # migrations
    "authtools.E401": Spec(
        "error",
        "migrations",
        "The user model's app has no migrations.",
        "`makemigrations APP`, or `reset_user_migrations` when the database records migrations that need the app; withheld when the plan refuses or finds nothing to do.",
    ),
    "authtools.E402": Spec(
        "error",
        "migrations",
        "The user model's migrations are not applied.",
        "`migrate`; withheld when Django's history check would refuse (then the E403 fix comes first).",
    ),
    "authtools.E403": Spec(
        "error",
        "migrations",
        "The migration history is inconsistent (InconsistentMigrationHistory).",
        "`swap_user_model --from OLD` when the user app was never migrated (switched mid-project; withheld when the swap's preflight refuses), `reset_user_migrations` when its migrations were regenerated; none when another app's history is at fault.",
    ),
    "authtools.E404": Spec(
        "error",
        "migrations",
        "A migration depends on a migration that does not exist (NodeNotFoundError).",
        "`reset_user_migrations` for a deleted user migration (withheld when its plan refuses); else the dependency line to write.",
    ),
    "authtools.E405": Spec(
        "error",
        "migrations",
        "Applied migrations were created against a different user model.",
        "`swap_user_model --from OLD` (withheld when its preflight refuses); printed once, under E403 when there is one.",
    ),
    "authtools.W406": Spec(
        "warning",
        "migrations",
        "Models have changes that are not reflected in a migration.",
        "`makemigrations APP`; withheld next to a user-model error (it would record the breakage) or when the history is inconsistent.",
    ),
    "authtools.E407": Spec(
        "error",
        "migrations",
        "Switching AUTH_USER_MODEL to the --target model would make the history inconsistent.",
        "None: the hint gives the order (write the model, switch the setting, then swap).",
    ),
    # database
    "authtools.E501": Spec(
        "error",
        "database",
        "The user model's table does not exist.",
        "`migrate APP`, only when the app has migrations and the history is consistent; under the finding whose fix creates the table otherwise (E402, E403, E405); none when the table was dropped.",
    ),
    "authtools.E502": Spec(
        "error",
        "database",
        "A foreign key in the database points at a different table than the model says.",
        "`swap_user_model --from OLD` (planned first), printed once under the migration finding it follows from.",
    ),
    "authtools.E503": Spec(
        "error",
        "database",
        "A foreign key column's type differs from the user table's primary key.",
        "None: the migration to write.",
    ),
    "authtools.E504": Spec(
        "error",
        "database",
        "The database cannot be reached.",
        "None: the DATABASES entry to check.",
    ),
    "authtools.E505": Spec(
        "error",
        "database",
        "The database driver is not installed.",
        "`python -m pip install` of the driver (`psycopg[binary]`, `mysqlclient`); no manage.py fix: Django cannot start.",
    ),
    # contenttypes
    "authtools.W601": Spec(
        "warning",
        "contenttypes",
        "Stale content types (no model behind them) still have permissions or references.",
        "`rebuild_contenttypes --remap OLD=NEW` when the migrations name the successor (a RenameModel chain from the old model, or the one new model of its app with the fields the old one had) and the remap plans; withheld otherwise, the hint saying why and how to name one.",
    ),
    "authtools.W602": Spec(
        "warning",
        "contenttypes",
        "The swapped-out user model's content type and permissions are still in use.",
        "`rebuild_contenttypes --remap OLD=NEW`; under the swap (which relabels it) when one is printed.",
    ),
    "authtools.W603": Spec(
        "warning",
        "contenttypes",
        "The user model has no content type or is missing permissions.",
        "`rebuild_contenttypes`; none of its own when W602's remap is printed (it relabels the old user content type and creates what is missing), or under a swap, reset or migrate root; withheld when its plan finds nothing to do.",
    ),
    # related objects
    "authtools.W701": Spec(
        "warning",
        "related-objects",
        "Users are missing the row of a one-to-one relation (RelatedObjectDoesNotExist).",
        "None: create rows only when every user should have one; an optional relation is I702.",
    ),
    "authtools.I702": Spec(
        "info",
        "related-objects",
        "Users without the row of an optional one-to-one relation (absence handled in code, the "
        "row created when first needed, or listed in AUTHTOOLS['OPTIONAL_RELATIONS']).",
        "None: nothing to do.",
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
    """The README's table of finding ids: per id, its fix and when the fix is withheld (a
    fix_command is planned against the current state before it is printed: authtools.fixes)."""
    lines = [
        "| id | cause | meaning | fix (and when it is withheld) |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| `{id}` | {spec.cause} | {spec.title} | {spec.fix} |" for id, spec in CATALOG.items()
    ]
    return "\n".join(lines)
