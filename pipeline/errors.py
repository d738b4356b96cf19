"""The errors every command reports as one line (no traceback)."""


class RoletrailError(Exception):
    """An error the CLI reports as one line (no traceback)."""


class Busy(RoletrailError):
    """Another roletrail process holds the database."""
