#!/usr/bin/env python3
"""The parts of bench/run that are easier in Python than in shell.

    bench.py addresses                      droplet name -> address, as JSON
    bench.py fill DROPLETS RECORDS ZONE     add droplets without lab hosts and records
    bench.py route-counts BEFORE AFTER      requests by route between two stats
    bench.py ansible RENDER_DIR FILES_DIR OUT_DIR HOST...
                                            copy each host's files from the host into
                                            FILES_DIR and write Ansible's inventory
    bench.py report RESULTS_DIR OUT         write BENCHMARKS.md

The API calls read WWCTL_API_URL and DIGITALOCEAN_TOKEN; the SSH calls read
WWCTL_SSH_IDENTITY and WWCTL_STATE_DIR (for wwctl's known_hosts).
"""

import http.client
import io
import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import tarfile
import urllib.parse


class Api:
    """A keep-alive connection to the emulator with the bench account's token."""

    def __init__(self):
        url = urllib.parse.urlparse(os.environ["WWCTL_API_URL"])
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        self.headers = {
            "Authorization": "Bearer " + os.environ["DIGITALOCEAN_TOKEN"],
            "Content-Type": "application/json",
        }

    def call(self, method, path, body=None, expect=(200,)):
        payload = None if body is None else json.dumps(body)
        self.connection.request(method, path, body=payload, headers=self.headers)
        response = self.connection.getresponse()
        text = response.read()
        if response.status not in expect:
            sys.exit(f"error: {method} {path} answered {response.status}: {text[:300]!r}")
        return json.loads(text) if text else None


def addresses():
    """Print each droplet's public address by name, as JSON."""
    api = Api()
    found = {}
    page = 1
    while True:
        reply = api.call("GET", f"/v2/droplets?per_page=200&page={page}")
        for droplet in reply["droplets"]:
            for network in droplet["networks"]["v4"]:
                if network["type"] == "public":
                    found[droplet["name"]] = network["ip_address"]
        if not reply.get("links", {}).get("pages", {}).get("next"):
            break
        page += 1
    print(json.dumps(found, indent=2, sort_keys=True))


def fill(droplets, records, zone):
    """Create droplets without lab hosts (the account's `hostless_droplets`
    setting is on only while they are created) and A records in the zone."""
    api = Api()
    api.call("PUT", "/_sandbox/settings", {"hostless_droplets": True, "droplet_limit": droplets + 100,
                                           "rate_limit_per_hour": 1_000_000, "rate_limit_per_minute": 100_000})
    try:
        for start in range(0, droplets, 10):
            names = [f"filler-{number}" for number in range(start, min(start + 10, droplets))]
            api.call("POST", "/v2/droplets", {
                "names": names, "region": "nyc3", "size": "s-1vcpu-1gb",
                "image": "debian-12-x64", "tags": ["bench-filler"],
            }, expect=(202,))
    finally:
        api.call("PUT", "/_sandbox/settings", {"hostless_droplets": False})
    for number in range(records):
        address = f"192.0.2.{number % 250 + 1}"
        api.call("POST", f"/v2/domains/{zone}/records", {
            "type": "A", "name": f"filler-{number}", "data": address, "ttl": 3600,
        }, expect=(201,))


def route_counts(before_path, after_path):
    """Print the requests by route made between two `/_sandbox/stats` reads."""
    before = json.loads(pathlib.Path(before_path).read_text())["routes"]
    after = json.loads(pathlib.Path(after_path).read_text())["routes"]
    counts = {route: after[route] - before.get(route, 0) for route in after
              if after[route] - before.get(route, 0) > 0}
    print(json.dumps(counts, indent=2, sort_keys=True))


def ssh(address, *argv, stdin=None):
    """Run `argv` on a lab host as root, checked against wwctl's known_hosts."""
    command = [
        "ssh", "-i", os.environ["WWCTL_SSH_IDENTITY"],
        "-o", "UserKnownHostsFile=" + os.path.join(os.environ["WWCTL_STATE_DIR"], "known_hosts"),
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        f"root@{address}", "--", *argv,
    ]
    return subprocess.run(command, input=stdin, capture_output=True, check=True).stdout


def reader_of(path, app_dirs):
    """Return what reads the file at `path`, or None for a file nothing reloads."""
    if path.startswith("/etc/nginx/"):
        return "nginx"
    if path.startswith("/etc/mysql/"):
        return "database"
    if path.startswith("/etc/systemd/system/") and path.endswith(".service"):
        return "unit"
    if any(path.startswith(folder + "/") for folder in app_dirs):
        return "app"
    return None


def rendered_paths(render_dir, host):
    """Return the paths wwctl renders for `host`, and each app folder's unit."""
    root = pathlib.Path(render_dir) / host
    paths = sorted("/" + str(file.relative_to(root)) for file in root.rglob("*") if file.is_file())
    paths = [path for path in paths if not path.startswith("/var/lib/cloud/")]
    services = {}
    for path in paths:
        if path.startswith("/etc/systemd/system/") and path.endswith(".service"):
            for line in (root / path.lstrip("/")).read_text().splitlines():
                if line.startswith("WorkingDirectory="):
                    services[line.split("=", 1)[1].strip().rstrip("/")] = pathlib.Path(path).stem
    return paths, services


def ansible(render_dir, files_dir, out_dir, hosts):
    """Copy each host's files, as wwctl wrote them, into `files_dir`, and
    write the inventory and host variables for bench/ansible/converge.yml.
    The files stay in memory under /dev/shm because app settings contain
    database passwords."""
    all_addresses = json.loads(subprocess.run([sys.executable, __file__, "addresses"],
                                              capture_output=True, check=True).stdout)
    out = pathlib.Path(out_dir)
    (out / "host_vars").mkdir(parents=True, exist_ok=True)
    inventory = ["[all]"]
    for host in hosts:
        address = all_addresses[host]
        paths, services = rendered_paths(render_dir, host)
        archive = ssh(address, "tar", "-C", "/", "-cf", "-", *[path.lstrip("/") for path in paths])
        files = []
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                path = "/" + member.name
                reader = reader_of(path, services)
                if reader is None:
                    continue
                source = pathlib.Path(files_dir) / host / member.name
                source.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                source.write_bytes(tar.extractfile(member).read())
                source.chmod(0o600)
                files.append({
                    "path": path, "src": str(source), "reader": reader,
                    "mode": f"{member.mode & 0o7777:04o}", "owner": member.uname, "group": member.gname,
                })
        if len(files) != len([path for path in paths if reader_of(path, services)]):
            sys.exit(f"error: {host} lacks some of the rendered files; run wwctl's convergence first")
        host_vars = {"files": files, "app_services": sorted(set(services.values()))}
        (out / "host_vars" / f"{host}.yml").write_text(json.dumps(host_vars, indent=2))
        inventory.append(f"{host} ansible_host={address}")
        print(f"{host}: {len(files)} files", file=sys.stderr)
    (out / "inventory.ini").write_text("\n".join(inventory) + "\n")


def sync_phases(*journals):
    """Print the median phase and stream times, the codecs, the hop speeds, the binary log use
    and the tables loaded as row text of the database syncs journaled in `journals`, as JSON."""
    reports = []
    for path in journals:
        for step in json.loads(pathlib.Path(path).read_text()).get("steps", []):
            for key, value in step.get("outputs", {}).items():
                if key.endswith(".report") and "timings" in value:
                    reports.append(value)
    if not reports:
        sys.exit(f"error: no journaled database sync with phase times in {', '.join(journals)}")
    phases = {name: statistics.median(report["timings"][name] for report in reports)
              for name in ("preflight", "copy", "verify")}
    names = {name for report in reports for name in report.get("stream_seconds", {})}
    streams = {name: statistics.median(report["stream_seconds"][name] for report in reports
                                       if name in report.get("stream_seconds", {}))
               for name in names}
    print(json.dumps({"runs": len(reports), "phases": phases, "codecs": reports[-1]["codecs"],
                      "streams": streams,
                      "hops": reports[-1].get("hop_speeds_mb_per_s", {}),
                      "binlog": reports[-1].get("binlog", "written"),
                      "row_tables": reports[-1].get("row_tables", 0),
                      "tables": reports[-1].get("tables", 0)}))


def longest_streams_text(phases):
    """Return the three longest streams and their median times, as text, or nothing."""
    streams = sorted((phases.get("streams") or {}).items(), key=lambda item: -item[1])[:3]
    if not streams:
        return ""
    return "; longest streams: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in streams)


def hop_text(phases):
    """Return the hop speeds `compress: auto` measured, as text, or nothing."""
    hops = phases.get("hops") or {}
    if hops.get("dump") is None and hops.get("load") is None:
        return ""
    speed = lambda value: f"{value:.0f} MB/s" if value is not None else "not measured"
    return f" (measured hops: dump {speed(hops.get('dump'))}, load {speed(hops.get('load'))})"


def merge_runs(out, *files):
    """Merge one-run hyperfine results of the same command into one result, as if hyperfine had
    run it that many times."""
    times, user, system = [], [], []
    for path in files:
        result = json.loads(pathlib.Path(path).read_text())["results"][0]
        times += result["times"]
        user.append(result["user"])
        system.append(result["system"])
    if not times:
        sys.exit(f"error: no runs to merge into `{out}`")
    merged = {"median": statistics.median(times), "min": min(times), "max": max(times), "times": times,
              "user": statistics.mean(user), "system": statistics.mean(system)}
    pathlib.Path(out).write_text(json.dumps({"results": [merged]}, indent=2))


def load(results, name):
    """Return a result file's JSON, or None when it is missing."""
    path = pathlib.Path(results) / name
    return json.loads(path.read_text()) if path.exists() else None


def timing(results, name):
    """Return the median, minimum, maximum and runs of a hyperfine result."""
    data = load(results, name)
    if data is None:
        return None
    result = data["results"][0]
    return {
        "median": result["median"], "min": result["min"], "max": result["max"],
        "runs": len(result["times"]), "user": result["user"], "system": result["system"],
    }


def seconds(cell):
    """Format a timing as its median with the range over the runs."""
    if cell is None:
        return "not measured"
    return f"{cell['median']:.2f} s ({cell['min']:.2f}–{cell['max']:.2f}, {cell['runs']} runs)"


def report(results, out):
    """Write BENCHMARKS.md from the result files."""
    meta = load(results, "meta.json")
    lines = ["# Benchmarks", "",
             "Measured side by side in one run of `bench/run` on the same sandbox hosts "
             "(lab hosts: network namespaces with their own sshd, NGINX and MariaDB on one machine). "
             "Each figure is the median over several runs, with the lowest and highest in brackets.", "",
             f"- Command: `{meta['command']}`",
             f"- Machine: {meta['machine']}",
             f"- Date: {meta['date']}",
             f"- wwctl: {meta['wwctl']} (release build), Ansible: {meta['ansible']}, "
             f"MariaDB: {meta['mariadb']}, mydumper: {meta['mydumper']}", ""]

    lines += ["## Config convergence", "",
              "Write the rendered NGINX, MySQL and app files and reload or restart what reads them: "
              "wwctl's `configs.apply` step (`wwctl --playbooks bench/playbooks provision ...`) against "
              "`ansible-playbook bench/ansible/converge.yml` (pipelining on, ControlPersist 60 s, strict host "
              "keys). A first run starts from hosts whose rendered files were removed, so every file is "
              "written and every service restarted; a no-op run finds everything in place.", "",
              "| Hosts | Run | wwctl | Ansible | Ansible ÷ wwctl | Target: ≥ 5 |",
              "|---|---|---|---|---|---|"]
    missed = []
    for hosts, label in (("1", "1 (prod-2023)"), ("6", "6 (the 2022 fleet)")):
        for run in ("first", "noop"):
            ours = timing(results, f"converge-{hosts}-{run}-wwctl.json")
            theirs = timing(results, f"converge-{hosts}-{run}-ansible.json")
            ratio = theirs["median"] / ours["median"] if ours and theirs else None
            met = ratio is not None and ratio >= 5
            if not met:
                missed.append(f"convergence on {hosts} host(s), {'first run' if run == 'first' else 'no-op'}: "
                              f"Ansible ÷ wwctl is {ratio:.1f}, below 5" if ratio else
                              f"convergence on {hosts} host(s), {run}: not measured")
            lines.append(f"| {label} | {'first' if run == 'first' else 'no-op'} | {seconds(ours)} | "
                         f"{seconds(theirs)} | {ratio:.1f}× | {'met' if met else '**missed**'} |"
                         if ratio else f"| {label} | {run} | {seconds(ours)} | {seconds(theirs)} | – | **missed** |")
    noop = timing(results, "converge-1-noop-wwctl.json")
    noop_met = noop is not None and noop["median"] < 0.5
    if not noop_met:
        missed.append("no-op convergence on one host is not under 0.5 s")
    lines += ["", f"No-op re-run on one host: {seconds(noop)}; target under 0.5 s: "
              f"{'met' if noop_met else '**missed**'}.", ""]

    sync = load(results, "sync.json") or {}
    lines += ["## Database sync at scale 100×", "",
              f"From db-2022 to prod-2023, {sync.get('rows', '?')} rows in {sync.get('tables', '?')} tables "
              f"({sync.get('megabytes', '?')} MB of data on the source). Before each run the target's database "
              "is dropped and the source is writable again. The methods take turns, one run each per round, so "
              "a change in the machine's speed during the benchmark affects them alike."
              + (f" Measured with {meta['sync']['wwctl']} on {meta['sync']['date']} (`BENCH_ONLY=sync`)."
                 if "sync" in meta else ""), "",
              "| Method | Time | Plain pipe ÷ method |", "|---|---|---|"]
    pipe = timing(results, "sync-pipe.json")
    for name, label in (("sync-wwctl.json", "wwctl `database.sync`, as shipped: freeze, per-table copy (4 streams, "
                                            "largest first, rows into `LOAD DATA`, `compress: auto`), each table "
                                            "checksummed on both sides as its stream ends"),
                        ("sync-wwctl-zstd.json", "the same with `database.sync.compress: true` (zstd on both hops)"),
                        ("sync-pipe.json", "`mysqldump --single-transaction …` piped through `ssh` into `mysql`, "
                                          "no verification"),
                        ("sync-mydumper.json", "mydumper (4 threads, compressed) on the source, tar over SSH, "
                                               "myloader (4 threads) on the target, no verification")):
        cell = timing(results, name)
        ratio = pipe["median"] / cell["median"] if cell and pipe else None
        lines.append(f"| {label} | {seconds(cell)} | {f'{ratio:.2f}×' if ratio else '–'} |")
    for name, label in (("sync-wwctl-phases.json", "as shipped"),
                        ("sync-wwctl-zstd-phases.json", "with zstd forced on")):
        phases = load(results, name)
        if phases:
            times = phases["phases"]
            lines += ["", f"wwctl's phases, {label} (median of {phases['runs']} runs, from the journal): "
                          f"preflight {times['preflight']:.2f} s, copy with checksums {times['copy']:.2f} s, "
                          f"final comparison {times['verify']:.2f} s; codecs: dump {phases['codecs']['dump']}, "
                          f"load {phases['codecs']['load']}{hop_text(phases)}; the target's binary log during the load: "
                          f"{phases.get('binlog', 'written')}; tables loaded as row text with "
                          f"`LOAD DATA`: {phases.get('row_tables', 0)} of {phases.get('tables', 0)}"
                          f"{longest_streams_text(phases)}."]
    ours = timing(results, "sync-wwctl.json")
    sync_ratio = pipe["median"] / ours["median"] if ours and pipe else None
    sync_met = sync_ratio is not None and sync_ratio >= 1.5
    if not sync_met:
        missed.append(f"database sync: wwctl is {sync_ratio:.2f}× the plain pipe, below 1.5×" if sync_ratio
                      else "database sync: not measured")
    lines += ["", f"Target: wwctl at least 1.5× as fast as the plain pipe: "
              f"{'met' if sync_met else '**missed**'}"
              + (f" ({sync_ratio:.2f}×)." if sync_ratio else "."),
              "The methods do not do the same work: wwctl's copy phase also reads every row of both "
              "databases again for its checksums, which the pipe and mydumper skip. Both lab servers, "
              "the transfer and those checksums share this machine's two cores, so parallel loads and "
              "checksums compete for the same CPU; on two droplets, each with its own cores, they would "
              "not.", ""]

    freeze = (load(results, "freeze.json") or {}).get("line")
    lines += ["## Write freeze in replication mode", "",
              "`cargo bench --bench replication_freeze` (scale 100, two local MariaDB servers on "
              "127.0.0.1, an app account writing until the freeze): from `read_only` on the source to the "
              "promoted replica accepting writes.", "",
              f"    {freeze}" if freeze else "    not measured", ""]
    plan = load(results, "plan.json") or {}
    plan_time = timing(results, "plan.json.hyperfine")
    lines += ["## Plan at scale", "",
              f"The account holds {plan.get('droplets', '?')} droplets and the zone {plan.get('records', '?')} "
              "records; `wwctl migrate --from 2022 --to 2023 --dry-run` plans the whole migration (the 2022 "
              "fleet exists, 2023 does not yet).", "",
              "| Measure | Value |", "|---|---|"]
    for route, count in sorted(plan.get("lists", {}).items()):
        lines.append(f"| `{route}` calls | {count} |")
    lines += [f"| list calls in all | {plan.get('list_calls', '?')} (fewest pagination allows: "
              f"{plan.get('fewest', '?')}: one page of the old fleet's droplets by tag, one page per "
              f"production record by type and name; listing the whole zone would take "
              f"{plan.get('whole_zone_pages', '?')} pages) |"]
    for route, count in sorted(plan.get("reads", {}).items()):
        lines.append(f"| `{route}` reads | {count} |")
    if plan_time:
        cpu = plan_time["user"] + plan_time["system"]
        plan_met = cpu < 1.0
        lines += [f"| wall time | {seconds(plan_time)} |",
                  f"| wwctl's own time (user + system CPU, mean) | {cpu:.2f} s |"]
        if not plan_met:
            missed.append("plan at scale: wwctl's own time is not under 1 s")
        lines += ["", f"Target: under 1 s of wwctl's own time: {'met' if plan_met else '**missed**'}. "
                  "The wall time also holds the waits on the emulator and the SSH reads of the old servers.", ""]

    startup = timing(results, "startup.json")
    startup_met = startup is not None and startup["median"] < 0.010
    if not startup_met:
        missed.append("start-up: `wwctl --version` is not under 10 ms")
    lines += ["## Start-up", "",
              f"`wwctl --version`: {startup['median'] * 1000:.1f} ms "
              f"({startup['min'] * 1000:.1f}–{startup['max'] * 1000:.1f} ms, {startup['runs']} runs); "
              f"target under 10 ms: {'met' if startup_met else '**missed**'}." if startup else "not measured", ""]

    lines += ["## Targets missed", ""]
    lines += [f"- {item}" for item in missed] or ["None."]
    lines.append("")
    pathlib.Path(out).write_text("\n".join(lines))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "addresses":
        addresses()
    elif command == "fill":
        fill(int(args[0]), int(args[1]), args[2])
    elif command == "route-counts":
        route_counts(*args)
    elif command == "ansible":
        ansible(args[0], args[1], args[2], args[3:])
    elif command == "sync-phases":
        sync_phases(*args)
    elif command == "merge-runs":
        merge_runs(*args)
    elif command == "report":
        report(*args)
    else:
        sys.exit(f"error: unknown command `{command}`")


if __name__ == "__main__":
    main()
