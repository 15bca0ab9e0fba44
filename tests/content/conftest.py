import shutil
from pathlib import Path

import pytest
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from content.services import LIBRARY_ROOT, library_load


@pytest.fixture
def library(db, library_parsed):
    """The real library, loaded."""
    return library_load(parsed=library_parsed)


@pytest.fixture
def library_copy(tmp_path) -> Path:
    """A writable copy of content/library/ to break or edit."""
    root = tmp_path / "library"
    shutil.copytree(LIBRARY_ROOT, root)
    return root


@pytest.fixture
def api_key(db) -> str:
    _, key = APIKey.objects.create_key(name="test website")
    return key


@pytest.fixture
def api(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    return client
