"""Check that `make demo` can listen on its port, before anything is built.

    python tools/check_port.py 8600

Standard library only (it runs before the venv exists). Exits 0 when 127.0.0.1:PORT can be
bound (or PORT is 0: any free port), else 2 with a sentence saying why and what to do.
"""

from __future__ import annotations

import socket
import sys


def main(argv: list[str]) -> int:
    value = argv[1] if len(argv) > 1 else ""
    if not value.isdigit() or int(value) > 65535:
        print(f"make demo: PORT must be a number from 0 to 65535, not {value!r}", file=sys.stderr)
        return 2
    port = int(value)
    if port == 0:
        return 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as err:
            print(
                f"make demo: cannot listen on 127.0.0.1:{port}: {err.strerror}; "
                "choose another port: make demo PORT=8601 (PORT=0 picks a free one)",
                file=sys.stderr,
            )
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
