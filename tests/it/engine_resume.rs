//! The step engine: a run killed with SIGKILL mid-step resumes at that
//! step, and a second run beside a live one is refused.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{repo, stderr, wwctl};

struct Scenario {
    _dir: tempfile::TempDir,
    markers: PathBuf,
    state: PathBuf,
}

impl Scenario {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let markers = dir.path().join("markers");
        std::fs::create_dir(&markers).unwrap();
        let state = dir.path().join("state");
        Self {
            _dir: dir,
            markers,
            state,
        }
    }

    fn command(&self) -> Command {
        let mut command = wwctl();
        command
            .args(["provision", "2023", "--playbooks"])
            .arg(repo().join("tests/fixtures/local-playbooks"))
            .arg("--state-dir")
            .arg(&self.state)
            .env("MARKER_DIR", &self.markers)
            .stdin(Stdio::null());
        command
    }

    /// Start wwctl in its own process group, so killing the group also
    /// ends the step's shell, as a crash of the machine would.
    fn spawn(&self) -> Child {
        let mut command = self.command();
        command
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command.spawn().unwrap()
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.markers.join("log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn count(&self, line: &str) -> usize {
        self.log().iter().filter(|found| *found == line).count()
    }

    fn status_json(&self) -> serde_json::Value {
        let output = wwctl()
            .args(["status", "--output", "json", "--state-dir"])
            .arg(&self.state)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill_group(child: &mut Child) {
    let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
    nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL).unwrap();
    child.wait().unwrap();
}

#[test]
fn killed_run_resumes_at_interrupted_step() {
    let scenario = Scenario::new();
    let mut first = scenario.spawn();
    wait_for(&scenario.markers.join("second-started"));
    kill_group(&mut first);

    let status = scenario.status_json();
    let steps = &status["runs"][0]["steps"];
    assert_eq!(steps[0]["state"], "done");
    assert_eq!(
        steps[1]["state"], "running",
        "the killed step stays marked running"
    );
    assert_eq!(steps[2]["state"], "pending");

    std::fs::write(scenario.markers.join("release"), "").unwrap();
    let output = scenario.command().output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("resuming run"),
        "{}",
        stderr(&output)
    );

    assert_eq!(
        scenario.count("first-done"),
        1,
        "the finished step did not run again"
    );
    assert_eq!(
        scenario.count("second-start"),
        2,
        "the interrupted step ran again"
    );
    assert_eq!(scenario.count("second-done"), 1);
    assert_eq!(scenario.count("third-done"), 1);

    let status = scenario.status_json();
    let runs = status["runs"].as_array().unwrap();
    assert_eq!(
        runs.len(),
        1,
        "the re-run resumed the same run instead of starting another"
    );
    assert_eq!(runs[0]["status"], "done");
    assert_eq!(runs[0]["steps"][1]["attempts"], 2);
    assert_eq!(runs[0]["steps"][2]["attempts"], 1);
    assert!(status["lock"].is_null(), "the lock was released");
}

#[test]
fn concurrent_run_is_refused_naming_holder() {
    let scenario = Scenario::new();
    let mut first = scenario.spawn();
    wait_for(&scenario.markers.join("second-started"));

    let output = scenario.command().output().unwrap();
    let text = stderr(&output);
    let holder_pid = first.id();
    kill_group(&mut first);

    assert_eq!(output.status.code(), Some(7), "{text}");
    assert!(text.contains("another run holds the lock"), "{text}");
    assert!(text.contains(&format!("pid {holder_pid}")), "{text}");
    assert!(text.contains("wwctl provision 2023"), "{text}");
}

#[test]
fn finished_run_is_not_resumed() {
    let scenario = Scenario::new();
    std::fs::write(scenario.markers.join("release"), "").unwrap();
    for _ in 0..2 {
        let output = scenario.command().output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }

    let status = scenario.status_json();
    assert_eq!(
        status["runs"].as_array().unwrap().len(),
        2,
        "a finished run is never resumed"
    );
    assert_eq!(scenario.count("first-done"), 2);
}

#[test]
fn failed_step_stops_the_run_and_resumes_there() {
    let scenario = Scenario::new();
    // Without the release marker and with no way to wait, make the second
    // step fail by pointing MARKER_DIR at a folder that does not exist.
    let missing = scenario.markers.join("missing");
    let output = scenario
        .command()
        .env("MARKER_DIR", &missing)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("step `first`"), "{text}");
    assert!(text.contains("it resumes at this step"), "{text}");

    let status = scenario.status_json();
    assert_eq!(status["runs"][0]["status"], "failed");
    assert_eq!(status["runs"][0]["steps"][0]["state"], "failed");
}

#[test]
fn second_interrupt_marks_run_and_frees_lock() {
    use std::io::{BufRead, BufReader};

    let scenario = Scenario::new();
    let mut child = scenario.spawn();
    wait_for(&scenario.markers.join("second-started"));

    // Signal wwctl alone: its step's shell keeps running, so the second
    // signal finds the step still running.
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut stderr_lines = BufReader::new(child.stderr.take().unwrap()).lines();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let acknowledged = stderr_lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("stopping after the current step"));
    assert!(
        acknowledged,
        "wwctl did not acknowledge the first interrupt"
    );
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();

    let code = child.wait().unwrap().code();
    let group = nix::unistd::Pid::from_raw(-(pid.as_raw()));
    let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
    assert_eq!(code, Some(6));

    let status = scenario.status_json();
    let run = &status["runs"][0];
    assert_eq!(run["status"], "interrupted");
    assert_eq!(
        run["steps"][1]["state"], "running",
        "the step stopped at once stays marked running"
    );
    assert!(status["lock"].is_null(), "the lock was released: {status}");
}

#[test]
fn redirected_log_has_no_colour() {
    let scenario = Scenario::new();
    std::fs::write(scenario.markers.join("release"), "").unwrap();

    // A lock left by a process that is gone makes the run log a warning.
    std::fs::create_dir_all(&scenario.state).unwrap();
    let stale = serde_json::json!({
        "pid": u32::MAX - 7,
        "host": nix::unistd::gethostname().unwrap().into_string().unwrap(),
        "process_start": null,
        "started_at": "2026-01-01T00:00:00Z",
        "command": "wwctl provision 2023",
        "run_id": null,
    });
    std::fs::write(scenario.state.join("lock"), stale.to_string()).unwrap();

    let output = scenario.command().output().unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("stale lock"), "no warning logged: {text}");
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in redirected stderr: {text:?}"
    );
}
