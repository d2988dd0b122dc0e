//! `systemctl status` and the list of a host's services with their states.

use serde::Serialize;

use super::service::{self, ActiveState};
use super::units::{self, BUILTIN_UNITS, Lookup};
use super::{enabled_state, exit};

/// One service of a host, for `wwctl sandbox lab status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ServiceState {
    pub unit: String,
    pub state: String,
    pub enabled: String,
}

/// List every unit of the host (built-in and installed) with its state.
pub fn all_services() -> Vec<ServiceState> {
    let names = BUILTIN_UNITS
        .iter()
        .map(|name| name.to_string())
        .chain(units::installed_units());
    names
        .filter_map(|name| match units::lookup(&name) {
            Lookup::Found(unit) => Some(ServiceState {
                state: service::active_state(&name).0.as_str().to_string(),
                enabled: enabled_state(&unit).to_string(),
                unit: name,
            }),
            Lookup::Invalid(..) => Some(ServiceState {
                unit: name,
                state: "bad-setting".to_string(),
                enabled: "bad".to_string(),
            }),
            Lookup::NotFound(_) => None,
        })
        .collect()
}

/// Print a systemd-like status block per unit. Exit code 0 when all are
/// active, 3 when one is not, 4 when one does not exist.
pub fn show(names: &[String]) -> i32 {
    let mut code = exit::SUCCESS;
    for name in names {
        let unit = match units::lookup(name) {
            Lookup::Found(unit) => unit,
            Lookup::NotFound(_) => {
                eprintln!("Unit {name} could not be found.");
                code = exit::STATUS_UNKNOWN;
                continue;
            }
            Lookup::Invalid(_, error) => {
                println!("\u{25cf} {name}\n     Loaded: bad-setting ({error})");
                code = code.max(exit::NOT_RUNNING);
                continue;
            }
        };
        let (state, record) = service::active_state(name);
        let description = unit.description.clone().unwrap_or_else(|| name.clone());
        println!("\u{25cf} {name} - {description}");
        println!(
            "     Loaded: loaded ({}; {}; preset: enabled)",
            unit.path.display(),
            enabled_state(&unit)
        );
        let since = record
            .as_ref()
            .map(|record| record.since.clone())
            .unwrap_or_default();
        let active_line = match state {
            ActiveState::Active => format!("active (running) since {since}"),
            ActiveState::Inactive => "inactive (dead)".to_string(),
            ActiveState::Failed => {
                let result = record
                    .as_ref()
                    .and_then(|record| record.result.clone())
                    .unwrap_or_else(|| "exit-code".to_string());
                format!("failed (Result: {result}) since {since}")
            }
        };
        println!("     Active: {active_line}");
        if let (ActiveState::Active, Some(pid)) = (state, record.and_then(|record| record.main_pid))
        {
            let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            println!("   Main PID: {pid} ({})", command.trim());
        }
        if state != ActiveState::Active && code == exit::SUCCESS {
            code = exit::NOT_RUNNING;
        }
    }
    code
}
