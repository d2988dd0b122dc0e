//! The one place where an argument vector becomes a remote shell command.
//!
//! sshd hands the command string to the login shell, so every argument is
//! quoted for POSIX `sh`: arguments made only of safe characters stay as
//! they are, everything else goes in single quotes, with each `'` written
//! as `'\''`. No other code in wwctl builds shell text.

/// Characters that need no quoting in POSIX `sh`.
fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '@' | '%' | '+' | '=' | ':' | ',' | '.' | '/' | '-')
}

/// Quote one argument for POSIX `sh`.
pub fn quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(is_safe) {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Builds the shell command that runs `argv` exactly: each argument quoted,
/// joined by spaces.
pub fn shell_command<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|arg| quote(arg.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{quote, shell_command};

    #[test]
    fn safe_argument_stays_plain() {
        assert_eq!(quote("/etc/nginx/nginx.conf"), "/etc/nginx/nginx.conf");
    }

    #[test]
    fn unsafe_arguments_are_single_quoted() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(reboot)"), "'$(reboot)'");
        assert_eq!(shell_command(&["echo", "a;b", "*"]), "echo 'a;b' '*'");
    }

    /// Run the quoted command through the real `sh` and read back the
    /// arguments it received.
    fn round_trip(argv: &[String]) -> Vec<String> {
        let mut full = vec!["printf".to_string(), "%s\\0".to_string()];
        full.extend(argv.iter().cloned());
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(shell_command(&full))
            .output()
            .unwrap();
        assert!(output.status.success());
        let text = String::from_utf8(output.stdout).unwrap();
        let mut parts: Vec<String> = text.split('\0').map(str::to_string).collect();
        parts.pop();
        parts
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn sh_receives_arguments_unchanged(argv in proptest::collection::vec("[^\\x00]{0,12}", 1..6)) {
            prop_assert_eq!(round_trip(&argv), argv);
        }
    }
}
