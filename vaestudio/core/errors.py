"""Errors a user can act on. Their message is one line naming the file or value at fault."""


class VaeStudioError(Exception):
    """Base for every error that is the input's fault, not a bug (CLI exit code 2)."""


class DataError(VaeStudioError):
    """A dataset file is missing, corrupt or inconsistent."""


class ConfigError(VaeStudioError):
    """A hyperparameter or config file value is out of range."""


class ModelFileError(VaeStudioError):
    """A saved model is unreadable or of another architecture."""


class RunFolderError(VaeStudioError):
    """A run folder is incomplete, from another version, or cannot be written."""


class ExportError(VaeStudioError):
    """An export target cannot be written (read-only folder, full disk, ...)."""


class Cancelled(Exception):
    """A long computation (an IWAE estimate, ...) was cancelled by its caller. Not the input's fault, so
    not a VaeStudioError: whoever asked for the cancellation expects it."""
