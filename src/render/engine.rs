//! The minijinja environment: the templates compiled into the binary, strict
//! undefined values, no HTML escaping, and one quoting filter per target
//! syntax so inventory values cannot break a file's structure.

use std::fmt;
use std::sync::{Arc, OnceLock};

use minijinja::value::{Object, Value};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

use crate::render::error::RenderError;
use crate::secret::Secret;

const TEMPLATES: [(&str, &str); 8] = [
    (
        "nginx/nginx.conf.j2",
        include_str!("../../templates/nginx/nginx.conf.j2"),
    ),
    (
        "nginx/site-edge.conf.j2",
        include_str!("../../templates/nginx/site-edge.conf.j2"),
    ),
    (
        "nginx/site-backend.conf.j2",
        include_str!("../../templates/nginx/site-backend.conf.j2"),
    ),
    (
        "mysql/wwdtm.cnf.j2",
        include_str!("../../templates/mysql/wwdtm.cnf.j2"),
    ),
    (
        "app/gunicorn.conf.py.j2",
        include_str!("../../templates/app/gunicorn.conf.py.j2"),
    ),
    (
        "app/service.j2",
        include_str!("../../templates/app/service.j2"),
    ),
    (
        "app/config.json.j2",
        include_str!("../../templates/app/config.json.j2"),
    ),
    (
        "cloud-init/user-data.yaml.j2",
        include_str!("../../templates/cloud-init/user-data.yaml.j2"),
    ),
];

/// A secret inside a template context. It renders as `[redacted]`, and only
/// the `secret_json` filter writes the value itself, so a secret reaches a
/// file only where a template names that filter.
#[derive(Debug)]
pub struct SecretValue(pub Secret);

impl Object for SecretValue {
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::REDACTED)
    }
}

impl SecretValue {
    pub fn value(secret: &Secret) -> Value {
        Value::from_object(SecretValue(secret.clone()))
    }
}

/// Renders template `name` with `context`.
pub fn render(name: &str, context: impl serde::Serialize) -> Result<String, RenderError> {
    let env = environment().as_ref().map_err(|broken| broken.clone())?;
    let template = env.get_template(name)?;
    Ok(template.render(minijinja::value::Serde(context))?)
}

/// A template that failed to compile, kept so every render reports it.
#[derive(Clone, Debug)]
struct BrokenTemplate {
    name: String,
    message: String,
}

impl From<BrokenTemplate> for RenderError {
    fn from(broken: BrokenTemplate) -> Self {
        RenderError::Template {
            name: broken.name,
            message: broken.message,
        }
    }
}

fn environment() -> &'static Result<Environment<'static>, BrokenTemplate> {
    static ENVIRONMENT: OnceLock<Result<Environment<'static>, BrokenTemplate>> = OnceLock::new();
    ENVIRONMENT.get_or_init(build_environment)
}

fn build_environment() -> Result<Environment<'static>, BrokenTemplate> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|error| BrokenTemplate {
            name: "(syntax settings)".to_string(),
            message: error.to_string(),
        })?;
    env.set_syntax(syntax);

    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .map_err(|error| BrokenTemplate {
                name: name.to_string(),
                message: error.to_string(),
            })?;
    }

    env.add_filter("json", json);
    env.add_filter("secret_json", secret_json);
    env.add_filter("nginx_quote", nginx_quote);
    env.add_filter("systemd_arg", systemd_arg);
    Ok(env)
}

/// Writes a value as JSON, which is also a valid YAML flow value and, for
/// strings and numbers, a valid Python literal.
fn json(value: Value) -> Result<Value, minijinja::Error> {
    if value.downcast_object_ref::<SecretValue>().is_some() {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "use `secret_json` to write a secret",
        ));
    }
    let text = serde_json::to_string(&value)
        .map_err(|error| minijinja::Error::new(ErrorKind::BadSerialization, error.to_string()))?;
    Ok(Value::from_safe_string(text))
}

/// Writes a secret's value as a JSON string.
fn secret_json(value: Value) -> Result<Value, minijinja::Error> {
    let Some(secret) = value.downcast_object_ref::<SecretValue>() else {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "`secret_json` takes a secret value",
        ));
    };
    let text = serde_json::to_string(secret.0.expose())
        .map_err(|error| minijinja::Error::new(ErrorKind::BadSerialization, error.to_string()))?;
    Ok(Value::from_safe_string(text))
}

/// Quotes an NGINX argument: bare when it is made of safe characters,
/// otherwise in double quotes with `\` and `"` escaped. NGINX turns `\\`
/// back into `\`, so regular expressions keep their backslashes.
pub fn nginx_quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/:=-+,@%~".contains(c));
    if safe {
        return value.to_string();
    }
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// Quotes a systemd command-line word: `%` and `$` doubled so systemd
/// expands no specifier or variable, and quoted when it has spaces or quotes.
pub fn systemd_arg(value: &str) -> String {
    let literal = value.replace('%', "%%").replace('$', "$$");
    let needs_quotes = literal.is_empty()
        || literal
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'));
    if !needs_quotes {
        return literal;
    }
    let escaped = literal.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use minijinja::context;

    use super::{SecretValue, build_environment, nginx_quote, systemd_arg};
    use crate::secret::Secret;

    #[test]
    fn secret_renders_only_through_secret_json() {
        let env = build_environment().unwrap();
        let secret = SecretValue::value(&Secret::new("hunter2"));

        let plain = env
            .render_str("{{ s }}", context! { s => secret.clone() })
            .unwrap();
        let quoted = env
            .render_str("{{ s | secret_json }}", context! { s => secret.clone() })
            .unwrap();
        let json = env.render_str("{{ s | json }}", context! { s => secret });

        assert_eq!(plain, "[redacted]");
        assert_eq!(quoted, "\"hunter2\"");
        assert!(json.is_err());
    }

    #[test]
    fn nginx_quote_leaves_paths_bare() {
        assert_eq!(nginx_quote("/health"), "/health");
        assert_eq!(nginx_quote("^/a(/|$)"), "\"^/a(/|$)\"");
        assert_eq!(nginx_quote(r#"a\d"b"#), r#""a\\d\"b""#);
        assert_eq!(nginx_quote(""), "\"\"");
    }

    #[test]
    fn systemd_arg_escapes_specifiers() {
        assert_eq!(systemd_arg("app:create_app()"), "app:create_app()");
        assert_eq!(systemd_arg("100%"), "100%%");
        assert_eq!(systemd_arg("a b"), "\"a b\"");
    }
}
