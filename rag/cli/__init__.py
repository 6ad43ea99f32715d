"""The rag command: its subcommands, its settings file and shell completion."""
