//! Reading the service unit files wwctl installs under
//! `/etc/systemd/system`: the keys the stand-in acts on, with systemd's
//! quoting, line continuation and `$VAR` expansion rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A problem in a unit file, with the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct UnitFileError {
    pub path: String,
    pub line: usize,
    pub message: String,
}

/// How the stand-in decides that a service started (`Type=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceType {
    /// Started as soon as the process is forked, even if exec then fails.
    Simple,
    /// Started once exec succeeded.
    Exec,
    /// Started when the process sends `READY=1` to `$NOTIFY_SOCKET`.
    Notify,
    /// Started when the start command exited and the PID file names a
    /// running process.
    Forking,
    /// Started when the command exited successfully.
    Oneshot,
}

/// The processes a stop signals (`KillMode=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillMode {
    /// Every process of the service's process group (the stand-in's
    /// approximation of the control group).
    ControlGroup,
    /// The stop signal to the main process, SIGKILL to the group after the
    /// timeout.
    Mixed,
    /// The main process only.
    Process,
}

/// One `Exec*=` command line, split into words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecCommand {
    pub argv: Vec<String>,
    /// The `-` prefix: a failure exit status is ignored.
    pub ignore_failure: bool,
    /// The `+` or `!` prefix: run with full privileges, ignoring `User=`.
    pub privileged: bool,
}

/// The settings of one service unit that the stand-in uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceUnit {
    pub name: String,
    pub path: PathBuf,
    pub description: Option<String>,
    pub service_type: ServiceType,
    pub exec_start_pre: Vec<ExecCommand>,
    pub exec_start: Vec<ExecCommand>,
    pub exec_reload: Vec<ExecCommand>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub working_directory: Option<String>,
    /// `Environment=` assignments in order; later ones win.
    pub environment: Vec<(String, String)>,
    /// `EnvironmentFile=` paths; a leading `-` means the file may be missing.
    pub environment_files: Vec<String>,
    pub pid_file: Option<String>,
    pub runtime_directories: Vec<String>,
    pub kill_mode: KillMode,
    pub kill_signal: nix::sys::signal::Signal,
    pub timeout_start: Duration,
    pub timeout_stop: Duration,
    /// `[Install] WantedBy=` targets. An empty list means the unit is static.
    pub wanted_by: Vec<String>,
}

/// systemd's default start and stop timeout (`DefaultTimeoutStartSec=`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);

impl ServiceUnit {
    /// Read and parse a unit file.
    pub fn load(name: &str, path: &Path) -> Result<Self, UnitFileError> {
        let text = std::fs::read_to_string(path).map_err(|error| UnitFileError {
            path: path.display().to_string(),
            line: 0,
            message: format!("cannot read the unit file: {error}"),
        })?;
        parse(name, path, &text)
    }
}

/// Parse the text of a service unit file.
pub fn parse(name: &str, path: &Path, text: &str) -> Result<ServiceUnit, UnitFileError> {
    let mut unit = ServiceUnit {
        name: name.to_string(),
        path: path.to_path_buf(),
        description: None,
        service_type: ServiceType::Simple,
        exec_start_pre: Vec::new(),
        exec_start: Vec::new(),
        exec_reload: Vec::new(),
        user: None,
        group: None,
        working_directory: None,
        environment: Vec::new(),
        environment_files: Vec::new(),
        pid_file: None,
        runtime_directories: Vec::new(),
        kill_mode: KillMode::ControlGroup,
        kill_signal: nix::sys::signal::Signal::SIGTERM,
        timeout_start: DEFAULT_TIMEOUT,
        timeout_stop: DEFAULT_TIMEOUT,
        wanted_by: Vec::new(),
    };
    let error = |line: usize, message: String| UnitFileError {
        path: path.display().to_string(),
        line,
        message,
    };

    let mut section = String::new();
    for (line_number, line) in logical_lines(text) {
        if line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(error(
                line_number,
                format!("`{line}` is not a `Key=value` line"),
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        let result = apply_setting(&mut unit, &section, key, value);
        result.map_err(|message| error(line_number, message))?;
    }

    if unit.exec_start.is_empty() {
        return Err(error(
            0,
            "the unit has no `ExecStart=` in `[Service]`".into(),
        ));
    }
    if unit.exec_start.len() > 1 && unit.service_type != ServiceType::Oneshot {
        return Err(error(
            0,
            "several `ExecStart=` lines are allowed only with `Type=oneshot`".into(),
        ));
    }
    Ok(unit)
}

fn apply_setting(
    unit: &mut ServiceUnit,
    section: &str,
    key: &str,
    value: &str,
) -> Result<(), String> {
    match (section, key) {
        ("Unit", "Description") => unit.description = Some(value.to_string()),
        ("Service", "Type") => unit.service_type = parse_type(value)?,
        ("Service", "ExecStartPre") => push_command(&mut unit.exec_start_pre, value)?,
        ("Service", "ExecStart") => push_command(&mut unit.exec_start, value)?,
        ("Service", "ExecReload") => push_command(&mut unit.exec_reload, value)?,
        ("Service", "User") => unit.user = non_empty(value),
        ("Service", "Group") => unit.group = non_empty(value),
        ("Service", "WorkingDirectory") => unit.working_directory = non_empty(value),
        ("Service", "Environment") => {
            if value.is_empty() {
                unit.environment.clear();
            }
            for word in split_words(value)? {
                let Some((name, assigned)) = word.split_once('=') else {
                    return Err(format!("`{word}` in `Environment=` is not `NAME=value`"));
                };
                unit.environment
                    .push((name.to_string(), assigned.to_string()));
            }
        }
        ("Service", "EnvironmentFile") => unit.environment_files.push(value.to_string()),
        ("Service", "PIDFile") => unit.pid_file = non_empty(value),
        ("Service", "RuntimeDirectory") => unit
            .runtime_directories
            .extend(value.split_whitespace().map(str::to_string)),
        ("Service", "KillMode") => unit.kill_mode = parse_kill_mode(value)?,
        ("Service", "KillSignal") => unit.kill_signal = parse_signal(value)?,
        ("Service", "TimeoutStartSec") => unit.timeout_start = parse_seconds(value)?,
        ("Service", "TimeoutStopSec") => unit.timeout_stop = parse_seconds(value)?,
        ("Service", "TimeoutSec") => {
            unit.timeout_start = parse_seconds(value)?;
            unit.timeout_stop = unit.timeout_start;
        }
        ("Install", "WantedBy") => unit
            .wanted_by
            .extend(value.split_whitespace().map(str::to_string)),
        // Other settings (Restart=, After=, sandboxing options) do not change
        // what the stand-in does; systemd itself ignores unknown keys with a
        // warning.
        _ => {}
    }
    Ok(())
}

/// Join continued lines (a trailing `\`), drop comments and blank lines, and
/// return each logical line with the number of its first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if pending.is_none() && (trimmed.is_empty() || trimmed.starts_with(['#', ';'])) {
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((index + 1, String::new()));
        if let Some(continued) = trimmed.strip_suffix('\\') {
            joined.push_str(continued);
            joined.push(' ');
            pending = Some((start, joined));
        } else {
            joined.push_str(trimmed);
            lines.push((start, joined));
        }
    }
    if let Some(last) = pending {
        lines.push(last);
    }
    lines
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

fn parse_type(value: &str) -> Result<ServiceType, String> {
    match value {
        "simple" => Ok(ServiceType::Simple),
        "exec" => Ok(ServiceType::Exec),
        "notify" | "notify-reload" => Ok(ServiceType::Notify),
        "forking" => Ok(ServiceType::Forking),
        "oneshot" => Ok(ServiceType::Oneshot),
        other => Err(format!(
            "`Type={other}` is not supported by the lab (use simple, exec, notify, forking or oneshot)"
        )),
    }
}

fn parse_kill_mode(value: &str) -> Result<KillMode, String> {
    match value {
        "control-group" => Ok(KillMode::ControlGroup),
        "mixed" => Ok(KillMode::Mixed),
        "process" => Ok(KillMode::Process),
        other => Err(format!("`KillMode={other}` is not supported by the lab")),
    }
}

fn parse_signal(value: &str) -> Result<nix::sys::signal::Signal, String> {
    let name = if value.starts_with("SIG") {
        value.to_string()
    } else {
        format!("SIG{value}")
    };
    name.parse()
        .map_err(|_| format!("`KillSignal={value}` is not a signal name"))
}

/// Parse a systemd time span in seconds (`90`, `90s`, `2min`, `1min 30s`,
/// `infinity`).
pub fn parse_seconds(value: &str) -> Result<Duration, String> {
    if value == "infinity" {
        return Ok(Duration::from_secs(u64::from(u32::MAX)));
    }
    let mut total = 0f64;
    for part in value.split_whitespace() {
        let split = part
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(part.len());
        let (number, unit) = part.split_at(split);
        let number: f64 = number
            .parse()
            .map_err(|_| format!("`{value}` is not a time span"))?;
        let factor = match unit {
            "" | "s" | "sec" | "second" | "seconds" => 1.0,
            "ms" | "msec" => 0.001,
            "m" | "min" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hour" | "hours" => 3600.0,
            _ => return Err(format!("`{value}` has an unknown time unit `{unit}`")),
        };
        total += number * factor;
    }
    Ok(Duration::from_secs_f64(total))
}

fn push_command(commands: &mut Vec<ExecCommand>, value: &str) -> Result<(), String> {
    if value.is_empty() {
        commands.clear();
        return Ok(());
    }
    let mut rest = value;
    let mut ignore_failure = false;
    let mut privileged = false;
    while let Some(prefix) = rest.chars().next().filter(|c| "-@+!:".contains(*c)) {
        match prefix {
            '-' => ignore_failure = true,
            '+' | '!' => privileged = true,
            '@' => {
                return Err(format!(
                    "the `@` prefix in `{value}` is not supported by the lab"
                ));
            }
            _ => {}
        }
        rest = &rest[1..];
    }
    let argv = split_words(rest)?;
    if argv.is_empty() {
        return Err(format!("`{value}` has no command"));
    }
    commands.push(ExecCommand {
        argv,
        ignore_failure,
        privileged,
    });
    Ok(())
}

/// Split a value into words the way systemd does: whitespace separates
/// words, single and double quotes group them, and backslash escapes the
/// next character (`\n`, `\t` and `\\` as in C).
pub fn split_words(value: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                let escaped = chars
                    .next()
                    .ok_or_else(|| format!("`{value}` ends with a lone backslash"))?;
                current.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
                in_word = true;
            }
            (Some(open), c) if c == open => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("`{value}` has an unclosed quote"));
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

/// Expand `${NAME}` inside words and `$NAME` standing as a whole word (split
/// into several words on whitespace), from `environment`. Unknown names
/// expand to nothing, as in systemd.
pub fn expand_variables(argv: &[String], environment: &BTreeMap<String, String>) -> Vec<String> {
    let mut expanded = Vec::new();
    for word in argv {
        if let Some(name) = word.strip_prefix('$').filter(|name| is_variable_name(name)) {
            let value = environment.get(name).map(String::as_str).unwrap_or("");
            expanded.extend(value.split_whitespace().map(str::to_string));
            continue;
        }
        expanded.push(expand_braced(word, environment));
    }
    expanded
}

fn expand_braced(word: &str, environment: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if is_variable_name(&after[..end]) => {
                out.push_str(
                    environment
                        .get(&after[..end])
                        .map(String::as_str)
                        .unwrap_or(""),
                );
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// Expand the unit specifiers the stand-in supports in a command word:
/// `%n` (full unit name), `%N` and `%p` (name without `.service`), `%t`
/// (`/run`) and `%%`.
pub fn expand_specifiers(word: &str, unit_name: &str) -> Result<String, String> {
    let prefix = unit_name.strip_suffix(".service").unwrap_or(unit_name);
    let mut out = String::new();
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push_str(unit_name),
            Some('N' | 'p') => out.push_str(prefix),
            Some('t') => out.push_str("/run"),
            Some('%') => out.push('%'),
            Some(other) => {
                return Err(format!(
                    "the specifier `%{other}` in `{word}` is not supported by the lab"
                ));
            }
            None => return Err(format!("`{word}` ends with a lone `%`")),
        }
    }
    Ok(out)
}

/// Parse an `EnvironmentFile=` file: `NAME=value` lines, `#` comments,
/// optional quotes around the value.
pub fn parse_environment_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with(['#', ';']))
        .filter_map(|line| {
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (name, value) = line.split_once('=')?;
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            Some((name.trim().to_string(), unquoted.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::time::Duration;

    use super::{
        KillMode, ServiceType, expand_specifiers, expand_variables, parse, parse_seconds,
        split_words,
    };

    const GUNICORN_UNIT: &str = r#"
[Unit]
Description=Gunicorn for the Stats Page
After=network.target

[Service]
Type=notify
User=wwdtm
Group=www-data
WorkingDirectory=/opt/wwdtm/stats
Environment="PATH=/opt/wwdtm/stats/venv/bin" APP_ENV=production
ExecStart=/opt/wwdtm/stats/venv/bin/gunicorn \
    --config gunicorn.conf.py "app:create_app()"
ExecReload=/bin/kill -s HUP $MAINPID
KillMode=mixed
TimeoutStopSec=5

[Install]
WantedBy=multi-user.target
"#;

    #[test]
    fn parse_reads_gunicorn_unit() {
        let unit = parse(
            "gunicorn-wwdtmstats.service",
            Path::new("/x"),
            GUNICORN_UNIT,
        )
        .unwrap();
        assert_eq!(unit.service_type, ServiceType::Notify);
        assert_eq!(unit.user.as_deref(), Some("wwdtm"));
        assert_eq!(unit.group.as_deref(), Some("www-data"));
        assert_eq!(unit.working_directory.as_deref(), Some("/opt/wwdtm/stats"));
        assert_eq!(
            unit.environment,
            vec![
                ("PATH".to_string(), "/opt/wwdtm/stats/venv/bin".to_string()),
                ("APP_ENV".to_string(), "production".to_string())
            ]
        );

        assert_eq!(
            unit.exec_start[0].argv,
            vec![
                "/opt/wwdtm/stats/venv/bin/gunicorn",
                "--config",
                "gunicorn.conf.py",
                "app:create_app()"
            ]
        );
        assert_eq!(
            unit.exec_reload[0].argv,
            vec!["/bin/kill", "-s", "HUP", "$MAINPID"]
        );

        assert_eq!(unit.kill_mode, KillMode::Mixed);
        assert_eq!(unit.timeout_stop, Duration::from_secs(5));
        assert_eq!(unit.wanted_by, vec!["multi-user.target"]);
    }

    #[test]
    fn parse_rejects_missing_exec_start() {
        let error = parse(
            "x.service",
            Path::new("/etc/systemd/system/x.service"),
            "[Service]\nUser=a\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("no `ExecStart=`"), "{error}");
    }

    #[test]
    fn parse_names_line_of_bad_setting() {
        let text = "[Service]\nExecStart=/bin/true\nType=dbus\n";
        let error = parse("x.service", Path::new("/u/x.service"), text).unwrap_err();
        assert_eq!(error.line, 3);
        assert!(error.to_string().starts_with("/u/x.service:3:"), "{error}");
    }

    #[test]
    fn exec_prefixes_are_recognized() {
        let unit = parse(
            "x.service",
            Path::new("/x"),
            "[Service]\nExecStart=-+/bin/false\n",
        )
        .unwrap();
        assert!(unit.exec_start[0].ignore_failure);
        assert!(unit.exec_start[0].privileged);
        assert_eq!(unit.exec_start[0].argv, vec!["/bin/false"]);
    }

    #[test]
    fn split_words_handles_quotes_and_escapes() {
        assert_eq!(
            split_words(r#"a "b c" 'd e' f\ g"#).unwrap(),
            vec!["a", "b c", "d e", "f g"]
        );
        assert!(split_words("\"open").is_err());
    }

    #[test]
    fn expand_variables_splits_bare_and_keeps_braced() {
        let environment = BTreeMap::from([("OPTS".to_string(), "-a -b".to_string())]);
        let argv = vec![
            "run".to_string(),
            "$OPTS".to_string(),
            "x=${OPTS}".to_string(),
        ];
        assert_eq!(
            expand_variables(&argv, &environment),
            vec!["run", "-a", "-b", "x=-a -b"]
        );
    }

    #[test]
    fn specifiers_expand_or_fail() {
        assert_eq!(
            expand_specifiers("%n/%N/%%", "app.service").unwrap(),
            "app.service/app/%"
        );
        assert!(expand_specifiers("%Z", "app.service").is_err());
    }

    #[test]
    fn time_spans_parse() {
        assert_eq!(parse_seconds("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_seconds("1min 30s").unwrap(), Duration::from_secs(90));
        assert!(parse_seconds("5 parsecs").is_err());
    }
}
