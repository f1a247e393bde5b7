"""The exceptions of notsotuf_client.

Every exception is a :class:`NotsotufError` with the three fields the notsotuf CLI puts in its
``--json`` error object: ``code`` (stable, for programs), ``name`` (the CLI's error class) and
``message`` (what happened and what to do). Errors that the CLI reported are
:class:`CommandError` (or one of its subclasses, chosen by ``name``, split by who must act);
errors about running the CLI itself (missing, not starting, printing something that is not its
JSON, running too long) are raised by this package with codes starting with ``CLIENT_``.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Type


class NotsotufError(Exception):
    """Base class of every error this package raises."""

    code: str
    name: str
    message: str

    def __init__(self, code: str, message: str, name: Optional[str] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.name = name if name is not None else type(self).__name__

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"


class CommandError(NotsotufError):
    """The notsotuf CLI ran and reported a failure (its JSON error object).

    ``exit_code`` is the CLI's exit code (1: failure, 2: bad usage), ``stderr`` what it wrote on
    standard error (for a log file), ``command`` the CLI command that failed (``check``...).
    """

    exit_code: int
    stderr: str
    command: str

    def __init__(
        self,
        code: str,
        message: str,
        name: Optional[str] = None,
        *,
        exit_code: int = 1,
        stderr: str = "",
        command: str = "",
    ) -> None:
        super().__init__(code, message, name)
        self.exit_code = exit_code
        self.stderr = stderr
        self.command = command


class UsageError(CommandError):
    """Bad settings or arguments: fix update.json or the call (CLI exit 2)."""


class DataError(CommandError):
    """The repository sent data that was refused (bad signature, hash, metadata): nothing was installed."""


class TransportError(CommandError):
    """The repository could not be reached or stopped answering: try again later."""


class InstallError(CommandError):
    """Installing failed (disk, permissions, another instance): the installed app is unchanged."""


class ClientNotFoundError(NotsotufError):
    """The notsotuf client executable is not where it was looked for (``searched`` lists the paths)."""

    searched: Sequence[str]

    def __init__(self, message: str, searched: Sequence[str] = ()) -> None:
        super().__init__("CLIENT_NOT_FOUND", message)
        self.searched = tuple(searched)


class ClientStartError(NotsotufError):
    """The client executable exists but could not be started (permissions, wrong platform)."""

    def __init__(self, message: str) -> None:
        super().__init__("CLIENT_START_FAILED", message)


class ClientOutputError(NotsotufError):
    """The client printed something that is not its JSON answer (not notsotuf, or too old).

    ``exit_code``, ``stdout`` and ``stderr`` are what the process gave, for a log file.
    """

    exit_code: Optional[int]
    stdout: str
    stderr: str

    def __init__(self, message: str, *, exit_code: Optional[int], stdout: str, stderr: str) -> None:
        super().__init__("CLIENT_BAD_OUTPUT", message)
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr


class ClientTimeoutError(NotsotufError):
    """The client did not finish within the time limit given to :class:`Client`; it was stopped."""

    def __init__(self, message: str) -> None:
        super().__init__("CLIENT_TIMEOUT", message)


_BY_NAME: Dict[str, Type[CommandError]] = {
    "UsageError": UsageError,
    "DataError": DataError,
    "TransportError": TransportError,
    "InstallError": InstallError,
}


def command_error_class(name: str) -> Type[CommandError]:
    """The exception class for the CLI's error class ``name`` (CommandError for any other name)."""
    return _BY_NAME.get(name, CommandError)
