"""The related-objects probe (W701) on real databases: users without their profiles.Profile."""

from __future__ import annotations

from .conftest import Project
from .helpers import diagnose_db

# 40 users; profiles for 28 of them, created the way sign-up code does.
USERS_AND_SOME_PROFILES = """
from django.contrib.auth import get_user_model
from profiles.models import Profile

User = get_user_model()
users = User.objects.bulk_create(User(username=f"user{i:02}") for i in range(40))
users = list(User.objects.order_by("username"))
Profile.objects.bulk_create(Profile(user=user) for user in users[:28])
"""

HINT = (
    "If every user should have one (a profile), create the missing rows in a data migration "
    "(one Profile per user without one, e.g. bulk_create) and when a user is created (a "
    "post_save signal or the sign-up code). If a missing row means something (e.g. not set up "
    "yet), do not create rows: handle the absence where user.profile is read (hasattr, or "
    "except Profile.DoesNotExist) and list it as optional: "
    'AUTHTOOLS = {"OPTIONAL_RELATIONS": ["profiles.Profile.user"]}.'
)


def related_findings(project: Project) -> tuple[int, list[dict[str, object]]]:
    return diagnose_db(project, ["related-objects"], "--fail-level", "warning")


def test_users_without_their_profile(db_project: Project) -> None:
    db_project.migrate()
    assert related_findings(db_project) == (0, [])  # no users: nothing missing

    db_project.shell(USERS_AND_SOME_PROFILES)
    assert db_project.db.query(
        "SELECT COUNT(*) FROM accounts_user u WHERE NOT EXISTS "
        "(SELECT 1 FROM profiles_profile p WHERE p.user_id = u.id)"
    ) == [(12,)]
    missing = db_project.shell(
        """
        from django.contrib.auth import get_user_model
        try:
            get_user_model().objects.get(username="user39").profile
        except get_user_model().profile.RelatedObjectDoesNotExist as exc:
            print(type(exc).__name__)
        """,
    )
    assert missing == "RelatedObjectDoesNotExist\n"

    code, findings = related_findings(db_project)
    assert code == 1
    assert findings == [
        {
            "id": "authtools.W701",
            "severity": "warning",
            "cause": "related-objects",
            "message": "12 of 40 users have no profiles.Profile "
            "(user.profile raises RelatedObjectDoesNotExist).",
            "hint": HINT,
            "location": {"table": "profiles_profile"},
            "fix_command": None,
            "because": None,
        }
    ]

    # Every user gets a profile: the warning goes.
    db_project.shell(
        """
        from django.contrib.auth import get_user_model
        from profiles.models import Profile
        for user in get_user_model().objects.filter(profile__isnull=True):
            Profile.objects.get_or_create(user=user)
        """,
    )
    assert related_findings(db_project) == (0, [])

    # The table drifts from the model (a renamed column): no traceback, nothing to count.
    db_project.db.query("ALTER TABLE profiles_profile RENAME COLUMN user_id TO owner_id")
    assert related_findings(db_project)[1] == []
