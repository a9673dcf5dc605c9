"""Folder names (docs/mail.md#imap): folders are configured with ``/`` between levels and
translated to the server's names, within its personal namespace and with its delimiter, after
each login."""

from __future__ import annotations

from dataclasses import dataclass


class FolderNameError(ValueError):
    """A configured folder name that the server's hierarchy cannot hold (see server_folder)."""


@dataclass(frozen=True)
class PersonalNamespace:
    """Where the account's own folders live on the server: names start with ``prefix`` (``""``
    or e.g. ``"INBOX."``) and levels are joined by ``delimiter`` (None: a flat server)."""

    prefix: str = ""
    delimiter: str | None = "/"


def server_folder(name: str, namespace: PersonalNamespace) -> str:
    """The server's name of a folder configured as ``name`` (docs/mail.md#imap, folder names).

    ``/`` in a configured name always separates levels; each level is written unchanged (the
    IMAP client encodes non-ASCII as modified UTF-7) and joined with the server's delimiter, and
    the personal namespace's prefix is put in front unless the name already begins with it.
    ``INBOX`` (any case) is the inbox and never prefixed. Raises FolderNameError for an empty
    level, a level holding the server's delimiter, or several levels on a flat server."""
    levels = name.split("/")
    if not name or any(not level for level in levels):
        raise FolderNameError(
            f"folder {name!r}: empty folder level (write levels as a/b, without a leading, "
            "trailing or doubled '/')"
        )
    if len(levels) == 1 and levels[0].upper() == "INBOX":
        return "INBOX"
    delimiter = namespace.delimiter
    if delimiter is None:
        if len(levels) > 1:
            raise FolderNameError(
                f"folder {name!r}: the server has no folder hierarchy; use a one-level name"
            )
        return namespace.prefix + name
    for level in levels:
        if delimiter in level:
            raise FolderNameError(
                f"folder {name!r}: {delimiter!r} separates folder levels on this server; "
                f"write levels with '/' (e.g. {name.replace(delimiter, '/')!r})"
            )
    prefix_levels = namespace.prefix.removesuffix(delimiter).split(delimiter)
    if namespace.prefix and _begins_with(levels, prefix_levels):
        return delimiter.join(prefix_levels + levels[len(prefix_levels) :])
    return namespace.prefix + delimiter.join(levels)


def _begins_with(levels: list[str], prefix_levels: list[str]) -> bool:
    """Whether a name's first levels are the prefix's (INBOX in any case, as IMAP has it)."""
    if len(levels) <= len(prefix_levels):  # "INBOX" alone is the inbox, not the prefix
        return False
    return all(
        a == b or (a.upper() == b.upper() == "INBOX")
        for a, b in zip(levels, prefix_levels, strict=False)
    )
