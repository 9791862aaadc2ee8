"""Exception types of ofa2-zoo: every one is defined here, grouped by the stage that raises it.

Every error a user can cause by giving bad input derives from :class:`Ofa2Error`; the CLI
turns those into a one-line message and exit code 2 instead of a traceback. Each class also
derives from the builtin exception a Python caller would expect (``ValueError`` for bad
values, ``FileNotFoundError`` for missing files) so ordinary ``except`` clauses keep working.
Each stage also re-exports its own (``ofa2_zoo.package.PackageError`` ...), and a module that
raises one imports it from here.
"""

from __future__ import annotations

import json


class Ofa2Error(Exception):
    """Base class for errors caused by the caller's input, not by a bug."""


class ArchError(Ofa2Error, ValueError):
    """An architecture spec is malformed or lies outside its search space."""


class SpaceError(Ofa2Error, ValueError):
    """A search-space definition is inconsistent or unknown."""


class CheckpointError(Ofa2Error, ValueError):
    """A weights file cannot be read safely or does not fit the network."""


class DatasetError(Ofa2Error, ValueError):
    """A dataset is missing, empty, corrupt or does not fit the search space."""


class AssetError(Ofa2Error, OSError):
    """An asset (checkpoint, predictor, lookup table) is missing or fails its checksum."""


# ---------------------------------------------------------------------------- foundation
class OutputPathError(Ofa2Error, NotADirectoryError):
    """An output folder given by the user is a file (or lies under one)."""


class OutputFileError(Ofa2Error, IsADirectoryError):
    """An output file given by the user is an existing folder."""


class FileTooLarge(ValueError):
    """A file read by :func:`ofa2_zoo._io.read_json_capped` has more bytes than its kind may have
    (each reader turns it into its own one-line error)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size:,} bytes, more than {limit:,}")
        self.size, self.limit = size, limit


class JsonTooDeep(json.JSONDecodeError):
    """JSON nested deeper than Python's recursion limit (:func:`ofa2_zoo._io.json_loads`): malformed
    JSON to every reader that catches :class:`json.JSONDecodeError`."""


class TextError(Ofa2Error, ValueError):
    """Text meant for cards is not plain text, or a license is not an SPDX id."""


# ---------------------------------------------------------------------------- assets
class DownloadError(AssetError):
    """A download was refused or stopped: unsafe paths, too many bytes, a stall, the deadline."""


class DownloadTooLarge(DownloadError):
    """The server sent more bytes than the file may have (the partial download is deleted)."""


class DownloadTimeout(DownloadError):
    """No byte arrived for the stall time, or the deadline passed (the partial download is kept)."""


# ---------------------------------------------------------------------------- objectives, profiles
class AccuracySourceError(Ofa2Error, ValueError):
    """An accuracy source is unknown or does not fit the search space it is asked about."""


class ProfileError(Ofa2Error, ValueError):
    """A hardware profile is malformed, missing, or points at missing/corrupt data."""


class LookupTableError(Ofa2Error, KeyError):
    """A lookup table lacks an operator or cannot be read."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class BackendUnavailable(Ofa2Error, RuntimeError):
    """The requested measurement backend cannot run on this machine."""


# ---------------------------------------------------------------------------- front, search, explorer
class FrontError(Ofa2Error, ValueError):
    """A front file is missing, corrupt or inconsistent."""


class SearchError(Ofa2Error, ValueError):
    """Bad search options, or a search that cannot produce a front."""


class AlgorithmError(Ofa2Error, ValueError):
    """An unknown algorithm or an impossible setting."""


class ObjectiveError(Ofa2Error, ValueError):
    """An objective is unknown or has no source."""


class ExecutorError(Ofa2Error, ValueError):
    """An executor is unknown or cannot start."""


class ExplorerError(Ofa2Error, ValueError):
    """An explorer page cannot be built or read back."""


# ---------------------------------------------------------------------------- package
class PackageError(Ofa2Error, RuntimeError):
    """Packaging cannot go on: bad input (front, supernet, data, output folder) or a failed check."""


class ParityError(PackageError):
    """An exported file does not compute what the PyTorch model computes."""


class ContainmentError(PackageError):
    """A package file is a symbolic link, lies outside the package folder, or is not a regular file."""


class RuntimeUnavailable(PackageError):
    """A runtime's optional packages are not installed."""


# ---------------------------------------------------------------------------- zoo, publish
class RegistryError(Ofa2Error, ValueError):
    """A zoo index, package or model name cannot be resolved."""


class ZooWarning(UserWarning):
    """A zoo source was skipped (bad index file, moved package); the others still register."""


class PublishError(Ofa2Error, RuntimeError):
    """Publishing was refused before anything was written (bad package, name, token, tag)."""


class TagConflict(PublishError):
    """A version tag already exists with different content: versions are immutable."""


class PublishFailed(PublishError):
    """The Hub failed part-way (after retries). ``result``, a
    :class:`~ofa2_zoo.publish.publish.PublishResult`, says what was and wasn't published."""

    def __init__(self, message: str, result: object):
        super().__init__(message)
        self.result = result


class PullError(Ofa2Error, RuntimeError):
    """A model cannot be pulled: unknown name or version, not cached while offline, mismatch."""


class MalformedReply(ValueError):
    """The Hub answered, but not with the reply asked for (not JSON, another shape, a commit id
    that is not one). Never retried, never taken as an answer: the operation fails."""


class HubUnavailable(Exception):
    """A Hub operation still failed after the retries (or failed in a way retrying cannot fix)."""

    def __init__(self, what: str, cause: BaseException, attempts: int):
        self.what, self.cause, self.attempts = what, cause, attempts
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"{what} failed{tries}: {describe(cause)}")


# ---------------------------------------------------------------------------- Ctrl-C
class Interrupted(KeyboardInterrupt):
    """Ctrl-C with a note for the user (what was kept, how to go on); the ``ofa2`` command
    prints the note after "interrupted (Ctrl-C)" and exits 130 as for any Ctrl-C."""

    #: The note of the newest one raised (typer keeps only the exit code of an interrupt).
    last_note: str | None = None

    def __init__(self, note: str = ""):
        super().__init__(note)
        Interrupted.last_note = note or None


# Longest piece of user input quoted in an error message; longer input is cut with "...".
QUOTE_LIMIT = 80


def shorten(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to about ``limit`` characters, computed without building the full repr.

    Error messages quote what the user gave; a 400 KB file or an exponentially aliased YAML
    value must not be formatted whole (that is how a bad input turns into a ``MemoryError``).
    :mod:`reprlib` bounds the work as well as the output.
    """
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxdict, r.maxlist, r.maxtuple, r.maxset = 3, 4, 6, 6, 6
    r.maxstring = r.maxother = r.maxlong = limit
    text = r.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` itself (no quotes added), cut to ``limit`` characters with "..."."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe(exc: BaseException) -> str:
    """One line for an error from the Hub: its type and first line (no headers, no token)."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        server = exc.server_message or exc.response.headers.get("X-Error-Message") or ""
        return f"HTTP {exc.response.status_code}" + (f" ({server.strip().splitlines()[0]})" if server else "")
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}" + (f": {text[0]}" if text else "")
