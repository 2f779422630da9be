"""Broken: a plain model, not built on AbstractBaseUser: no password, USERNAME_FIELD, manager."""

from django.db import models


class User(models.Model):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)

    def __str__(self):
        return self.email
