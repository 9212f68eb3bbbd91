"""The one exception users see: a clear, one-line message naming the file and what is wrong."""


class InputError(ValueError):
    """Bad user input (a file, a folder, an option). The CLI prints its message, not a traceback."""
