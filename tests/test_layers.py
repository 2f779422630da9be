"""One-way packages: no module of authtools imports one that comes later in its package.

Each package's modules are listed below in pipeline order, one comment per stage: a module may
import the ones above it (in its own package, or whole earlier packages), never one below it,
at the top of the file or lazily inside a function (``if TYPE_CHECKING:`` included). A
package's ``__init__`` is its facade: it may import any of its modules, and a module inside the
package may not import it (the facade comes last), unless the list puts ``__init__`` first (the
root package's metadata). On top of the order, the layers: the diagnosis never imports a
procedure or a front end, a procedure never imports a front end, and the database helpers
import none of the three.

The sources are read with ``ast`` only: nothing is imported, no Django, no database.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from .conftest import REPO

ORDER: dict[str, list[str]] = {
    "authtools": [
        "__init__",  # metadata first: __version__, DISTRIBUTION (diagnose() a lazy facade)
        # plain helpers, no Django set up
        "pipe",
        "manage_py",
        # layer 1, the database's backend differences
        "db",
        # layer 2, diagnosis: read-only probes and the findings
        "diagnosis",
        "render",
        "checks",
        "apps",
        # layer 3, procedures: plans on one runner; the fixes the diagnosis prints
        "procedures",
        "fixes",
        # layer 4, front ends
        "management",
        "__main__",
    ],
    "authtools.db": [
        "connection",  # which server, which driver
        "introspect",  # the catalog in one read per backend: the Snapshot and its readers
        "snapshot",  # one snapshot per run: pinned, followed through renames
        "catalog",  # foreign and primary keys from the snapshot
        "names",  # Django's generated names, read back (the table they were made under)
        "fresh",  # what a fresh migrate of a model builds (Django's schema editor, collecting)
        "schema",  # DDL, one function per backend difference
        "locks",  # the tables a transaction locks, in order
    ],
    "authtools.diagnosis": [
        # the data: findings and their catalog of ids
        "report",
        "catalog",
        "causes",
        # the project as found: boot phases, the context probes read
        "boot",
        "context",
        "source",
        "lookup",
        "migration_state",
        "drivers",
        # the probes
        "probes",
    ],
    "authtools.diagnosis.probes": [
        # the database first: other probes reuse its connection check
        "database",
        "contenttypes",
        "related",
        "migrations",
        # the project's code
        "model",
        "setting",
        "imports",
        "references",
    ],
    "authtools.procedures": [
        # the protocol every procedure shares
        "schema",  # the shape of backup documents
        "backup",
        "plan",
        "runner",
        "childproc",
        "migration_files",
        # the procedures: none imports another
        "contenttypes",
        "reset",
        "swap",
        "fixcode",
    ],
    "authtools.procedures.contenttypes": [
        "words",
        # inspect
        "installed",
        "sql",
        "snapshot",
        "references",
        "remove",  # deletion, and the cascade counts inspect reads
        "inspect",
        # act
        "create",
        "remapping",
        # verify, back up, plan, restore
        "verification",
        "validation",  # a backup's rows checked against the live tables
        "backup",
        "plan",
        "restore",
    ],
    "authtools.procedures.reset": [
        "spec",  # the data
        # inspect
        "project",
        "history",
        "tables",
        "inspection",
        # the steps and their checks
        "commands",
        "steps",
        "verification",
        "backup",
        # plan, restore
        "plan",
        "restore",
        "interrupted",  # the next run after a killed one: which backup, how to get out
    ],
    "authtools.procedures.swap": [
        "spec",  # the data every stage passes on
        # 1. inspect: the models, the catalog, the diagnosis's causes of a refusal
        "causes",
        "inspect",
        # 2. decide: the key's route, the migrations to record or generate, the renames
        "keys",
        "decide",
        # 3. generate: the two-step migrations
        "migrations",
        # 4. plan: the steps as data; preflight runs stages 1-4 and returns the spec
        "widened_names",
        "plan",
        "preflight",
        # 5. run and verify
        "verify",
        "steps",
        "run",
        # beside the chain: --scaffold and --write-settings prepare the project
        "scaffold",
        "settings_edit",
    ],
    "authtools.procedures.fixcode": [
        # rewrite one text: splice, syntax, the tree, the uses, the imports
        "edits",
        "syntax",
        "tree",
        "uses",
        "python",
        "templates",
        # the project's files, then the plan
        "survey",
        "plan",
    ],
    "authtools.management": [
        "conventions",
        "base",
        "commands",
    ],
    "authtools.management.commands": [
        # the commands: none imports another
        "diagnose_user_model",
        "fix_user_model_code",
        "rebuild_contenttypes",
        "reset_user_migrations",
        "swap_user_model",
    ],
}

# Packages a package must never import, whatever the order says.
LAYERS: dict[str, tuple[str, ...]] = {
    "authtools.db": ("authtools.diagnosis", "authtools.procedures", "authtools.management"),
    "authtools.diagnosis": ("authtools.procedures", "authtools.management"),
    "authtools.procedures": ("authtools.management",),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    path: Path
    line: int
    target: str  # the imported module (or package), dotted


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module under ROOT (a package's is its __init__.py)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(root: Path) -> list[Import]:
    """Every import of ROOT's package inside it: top-level, lazy and under TYPE_CHECKING."""
    known = modules(root)
    top = root.name
    out = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([base] if base else [])])
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in known else base)
            for target in targets:
                if target == top or target.startswith(f"{top}."):
                    out.append(Import(name, path, node.lineno, target))
    return sorted(out, key=lambda i: (str(i.path), i.line))


def _unit(name: str, package: str) -> str:
    """The member of PACKAGE that NAME is or lies in; '__init__' for the package itself."""
    if name == package:
        return "__init__"
    return name[len(package) + 1 :].split(".")[0]


def order_violations(root: Path, order: dict[str, list[str]]) -> list[str]:
    known = modules(root)
    problems = []
    packages = sorted(n for n, p in known.items() if p.name == "__init__.py")
    for package in packages:
        members = sorted(
            {_unit(n, package) for n in known if n.startswith(f"{package}.")} - {"__init__"}
        )
        listed = [m for m in order.get(package, []) if m != "__init__"]
        for member in sorted(set(members) - set(listed)):
            problems.append(f"{package}.{member} is missing from the order of {package}")
        for member in sorted(set(listed) - set(members)):
            problems.append(f"the order of {package} lists {member}, which does not exist")
    for imp in imports(root):
        # The innermost package holding both ends: where the two differ.
        common = [p for p in packages if _inside(imp.module, p) and _inside(imp.target, p)]
        package = max(common, key=len)
        here, there = _unit(imp.module, package), _unit(imp.target, package)
        if here == "__init__" or here == there:
            continue  # a facade imports its own modules; a module its own package's inside
        listed = order.get(package, [])
        if there == "__init__" and listed[:1] != ["__init__"]:
            problems.append(
                f"{_shown(imp, root)} imports {imp.target}, the facade of its own package "
                f"{package}: import the module that defines the name"
            )
        elif there in listed and here in listed and listed.index(there) > listed.index(here):
            problems.append(
                f"{_shown(imp, root)} imports {imp.target}, which comes later in {package} "
                f"({there} after {here})"
            )
    return problems


def layer_violations(root: Path, layers: dict[str, tuple[str, ...]]) -> list[str]:
    problems = []
    for imp in imports(root):
        for layer, forbidden in layers.items():
            if not _inside(imp.module, layer):
                continue
            for other in forbidden:
                if _inside(imp.target, other):
                    problems.append(
                        f"{_shown(imp, root)} imports {imp.target}: {layer} must not import {other}"
                    )
    return problems


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def _shown(imp: Import, root: Path) -> str:
    return f"{imp.path.relative_to(root.parent)}:{imp.line}"


def test_every_package_is_one_way() -> None:
    assert order_violations(REPO / "authtools", ORDER) == []


def test_layers() -> None:
    assert layer_violations(REPO / "authtools", LAYERS) == []


def test_violations_are_named_with_file_line_and_later_module(tmp_path: Path) -> None:
    """The checks themselves, on a small package: a later module imported at the top and
    lazily, the package's facade, a module the order forgets, a layer crossed."""
    files = {
        "pkg/__init__.py": "from pkg.b import run\n",
        "pkg/low/__init__.py": "",
        "pkg/low/x.py": "def f():\n    from pkg.high import y\n",
        "pkg/high/__init__.py": "",
        "pkg/high/y.py": "",
        "pkg/a.py": "import os\nfrom pkg import b\n\n\ndef f():\n    from pkg.b import run\n",
        "pkg/b.py": "from . import a\nfrom pkg import run\n\n\ndef run():\n    pass\n",
        "pkg/c.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    order = {"pkg": ["low", "high", "a", "b"], "pkg.low": ["x"], "pkg.high": ["y"]}
    assert order_violations(tmp_path / "pkg", order) == [
        "pkg.c is missing from the order of pkg",
        "pkg/a.py:2 imports pkg.b, which comes later in pkg (b after a)",
        "pkg/a.py:6 imports pkg.b, which comes later in pkg (b after a)",
        "pkg/b.py:2 imports pkg, the facade of its own package pkg: import the module that "
        "defines the name",
        "pkg/low/x.py:2 imports pkg.high.y, which comes later in pkg (high after low)",
    ]
    assert layer_violations(tmp_path / "pkg", {"pkg.low": ("pkg.high",)}) == [
        "pkg/low/x.py:2 imports pkg.high.y: pkg.low must not import pkg.high"
    ]
