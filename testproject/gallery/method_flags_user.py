"""Broken: is_anonymous and is_authenticated as methods: `if user.is_anonymous:` is always true."""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    def is_anonymous(self):
        return False

    def is_authenticated(self):
        return True
