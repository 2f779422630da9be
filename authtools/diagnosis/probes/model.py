"""Probe: the model AUTH_USER_MODEL names, and the contract Django expects of a user model.

Django registers a model only when its class is created, which happens when the app's models
module (or something it imports) defines it. So this probe first finds the class: in the
registry (``apps.all_models``, as far as it loaded), then among the models module's attributes
(abstract models are never registered), then with ast in the models module and the app's folder
(a class in ``accounts/users.py`` that ``accounts/models.py`` never imports). Then it checks the
contract of ``django.contrib.auth`` (AbstractBaseUser, USERNAME_FIELD, REQUIRED_FIELDS, a
BaseUserManager, is_anonymous/is_authenticated properties) and says where each problem is.

It runs on every ``manage.py check``: the healthy path reads the registry only; the scan of the
user app's folder happens only when the class is missing from the registry.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authtools.diagnosis import catalog
from authtools.diagnosis.context import Context, parse_file
from authtools.diagnosis.report import FileLocation, Finding

REQUIRES = "apps"
USES_DB = False

DEFAULT_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
MANAGER_METHODS = ("create_user", "create_superuser", "get_by_natural_key")
USER_BASE_NAMES = ("AbstractBaseUser", "AbstractUser")


def run(ctx: Context) -> Iterator[Finding]:
    target = parse_setting(ctx.auth_user_model_raw)
    if target is None:
        return  # not of the form 'app_label.ModelName': the setting probe says so
    label, name = target
    app_config = app_config_for(label)
    if app_config is None:
        return  # the label is not installed: the setting probe says so
    cls = registered_model(ctx, label, name)
    if cls is not None:
        if ctx.boot.ok("models"):
            yield from check_contract(ctx, cls)
        return
    yield from _unregistered(ctx, app_config, name)


# --- finding the class ----------------------------------------------------------------------


def parse_setting(value: Any) -> tuple[str, str] | None:
    """('app_label', 'ModelName') from AUTH_USER_MODEL (stray whitespace ignored), or None."""
    if not isinstance(value, str):
        return None
    parts = "".join(value.split()).split(".")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


def app_config_for(label: str) -> Any:
    """The AppConfig with this label in the registry as far as it loaded, or None."""
    from django.apps import apps

    return apps.app_configs.get(label)


def registered_model(ctx: Context, label: str, name: str) -> Any:
    """The registered model LABEL.NAME (case-insensitive, as Django), or None."""
    from django.apps import apps

    if not ctx.boot.ok("apps"):
        return None
    return apps.all_models.get(label, {}).get(name.lower())


def models_module_file(app_config: Any) -> Path | None:
    """The file of the app's models module (models.py or models/__init__.py), if it has one."""
    module = getattr(app_config, "models_module", None)
    if module is not None and getattr(module, "__file__", None):
        return Path(module.__file__)
    base = Path(app_config.path)
    for candidate in (base / "models.py", base / "models" / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def class_defs(tree: ast.Module) -> Iterator[ast.ClassDef]:
    """Top-level class statements, including those under module-level if/try blocks."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.ClassDef):
            yield node
        elif isinstance(node, ast.If | ast.Try):
            pending.extend(node.body)
            pending.extend(node.orelse)
            if isinstance(node, ast.Try):
                pending.extend(node.finalbody)


def find_class_node(path: Path, name: str) -> ast.ClassDef | None:
    """The class statement NAME (case-insensitive) at the top of a file, or None."""
    tree = parse_file(path)
    if tree is None:
        return None
    for node in class_defs(tree):
        if node.name.lower() == name.lower():
            return node
    return None


def imports_name(path: Path, name: str) -> bool:
    """True when the module at PATH imports NAME (``from x import NAME`` or ``import *``)."""
    tree = parse_file(path)
    if tree is None:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*" or (alias.asname or alias.name).lower() == name.lower():
                    return True
    return False


@dataclass(frozen=True)
class ClassSite:
    """Where a class statement is: its file, line and dotted module."""

    path: Path
    line: int
    module: str
    name: str


def find_in_app(app_config: Any, name: str) -> ClassSite | None:
    """A class statement NAME in any module of the app's folder except its migrations."""
    base = Path(app_config.path)
    skip = {"migrations", "__pycache__", "tests", "node_modules"}
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(base)
        if any(part in skip or part.startswith(".") for part in rel.parts[:-1]):
            continue
        node = find_class_node(path, name)
        if node is not None:
            parts = [*rel.parts[:-1]] + ([] if path.name == "__init__.py" else [path.stem])
            module = ".".join([app_config.name, *parts])
            return ClassSite(path, node.lineno, module, node.name)
    return None


def relative_import(from_package: str, module: str, name: str) -> str:
    """``from .users import User`` as written in a module of FROM_PACKAGE."""
    here, there = from_package.split("."), module.split(".")
    common = 0
    while common < min(len(here), len(there)) and here[common] == there[common]:
        common += 1
    dots = "." * (len(here) - common + 1)
    return f"from {dots}{'.'.join(there[common:])} import {name}"


# --- user model candidates (for suggestions) ------------------------------------------------


def is_user_class(cls: Any) -> bool:
    from django.contrib.auth.base_user import AbstractBaseUser

    return isinstance(cls, type) and issubclass(cls, AbstractBaseUser)


def registered_user_models(ctx: Context) -> list[Any]:
    """Concrete, non-proxy user models in the registry as far as it loaded."""
    from django.apps import apps

    if not ctx.boot.ok("apps"):
        return []
    found = []
    for models in list(apps.all_models.values()):
        for cls in list(models.values()):
            if is_user_class(cls) and not cls._meta.proxy and not _swapped(cls):
                found.append(cls)
    return found


def _swapped(cls: Any) -> bool:
    """True for a swappable model that the settings replace (auth.User, usually)."""
    if not cls._meta.swappable:
        return False
    try:
        return bool(cls._meta.swapped)
    except (AttributeError, ValueError):  # AUTH_USER_MODEL is not even a string
        return True


def static_user_classes(app_config: Any) -> list[str]:
    """Class names in the app's models module whose bases look like a user model (ast)."""
    path = models_module_file(app_config)
    tree = parse_file(path) if path else None
    if tree is None:
        return []
    names = []
    for node in class_defs(tree):
        bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
        if any(b in USER_BASE_NAMES or b.endswith("User") for b in bases):
            names.append(node.name)
    return names


def model_names(ctx: Context, app_config: Any) -> list[str]:
    """The app's model names (ObjectName case): the registry, else the models module's classes."""
    from django.apps import apps

    registered = [
        str(m._meta.object_name)
        for m in apps.all_models.get(app_config.label, {}).values()
        if not m._meta.auto_created
    ]
    if ctx.boot.ok("models"):
        return registered
    path = models_module_file(app_config)
    tree = parse_file(path) if path else None
    parsed = [n.name for n in class_defs(tree)] if tree is not None else []
    return registered + [n for n in parsed if n not in registered]


# --- a class that is not registered -----------------------------------------------------------


def _unregistered(ctx: Context, app_config: Any, name: str) -> Iterator[Finding]:
    """The class is not in the registry: abstract, a proxy that failed, or in another module."""
    label = app_config.label
    module = getattr(app_config, "models_module", None)
    cls = _module_class(module, name)
    if cls is not None and getattr(getattr(cls, "_meta", None), "abstract", False):
        yield _abstract(ctx, label, cls.__name__, _meta_location(ctx, cls, "abstract"))
        return
    models_file = models_module_file(app_config)
    node = find_class_node(models_file, name) if models_file else None
    if node is not None and models_file is not None:
        meta = _static_meta(node)
        for key in ("abstract", "proxy"):
            if meta.get(key, (False, 0))[0] is True:
                where = FileLocation(ctx.display_path(models_file), meta[key][1])
                yield (
                    _abstract(ctx, label, node.name, where)
                    if key == "abstract"
                    else _proxy(label, node.name, where, concrete=None)
                )
                break
        return
    if models_file is not None and imports_name(models_file, name):
        return  # imported, so a failed import explains it: the imports probe says so
    site = find_in_app(app_config, name)
    if site is None:
        return  # no such class in the app: the setting probe suggests the right name
    yield _elsewhere(ctx, app_config, site, models_file)


def _module_class(module: Any, name: str) -> Any:
    if module is None:
        return None
    for attr, value in vars(module).items():
        if attr.lower() == name.lower() and isinstance(value, type):
            return value
    return None


def _static_meta(node: ast.ClassDef) -> dict[str, tuple[Any, int]]:
    """Constant assignments in the class's Meta and their lines, e.g. {'abstract': (True, 9)}."""
    meta: dict[str, tuple[Any, int]] = {}
    for item in node.body:
        if isinstance(item, ast.ClassDef) and item.name == "Meta":
            for stmt in item.body:
                if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant):
                    for target in stmt.targets:
                        if isinstance(target, ast.Name):
                            meta[target.id] = (stmt.value.value, stmt.lineno)
    return meta


def _elsewhere(ctx: Context, app_config: Any, site: ClassSite, models_file: Path | None) -> Finding:
    label = app_config.label
    where = FileLocation(ctx.display_path(site.path), site.line)
    if models_file is None:
        target = Path(app_config.path) / "models.py"
        package = app_config.name
    else:
        target = models_file
        package = app_config.name + (".models" if models_file.name == "__init__.py" else "")
    line = relative_import(package, site.module, site.name)
    return catalog.finding(
        "authtools.E101",
        f"The user model {label}.{site.name} is defined in {site.module!r} "
        f"({where}), which the app's models module never imports, so Django never "
        f"registers it.",
        f"Add `{line}  # noqa: F401` to {ctx.display_path(target)} (or move the class there).",
        location=where,
    )


def _abstract(ctx: Context, label: str, name: str, where: FileLocation | None) -> Finding:
    return catalog.finding(
        "authtools.E102",
        f"The user model {label}.{name} is abstract (Meta.abstract = True): Django never "
        f"registers abstract models, so AUTH_USER_MODEL cannot name it.",
        f"Remove `abstract = True` from {name}.Meta, or define a concrete "
        f"`class {name}(...)` that inherits from it, then run makemigrations.",
        location=where,
    )


def _proxy(label: str, name: str, where: FileLocation | None, concrete: str | None) -> Finding:
    if concrete:
        hint = (
            f"Point AUTH_USER_MODEL at the concrete model: `AUTH_USER_MODEL = {concrete!r}` "
            f"(or remove `proxy = True` from {name}.Meta and run makemigrations)."
        )
    else:
        hint = (
            f"Remove `proxy = True` from {name}.Meta and inherit from AbstractUser or "
            f"AbstractBaseUser (a proxy of auth.User cannot be the user model), then run "
            f"makemigrations."
        )
    why = (
        "it shares the table of " + repr(concrete)
        if concrete
        else "a proxy of auth.User cannot even be created once auth.User is swapped out"
    )
    return catalog.finding(
        "authtools.E103",
        f"The user model {label}.{name} is a proxy model: {why}.",
        hint,
        location=where,
    )


# --- the user-model contract -----------------------------------------------------------------


def check_contract(ctx: Context, cls: Any) -> Iterator[Finding]:
    """What django.contrib.auth expects of the model AUTH_USER_MODEL names."""
    opts = cls._meta
    label = f"{opts.app_label}.{opts.object_name}"
    if opts.proxy:
        concrete = opts.concrete_model._meta
        yield _proxy(
            opts.app_label,
            opts.object_name,
            _meta_location(ctx, cls, "proxy"),
            concrete=f"{concrete.app_label}.{concrete.object_name}",
        )
        return
    if not is_user_class(cls):
        yield catalog.finding(
            "authtools.E104",
            f"The user model {label} does not inherit from AbstractBaseUser: it has no "
            f"password, USERNAME_FIELD or REQUIRED_FIELDS, so login, createsuperuser and "
            f"Django's auth checks fail.",
            f"Inherit from AbstractUser (`from django.contrib.auth.models import "
            f"AbstractUser`; `class {opts.object_name}(AbstractUser):`), or from "
            f"AbstractBaseUser and PermissionsMixin, then run makemigrations.",
            location=_class_location(ctx, cls),
        )
        return
    yield from _required_fields(ctx, cls, label)
    yield from _username_field(ctx, cls, label)
    yield from _manager(ctx, cls, label)
    yield from _properties(ctx, cls, label)


def _required_fields(ctx: Context, cls: Any, label: str) -> Iterator[Finding]:
    required = cls.REQUIRED_FIELDS
    if not isinstance(required, list | tuple):
        items = [required] if isinstance(required, str) else list(_iterable(required))
        yield catalog.finding(
            "authtools.E108",
            f"{label}.REQUIRED_FIELDS is {required!r}, not a list or tuple "
            f"(Django's auth.E001); createsuperuser would prompt for the wrong fields.",
            f"Write `REQUIRED_FIELDS = {[i for i in items if isinstance(i, str)]!r}`.",
            location=_attr_location(ctx, cls, "REQUIRED_FIELDS"),
        )
        return
    if cls.USERNAME_FIELD in required:
        rest = [f for f in required if f != cls.USERNAME_FIELD]
        yield catalog.finding(
            "authtools.E107",
            f"{label}.USERNAME_FIELD {cls.USERNAME_FIELD!r} is also listed in REQUIRED_FIELDS "
            f"(Django's auth.E002); createsuperuser would ask for it twice.",
            f"Write `REQUIRED_FIELDS = {rest!r}`.",
            location=_attr_location(ctx, cls, "REQUIRED_FIELDS"),
        )


def _iterable(value: Any) -> list[Any]:
    try:
        return list(value)
    except TypeError:
        return []


def _username_field(ctx: Context, cls: Any, label: str) -> Iterator[Finding]:
    from django.core.exceptions import FieldDoesNotExist

    opts = cls._meta
    username = cls.USERNAME_FIELD
    try:
        field = opts.get_field(username)
    except (FieldDoesNotExist, TypeError):
        yield _no_username_field(ctx, cls, label, username)
        return
    if field.unique or any(c.fields == (username,) for c in opts.total_unique_constraints):
        return
    yield _not_unique(ctx, cls, label, username)


def _no_username_field(ctx: Context, cls: Any, label: str, username: Any) -> Finding:
    import difflib

    opts = cls._meta
    names = [f.name for f in opts.concrete_fields]
    unique = [f.name for f in opts.concrete_fields if f.unique and not f.primary_key]
    guess = difflib.get_close_matches(str(username), names, n=1) or unique[:1]
    if guess:
        hint = f"Write `USERNAME_FIELD = {guess[0]!r}`"
        hint += "" if guess[0] in unique else f" and give {guess[0]!r} unique=True"
        hint += ", or add the field to the model and run makemigrations."
    else:
        hint = (
            "Add a unique field (e.g. `email = models.EmailField(unique=True)`), name it in "
            "USERNAME_FIELD and run makemigrations."
        )
    return catalog.finding(
        "authtools.E105",
        f"{label}.USERNAME_FIELD is {username!r}, which is not a field of the model "
        f"(its fields: {', '.join(names)}); login, createsuperuser and Django's auth "
        f"checks fail.",
        hint,
        location=_attr_location(ctx, cls, "USERNAME_FIELD"),
    )


def _not_unique(ctx: Context, cls: Any, label: str, username: str) -> Finding:
    from django.conf import settings

    where = _attr_location(ctx, cls, username)
    hint = (
        f"Add unique=True to the {username!r} field (or a UniqueConstraint(fields="
        f"[{username!r}], ...) without a condition to Meta.constraints), run makemigrations "
        f"and migrate; remove duplicate values first or the migration fails."
    )
    if list(settings.AUTHENTICATION_BACKENDS) == DEFAULT_BACKENDS:
        return catalog.finding(
            "authtools.E106",
            f"{label}.{username} is the USERNAME_FIELD but is not unique (Django's "
            f"auth.E003): ModelBackend cannot tell two users with the same "
            f"{username} apart.",
            hint,
            location=where,
        )
    return catalog.finding(
        "authtools.W111",
        f"{label}.{username} is the USERNAME_FIELD but is not unique (Django's auth.W004); "
        f"only custom AUTHENTICATION_BACKENDS that handle duplicates can log users in "
        f"safely.",
        "Make sure every backend in AUTHENTICATION_BACKENDS handles duplicate usernames, "
        "or: " + hint[0].lower() + hint[1:],
        location=where,
    )


def _manager(ctx: Context, cls: Any, label: str) -> Iterator[Finding]:
    manager = cls._meta.default_manager
    if manager is None:
        return
    missing = [m for m in MANAGER_METHODS if not callable(getattr(manager, m, None))]
    if not missing:
        return
    name = manager.name or "objects"
    where = _attr_location(ctx, cls, name)
    hint = _manager_hint(ctx, cls, name, type(manager), missing)
    return_type = type(manager)
    yield catalog.finding(
        "authtools.E109",
        f"The default manager {label}.{name} "
        f"({return_type.__module__}.{return_type.__qualname__}) lacks "
        f"{', '.join(missing)}: createsuperuser, login (get_by_natural_key) and "
        f"user creation break.",
        hint,
        location=where,
    )


def _manager_hint(ctx: Context, cls: Any, name: str, current: type, missing: list[str]) -> str:
    """What to write, using what the project has: its own manager class (add the methods), a
    manager class of the model's module that has them (use it), else a new one."""
    from django.contrib.auth.base_user import BaseUserManager

    opts = cls._meta
    module = inspect.getmodule(cls)
    for value in vars(module).values() if module else ():
        if (
            isinstance(value, type)
            and issubclass(value, BaseUserManager)
            and value.__module__ == cls.__module__
            and all(callable(getattr(value, m, None)) for m in MANAGER_METHODS)
        ):
            where = _class_location(ctx, value)
            return (
                f"Write `{name} = {value.__name__}()` in {opts.object_name}: "
                f"{value.__name__}{f' ({where})' if where else ''} already has "
                f"{', '.join(MANAGER_METHODS)}."
            )
    found = _class_node(current)
    if found is not None and ctx.is_project_file(found[0]):
        own = FileLocation(ctx.display_path(found[0]), found[1].lineno)
        base = (
            ""
            if issubclass(current, BaseUserManager)
            else (" and make it a subclass of BaseUserManager (django.contrib.auth.base_user)")
        )
        return f"Add {', '.join(missing)} to {current.__name__} ({own}){base}."
    fields = {f.name for f in opts.concrete_fields}
    if cls.USERNAME_FIELD == "username" and "email" in fields:
        return (
            f"Write `{name} = UserManager()` with `from django.contrib.auth.models import "
            f"UserManager`."
        )
    args = f"self, {cls.USERNAME_FIELD}, password=None, **extra_fields"
    return (
        f"Define `class {opts.object_name}Manager(BaseUserManager)` (from "
        f"django.contrib.auth.base_user) with create_user({args}) and "
        f"create_superuser({args}), and write `{name} = {opts.object_name}Manager()`."
    )


def _properties(ctx: Context, cls: Any, label: str) -> Iterator[Finding]:
    for attr, check in (("is_anonymous", "auth.C009"), ("is_authenticated", "auth.C010")):
        value = inspect.getattr_static(cls, attr, None)
        if value is None or isinstance(value, property) or not callable(value):
            continue
        yield catalog.finding(
            "authtools.E110",
            f"{label}.{attr} is a method, not a property (Django's {check}): "
            f"`if user.{attr}:` is always true, a security hole.",
            f"Put `@property` above `def {attr}(self)`, or delete the method to inherit "
            f"AbstractBaseUser's.",
            location=_attr_location(ctx, cls, attr),
        )


# --- locations -----------------------------------------------------------------------------


def _class_node(cls: Any) -> tuple[Path, ast.ClassDef] | None:
    try:
        source = inspect.getsourcefile(cls)
    except (TypeError, OSError):
        return None
    if not source:
        return None
    path = Path(source)
    tree = parse_file(path)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            return path, node
    return None


def _class_location(ctx: Context, cls: Any) -> FileLocation | None:
    found = _class_node(cls)
    if found is None:
        return None
    return FileLocation(ctx.display_path(found[0]), found[1].lineno)


def _member_line(node: ast.ClassDef, attr: str) -> int | None:
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == attr:
            return item.lineno
        targets: list[ast.expr] = []
        if isinstance(item, ast.Assign):
            targets = item.targets
        elif isinstance(item, ast.AnnAssign):
            targets = [item.target]
        if any(isinstance(t, ast.Name) and t.id == attr for t in targets):
            return item.lineno
    return None


def _attr_location(ctx: Context, cls: Any, attr: str) -> FileLocation | None:
    """Where ATTR is set in the project's own classes of CLS's MRO, else CLS's statement."""
    for klass in cls.__mro__:
        found = _class_node(klass)
        if found is None or not ctx.is_project_file(found[0]):
            continue
        line = _member_line(found[1], attr)
        if line is not None:
            return FileLocation(ctx.display_path(found[0]), line)
    return _class_location(ctx, cls)


def _meta_location(ctx: Context, cls: Any, attr: str) -> FileLocation | None:
    found = _class_node(cls)
    if found is None:
        return None
    path, node = found
    for item in node.body:
        if isinstance(item, ast.ClassDef) and item.name == "Meta":
            line = _member_line(item, attr)
            if line is not None:
                return FileLocation(ctx.display_path(path), line)
    return FileLocation(ctx.display_path(path), node.lineno)
