"""Errors zoo reports to the user as one line (``zoo: error: ...``, exit status 2)."""


class UserError(Exception):
    """A mistake the user can fix: a bad recipe, an unknown name, missing data.

    The message is printed as ``zoo: error: <message>`` with no traceback, so it must name
    the file, line, key or path at fault on its own.
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class RunFailure(Exception):
    """A failure while a run was going (not the user's input): exit status 1, one line."""

    exit_code = 1


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during a run: exit status 130, one line saying how to go on; SIGTERM
    (``Terminated``) becomes one too, with exit status 143.

    ``message`` says where the run stopped and the command that resumes it, e.g.
    ``interrupted during epoch 4; resume with: zoo run --resume runs/x/20250101-120000``.
    """

    exit_code = 130

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class Terminated(KeyboardInterrupt):
    """SIGTERM during ``zoo run`` (``kill``, a job scheduler, ``docker stop``) before the run was
    set up, raised by the handler ``zoo.run`` installs: exit status 143 (128 + SIGTERM). Once the
    run exists the handler raises an ``Interrupted`` (exit status 143) saying where it stopped."""

    exit_code = 143
    message = "terminated"
