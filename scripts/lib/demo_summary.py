#!/usr/bin/env python3
"""Summary lines for scripts/demo, from wwctl's JSON output on stdin.

    wwctl status --output json | demo_summary.py migration
    wwctl sandbox status --output json | demo_summary.py droplets
"""

import json
import sys


def migration(status):
    """Print the write-freeze window and the data check of the last migration."""
    runs = [run for run in status["runs"] if run["playbook"] == "migrate"]
    if not runs:
        print("no migration run is recorded")
        return
    sync = next((step for step in runs[-1]["steps"] if step["id"] == "sync-database"), None)
    if sync is None:
        print("the migration has no database sync step")
        return
    for key, value in sync["outputs"].items():
        if key.endswith(".freeze"):
            started, synced = value.get("started_at"), value.get("synced_at")
            print(f"write freeze on the old database: from {started} until the copy was verified at {synced}")
        if key.endswith(".report"):
            tables, rows = value["tables"], value["rows"]
            print(f"data check: {tables} tables, {rows} rows, every row count and checksum equal on both servers")


def droplets(status):
    """Print the name and address of each lab host that is powered on."""
    lab = status.get("lab") or {}
    for host in lab.get("hosts", []):
        if host["power"] == "on":
            name, address = host["name"], host["address"]
            print(f"  {name:<14} {address}")


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("migration", "droplets"):
        sys.exit("usage: demo_summary.py migration|droplets < wwctl JSON output")
    status = json.load(sys.stdin)
    if sys.argv[1] == "migration":
        migration(status)
    else:
        droplets(status)


if __name__ == "__main__":
    main()
