"""notsotuf_client against the real CLI and a real repository served on 127.0.0.1.

The repository is made with the CLI's publisher commands (conftest.py). Paths hold spaces.
"""

from __future__ import annotations

import pytest

from conftest import Repository
from notsotuf_client import Client, UsageError


def test_a_missing_config_file_is_a_usage_error_with_its_code(repository: Repository) -> None:
    with pytest.raises(UsageError) as info:
        Client(repository.root / "nowhere" / "update.json", executable=repository.cli).check()
    assert info.value.code == "CONFIG_UNREADABLE"
    assert info.value.name == "UsageError"
    assert "update.json" in info.value.message
