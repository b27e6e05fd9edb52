"""The `vaestudio` command's exit statuses, shared by the dispatch (cli.py) and the commands it runs."""

EXIT_OK = 0  # done
EXIT_UNEXPECTED = 1  # anything unexpected (a bug): one line on stderr
EXIT_BAD_INPUT = 2  # bad arguments or input, or training diverged: one line on stderr
EXIT_INTERRUPTED = 130  # stopped: Ctrl+C, SIGTERM, SIGHUP
