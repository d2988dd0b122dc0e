//! The `cloud-init` stand-in's command line inside a host: `status`
//! (with `--wait` and `--long`), `--version`, and `modules --mode final`,
//! which the host's PID 1 runs to finish the boot.
//!
//! Exit codes follow cloud-init 23.4 and later: 0 running or done, 1 error,
//! 2 done with recoverable errors, 2 for invalid arguments (argparse).

use std::io::Write;
use std::time::Duration;

use super::status::{Stage, Status};

/// The version the stand-in reports.
const VERSION: &str = "24.1-wwctl-lab";

/// Run the stand-in with `args` (everything after `cloud-init`).
pub fn run(args: &[String]) -> i32 {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["--version"] | ["-v"] => {
            println!("/usr/bin/cloud-init {VERSION}");
            0
        }
        ["status", options @ ..] => status(options),
        ["modules", "--mode", "final"] | ["modules", "--mode=final"] => {
            super::apply::final_stage();
            0
        }
        _ => {
            eprintln!("usage: cloud-init [--version] {{status,modules}} ...");
            eprintln!(
                "cloud-init: this lab stand-in supports `status [--wait] [--long]` and `--version`"
            );
            2
        }
    }
}

fn status(options: &[&str]) -> i32 {
    let mut wait = false;
    let mut long = false;
    for option in options {
        match *option {
            "--wait" | "-w" => wait = true,
            "--long" | "-l" => long = true,
            other => {
                eprintln!(
                    "usage: cloud-init status [-h] [--format {{json,tabular,yaml}}] [-l] [-w]"
                );
                eprintln!("cloud-init status: error: unrecognized arguments: {other}");
                return 2;
            }
        }
    }

    let mut current = Status::read();
    if wait {
        // cloud-init prints a dot per poll while it waits.
        while current
            .as_ref()
            .is_none_or(|status| status.status == Stage::Running)
        {
            print!(".");
            let _ = std::io::stdout().flush();
            std::thread::sleep(Duration::from_millis(250));
            current = Status::read();
        }
        println!();
    }

    let Some(current) = current else {
        println!("status: not started");
        return 0;
    };
    let name = match current.status {
        Stage::Running => "running",
        Stage::Done => "done",
        Stage::Error => "error",
    };
    println!("status: {name}");
    if long {
        println!("extended_status: {name}");
        println!("boot_status_code: enabled-by-generator");
        println!("last_update: {}", current.last_update);
        println!("detail:\nDataSourceDigitalOcean (wwctl lab)");
        println!("errors: {:?}", current.errors);
        println!("recoverable_errors: {:?}", current.recoverable_errors);
    }
    match current.status {
        Stage::Error => 1,
        Stage::Done if !current.recoverable_errors.is_empty() => 2,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::run;

    #[test]
    fn invalid_arguments_exit_two() {
        assert_eq!(run(&["status".to_string(), "--bogus".to_string()]), 2);
        assert_eq!(run(&["launch".to_string()]), 2);
        assert_eq!(run(&["--version".to_string()]), 0);
    }
}
