#!/usr/bin/env python3
"""Summary lines for scripts/demo, from wwctl's JSON output on stdin.

    wwctl status --output json | demo_summary.py migration
    wwctl sandbox status --output json | demo_summary.py droplets
"""

import json
import sys
from datetime import datetime


def parse_time(text):
    """Parse an RFC 3339 time from the journal, or return None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def seconds_between(start, end):
    """Format the time from `start` to `end` (journal times) as seconds, or return None."""
    started, ended = parse_time(start), parse_time(end)
    if started is None or ended is None:
        return None
    return f"{(ended - started).total_seconds():.1f} s"


def dns_moved_at(run):
    """Return when the run's DNS switch updated its last record, or None."""
    switch = next((step for step in run["steps"] if step["id"] == "switch-dns"), None)
    if switch is None:
        return None
    times = [
        value["at"]
        for key, value in switch["outputs"].items()
        if key.startswith("switched.") and isinstance(value, dict) and value.get("at")
    ]
    return max(times, key=parse_time) if times else None


def freeze(value, moved):
    """Print the write freeze: when it started, when the copy was verified, and when DNS moved."""
    started, synced = value.get("started_at"), value.get("synced_at")
    to_verified = seconds_between(started, synced)
    verified = f"{to_verified} later, at {synced}" if to_verified else f"at {synced}"
    print(f"write freeze on the old database: started at {started}; the copy was verified {verified}")
    if moved is None:
        print("writes stay refused on the old server after the copy; the journal shows no DNS switch yet")
        return
    to_moved = seconds_between(started, moved)
    frozen_for = f", {to_moved} after the freeze started" if to_moved else ""
    print(
        f"writes stay refused on the old server after the copy too: DNS moved at {moved}{frozen_for},"
        " and the migration does not lift the freeze"
    )


def count(number, noun):
    """Format `number` with `noun`, adding `s` unless the number is one."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


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
    moved = dns_moved_at(runs[-1])
    for key, value in sync["outputs"].items():
        if key.endswith(".freeze"):
            freeze(value, moved)
        if key.endswith(".report"):
            tables, rows = value["tables"], value["rows"]
            print(
                f"data check: {count(tables, 'table')}, {count(rows, 'row')},"
                " every row count and checksum equal on both servers"
            )


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
