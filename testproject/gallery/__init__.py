"""A gallery of user models: each module is a complete ``accounts/models.py`` variant.

Tests copy one over the test project's accounts/models.py (they never import these modules
here). The healthy ones must diagnose clean; the broken ones show one problem each.
"""
