"""Shell completion for the `rag` command, written from its own argument parser (bash, and zsh through bashcompinit).

``eval "$(rag completion bash)"`` in ~/.bashrc, or ``eval "$(rag completion zsh)"`` in ~/.zshrc.
Commands and their options complete; an option's value and a positional argument complete as
file names, except where the choices are fixed (``rag completion bash|zsh``).
"""

from __future__ import annotations

import argparse
import shlex
from typing import Literal

_BASH = """\
# rag shell completion (bash); written by `rag completion bash`
_rag_complete() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=( $(compgen -W {commands} -- "$cur") )
        return
    fi
    local options=""
    local choices=""
    case "${{COMP_WORDS[1]}}" in
{cases}
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=( $(compgen -W "$options" -- "$cur") )
    elif [ -n "$choices" ] && [ "$COMP_CWORD" -eq 2 ]; then
        COMPREPLY=( $(compgen -W "$choices" -- "$cur") )
    else
        COMPREPLY=( $(compgen -f -- "$cur") )
    fi
}}
complete -o filenames -o bashdefault -F _rag_complete rag
"""
_ZSH_HEAD = """\
# rag shell completion (zsh, through bash's completion); written by `rag completion zsh`
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
"""


def completion_script(parser: argparse.ArgumentParser, shell: Literal["bash", "zsh"]) -> str:
    """The completion script for ``shell``, listing the commands and options ``parser`` accepts."""
    commands = _subcommands(parser)
    cases = []
    for name, command in sorted(commands.items()):
        options = sorted(o for action in command._actions for o in action.option_strings)
        choices = [str(c) for a in command._actions if not a.option_strings and a.choices for c in a.choices]
        cases.append(
            f"        {shlex.quote(name)}) options={shlex.quote(' '.join(options))}; "
            f"choices={shlex.quote(' '.join(choices))} ;;"
        )
    top = sorted(commands) + sorted(o for action in parser._actions for o in action.option_strings)
    bash = _BASH.format(commands=shlex.quote(" ".join(top)), cases="\n".join(cases))
    return bash if shell == "bash" else _ZSH_HEAD + bash


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}
