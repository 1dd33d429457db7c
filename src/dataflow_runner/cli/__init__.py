"""The command line: click commands, and the one place errors become exit codes."""
