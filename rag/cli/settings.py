"""The user's settings file for the `rag` command: corpus, index, k, threshold and model.

Read from ``rag.toml`` in the working folder, else the ``[tool.rag]`` table of its
``pyproject.toml``; under either, ``~/.config/rag/rag.toml`` (``$XDG_CONFIG_HOME/rag/rag.toml``)
for what the folder's file leaves out. A command-line option wins over both, and ``$RAG_INDEX``
over the files' ``index``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from rag.errors import RagError

# Each key, the types it takes (an int is a number too, for threshold = 1) and how to name them.
KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "corpus": ((str,), "a folder name (a string)"),
    "index": ((str,), "a folder name (a string)"),
    "k": ((int,), "a whole number"),
    "threshold": ((float, int), "a number from 0 to 1"),
    "model": ((str,), "a model folder or name (a string)"),
}


class ConfigFileError(RagError):
    """A settings file that cannot be read, or holds a key or value rag does not know."""


def user_config_path() -> Path:
    """Where the user's own settings live: ``$XDG_CONFIG_HOME/rag/rag.toml`` or ``~/.config/rag/rag.toml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "rag" / "rag.toml"


def load_settings(folder: Path | None = None) -> dict[str, Any]:
    """The settings that apply in ``folder`` (default: the working folder), the folder's over the user's.

    Raises:
        ConfigFileError: A file is not valid TOML, or holds an unknown key or a value of the wrong type.
    """
    folder = folder or Path.cwd()
    settings = _read(user_config_path(), table=None)
    local = folder / "rag.toml"
    if local.is_file():
        settings.update(_read(local, table=None))
    elif (folder / "pyproject.toml").is_file():
        settings.update(_read(folder / "pyproject.toml", table=("tool", "rag")))
    return settings


def _read(path: Path, table: tuple[str, ...] | None) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigFileError(f"cannot read the settings file {path} ({error})") from None
    where = str(path)
    for name in table or ():
        data = data.get(name, {}) if isinstance(data, dict) else {}
        where = f"{path} [{'.'.join(table or ())}]"
    if not isinstance(data, dict):
        raise ConfigFileError(f"{where} must be a table of settings")
    for key, value in data.items():
        if key not in KEYS:
            raise ConfigFileError(f"{where}: unknown setting {key!r} (known: {', '.join(KEYS)})")
        types, kind = KEYS[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ConfigFileError(f"{where}: {key} must be {kind}, got {value!r}")
    return dict(data)
