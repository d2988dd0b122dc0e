//! Facts about processes read from `/proc`, and waiting for them to end.

use std::fs;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// The fields of `/proc/<pid>/stat` the lab uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// One-letter state: `R`, `S`, `D`, `Z` (zombie), and so on.
    pub state: char,
    pub parent: u32,
    pub process_group: u32,
    /// Start time in clock ticks after boot; with the pid it identifies a
    /// process even after its pid is reused.
    pub start_time: u64,
}

/// Read `/proc/<pid>/stat`, or `None` when there is no such process.
pub fn stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parse a `/proc/<pid>/stat` line. The command name is in parentheses and
/// may itself contain spaces and parentheses, so fields are counted after
/// the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `fields[0]` is field 3 of proc(5).
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        parent: fields.get(1)?.parse().ok()?,
        process_group: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// Whether `pid` runs (exists and is not a zombie).
pub fn is_running(pid: u32) -> bool {
    stat(pid).is_some_and(|stat| stat.state != 'Z')
}

/// Whether `pid` runs and is the same process that started at `start_time`.
pub fn is_same_running(pid: u32, start_time: u64) -> bool {
    stat(pid).is_some_and(|stat| stat.state != 'Z' && stat.start_time == start_time)
}

/// The arguments of `pid`, or an empty list when it is gone.
pub fn cmdline(pid: u32) -> Vec<String> {
    let Ok(bytes) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return Vec::new();
    };
    bytes
        .split(|byte| *byte == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect()
}

/// The processes whose process group is `group`, found by scanning `/proc`.
pub fn group_members(group: u32) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|pid| {
            stat(*pid).is_some_and(|stat| stat.process_group == group && stat.state != 'Z')
        })
        .collect()
}

/// Every process id in `/proc`.
pub fn all_pids() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect()
}

/// The direct children of `pid`, from `/proc/<pid>/task/<pid>/children`.
pub fn children(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|child| child.parse().ok())
        .collect()
}

/// Send `signal` to `pid`, ignoring a process that is already gone.
pub fn signal(pid: u32, signal: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), signal);
}

/// Send `signal` to every process in group `group`.
pub fn signal_group(group: u32, signal: Signal) {
    let _ = killpg(Pid::from_raw(group as i32), signal);
}

/// Poll `done` every 20 ms until it returns true or `timeout` passes;
/// returns whether it became true.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::{is_running, parse_stat};

    #[test]
    fn parse_stat_handles_parentheses_in_name() {
        let line =
            "1234 (odd) name)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.parent, 1);
        assert_eq!(stat.process_group, 1234);
        assert_eq!(stat.start_time, 98765);
    }

    #[test]
    fn own_process_is_running() {
        assert!(is_running(std::process::id()));
    }
}
