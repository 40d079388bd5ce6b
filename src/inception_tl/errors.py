"""User-facing errors: the entry points print these as a message, not as a stack trace."""


class InceptionTLError(Exception):
    """Base class for problems the user can fix (bad data, config, weights or network)."""


class ConfigError(InceptionTLError):
    """A configuration value is invalid."""


class DataError(InceptionTLError):
    """A dataset is missing, malformed or inconsistent."""


class DownloadError(DataError):
    """A file could not be fetched or did not match its checksum."""


class WeightsError(InceptionTLError):
    """Backbone weights could not be loaded or do not match the model."""


class TrainingError(InceptionTLError):
    """Training cannot go on sensibly (for example, the loss is no longer a finite number)."""


def require_extra(module: str, extra: str, purpose: str) -> None:
    """A ConfigError naming the `pip install` that brings `module` (an optional extra), when it is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"{purpose} needs {module}, which is not installed: pip install \"inception_tl[{extra}]\" "
            f"(in a clone: pip install -e \".[{extra}]\")."
        )
