"""Versions 2 (the bridge) and later of the demo app: it updates itself with notsotuf.

The bundle holds this file as app.py, version.txt, the notsotuf_client package, the notsotuf
client executable (here a stand-in script that runs our CLI: NOTSOTUF_CLIENT), notsotuf's root.json
and update.json. Version 2 reaches users through tufup (published into the tufup repository as
usual); from then on, updates come from the notsotuf repository.
"""

import os
import sys

sys.dont_write_bytecode = True
APP_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, APP_DIR)

from notsotuf_client import Client, UpdateAvailable  # noqa: E402


def main():
    with open(os.path.join(APP_DIR, "version.txt")) as f:
        version = f.read().strip()
    print(f"demo {version} (notsotuf client)", flush=True)
    client = Client(os.path.join(APP_DIR, "update.json"))
    result = client.check()
    if not isinstance(result, UpdateAvailable):
        print("no update", flush=True)
        return 0
    print(f"update {result.version} by {result.kind}", flush=True)
    client.update(restart=False)
    print(f"installed {result.version}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
