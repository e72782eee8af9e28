"""What the API tests share."""

import threading


def read_line(stream, timeout):
    """A line from a pipe, or None once `timeout` seconds pass (a server that never starts)."""
    out = []
    reader = threading.Thread(target=lambda: out.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return out[0] if out else None
