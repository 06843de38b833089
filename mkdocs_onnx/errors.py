"""The project's own error types: every failure a user can cause ends in one of these."""


class MkdocsOnnxError(Exception):
    """Base class of all errors this package raises on purpose."""


class AnalysisError(MkdocsOnnxError):
    """A model file cannot be analysed; the message names the file and says why."""


class ManifestError(MkdocsOnnxError):
    """models.yml is wrong; the message names the file, line, entry and field."""


class DeviceError(MkdocsOnnxError):
    """A device profile is unknown or malformed."""
