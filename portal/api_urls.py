"""The staff API under /api/v1/ (filled in by portal/api.py)."""

urlpatterns: list = []
