"""Recovery procedures: each one builds a Plan of Steps; one Runner executes any plan.

reset_user_migrations, rebuild_contenttypes and swap_user_model are different plans on the
same runner (authtools.procedures.runner): plan first, backup, one transaction where the
backend allows DDL in transactions, a journal where it does not, then verification.
"""
