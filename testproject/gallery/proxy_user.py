"""Broken: AUTH_USER_MODEL names a proxy; the table and the real model are Account's."""

from django.contrib.auth.models import AbstractUser


class Account(AbstractUser):
    """The concrete model that holds the rows."""


class User(Account):
    class Meta:
        proxy = True
