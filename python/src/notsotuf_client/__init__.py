"""notsotuf_client: secure updates for a Python app through the notsotuf client executable.

    from notsotuf_client import Client, HandedOver, UpdateAvailable, exit_now, started_by_installer

    client = Client("update.json")        # the client executable is found beside the app
    if started_by_installer():            # this start follows an update: say it works
        client.confirm()
    result = client.check()
    if isinstance(result, UpdateAvailable):
        if isinstance(client.update(restart=True), HandedOver):
            exit_now()                     # the installer swaps the folders once we are gone

Standard library only. See docs/python.md in the notsotuf repository.
"""

from ._client import Client, exit_now, restart_command, started_by_installer
from ._errors import (
    ClientNotFoundError,
    ClientOutputError,
    ClientStartError,
    ClientTimeoutError,
    CommandError,
    DataError,
    InstallError,
    NotsotufError,
    TransportError,
    UsageError,
)
from ._locate import executable_names, find_executable, platform_tag, search_dirs
from ._results import (
    CheckResult,
    Confirmed,
    HandedOver,
    Installed,
    LastHandover,
    NoUpdate,
    UpdateAvailable,
    Updated,
)
from ._run import CREATE_NO_WINDOW, child_environment

__version__ = "0.1.0"

__all__ = [
    "CREATE_NO_WINDOW",
    "CheckResult",
    "Client",
    "ClientNotFoundError",
    "ClientOutputError",
    "ClientStartError",
    "ClientTimeoutError",
    "CommandError",
    "Confirmed",
    "DataError",
    "HandedOver",
    "InstallError",
    "Installed",
    "LastHandover",
    "NoUpdate",
    "NotsotufError",
    "TransportError",
    "UpdateAvailable",
    "Updated",
    "UsageError",
    "child_environment",
    "executable_names",
    "exit_now",
    "find_executable",
    "platform_tag",
    "restart_command",
    "search_dirs",
    "started_by_installer",
]
