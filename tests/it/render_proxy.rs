//! The all-in-one configuration at work: the real NGINX and Gunicorn, run
//! with the rendered files in a private network namespace (so ports 80 and
//! 443 are free and nothing leaves loopback), with a stand-in app on the
//! Stats Page's socket. Checks caching, the no-cache routes, responses that
//! set cookies, the redirects and the health locations.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use wwctl::render;

use crate::render_support::{prepare_prefix, render_host, require_program, shipped_inventory};

/// A WSGI app that returns the request's host, path and forwarding headers
/// with a fresh random token, so a cached response repeats its token.
const STAND_IN_APP: &str = r#"
import uuid

def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    headers = [("Content-Type", "text/plain")]
    if path == "/login":
        headers.append(("Set-Cookie", "session=s3cr3t; Path=/; HttpOnly"))
    body = "{} {} {} {} {}\n".format(
        environ.get("HTTP_HOST"),
        path,
        environ.get("HTTP_X_FORWARDED_PROTO"),
        environ.get("HTTP_X_REAL_IP"),
        uuid.uuid4().hex,
    )
    start_response("200 OK", headers)
    return [body.encode()]
"#;

/// Starts Gunicorn with the rendered settings and NGINX with the rendered
/// configuration, waits for both, then makes the requests. Each request
/// prints `=== name`, the body, and `--- status {headers as JSON}`.
const SCRIPT: &str = r#"
set -u
P="$1"
ip link set lo up
cd "$P/app"
gunicorn --config "$P/opt/wwdtm/stats/gunicorn.conf.py" standin:app &
nginx -p "$P/" -c "$P/etc/nginx/nginx.conf" -g 'daemon off;' &
for attempt in $(seq 1 100); do
    if [ -S "$P/tmp/gunicorn-wwdtmstats.sock" ] && curl -s http://127.0.0.1/nginx-health >/dev/null; then
        break
    fi
    sleep 0.1
done

request() {
    name="$1"; shift
    echo "=== $name"
    curl -s --max-time 5 \
        --resolve stats.wwdt.me:443:127.0.0.1 --resolve stats.wwdt.me:80:127.0.0.1 \
        --resolve wwdt.me:443:127.0.0.1 --resolve other.example:443:127.0.0.1 \
        -w '\n--- %{http_code} %{header_json}\n' "$@"
}

STATS="--cacert $P/etc/ssl/wwdtm/stats.wwdt.me.crt"
request page-1 $STATS https://stats.wwdt.me/shows/count
request page-2 $STATS https://stats.wwdt.me/shows/count
request random-1 $STATS https://stats.wwdt.me/shows/random
request random-2 $STATS https://stats.wwdt.me/shows/random
request cookie-1 $STATS https://stats.wwdt.me/login
request cookie-2 $STATS https://stats.wwdt.me/login
request session $STATS -H 'Cookie: session=abc' https://stats.wwdt.me/shows/count
request health-1 $STATS https://stats.wwdt.me/health
request health-2 $STATS https://stats.wwdt.me/health
request plain-http http://stats.wwdt.me/shows?year=2020
request alias --cacert "$P/etc/ssl/wwdtm/wwdt.me.crt" https://wwdt.me/shows
request nginx-health http://127.0.0.1/nginx-health
request unknown-name -k https://other.example/
"#;

/// One response: its status, body and headers (every value of each).
#[derive(Debug)]
struct Response {
    body: String,
    status: String,
    headers: serde_json::Value,
}

impl Response {
    /// Returns all values of header `name`, joined with `, ` as HTTP combines them.
    fn header(&self, name: &str) -> String {
        self.headers[name]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .filter_map(|value| value.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    }
}

fn parse_responses(output: &str) -> BTreeMap<String, Response> {
    let mut responses = BTreeMap::new();
    for section in output.split("=== ").skip(1) {
        let (name, rest) = section.split_once('\n').unwrap_or((section, ""));
        let (body, fields) = match rest.rsplit_once("\n--- ") {
            Some(split) => split,
            None => ("", rest.trim_start_matches("--- ")),
        };
        let (status, headers) = fields.split_once(' ').unwrap_or((fields.trim(), "{}"));
        responses.insert(
            name.to_string(),
            Response {
                body: body.to_string(),
                status: status.to_string(),
                headers: serde_json::from_str(headers.trim()).unwrap_or_default(),
            },
        );
    }
    responses
}

#[test]
fn all_in_one_serves_and_caches() {
    for program in ["unshare", "ip", "curl", "gunicorn", "nginx", "timeout"] {
        require_program(program);
    }
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2023", "prod-2023");
    let directories = render::host_directories(&inventory, "2023", "prod-2023").unwrap();
    let paths: Vec<&str> = directories.iter().map(|d| d.path.as_str()).collect();
    let prefix = prepare_prefix(&files, &paths);
    // NGINX's workers run as www-data and must reach the socket and caches.
    fs::set_permissions(prefix.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir_all(prefix.path().join("app")).unwrap();
    fs::write(prefix.path().join("app/standin.py"), STAND_IN_APP).unwrap();
    fs::write(prefix.path().join("run.sh"), SCRIPT).unwrap();

    let output = Command::new("timeout")
        .args([
            "60",
            "unshare",
            "--net",
            "--pid",
            "--mount",
            "--fork",
            "--kill-child",
            "--mount-proc",
        ])
        .arg("bash")
        .arg(prefix.path().join("run.sh"))
        .arg(prefix.path())
        .output()
        .expect("run the proxy script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let log = fs::read_to_string(prefix.path().join("var/log/nginx/error.log")).unwrap_or_default();
    let context = format!(
        "{stdout}\nstderr:\n{}\nNGINX log:\n{log}",
        String::from_utf8_lossy(&output.stderr)
    );
    let responses = parse_responses(&stdout);
    let get = |name: &str| {
        responses
            .get(name)
            .unwrap_or_else(|| panic!("no response `{name}`:\n{context}"))
    };

    let (first, second) = (get("page-1"), get("page-2"));
    assert_eq!(first.status, "200", "{context}");
    assert_eq!(first.header("x-cache-status"), "MISS", "{context}");
    assert_eq!(second.header("x-cache-status"), "HIT", "{context}");
    assert_eq!(first.body, second.body, "a cached page repeats its token");
    assert!(
        first
            .body
            .starts_with("stats.wwdt.me /shows/count https 127.0.0.1 "),
        "forwarding headers: {}",
        first.body
    );

    let (first, second) = (get("random-1"), get("random-2"));
    assert_eq!(first.status, "200", "{context}");
    assert_ne!(first.body, second.body, "a random page is never cached");
    assert_eq!(
        first.header("x-cache-status"),
        "",
        "no cache lookup on a no-cache route"
    );
    assert_eq!(
        first.header("cache-control"),
        "max-age=0, no-store, no-cache",
        "{first:?}"
    );
    assert!(!first.header("expires").is_empty(), "{first:?}");

    let (first, second) = (get("cookie-1"), get("cookie-2"));
    assert_eq!(first.status, "200", "{context}");
    assert_ne!(
        first.body, second.body,
        "a response that sets a cookie is never cached"
    );
    assert_eq!(second.header("x-cache-status"), "MISS");
    assert_eq!(
        second.header("set-cookie"),
        "session=s3cr3t; Path=/; HttpOnly"
    );

    assert_eq!(get("session").header("x-cache-status"), "BYPASS");
    assert_ne!(
        get("health-1").body,
        get("health-2").body,
        "the app health check is not cached"
    );

    let plain = get("plain-http");
    assert_eq!(plain.status, "301");
    assert_eq!(
        plain.header("location"),
        "https://stats.wwdt.me/shows?year=2020"
    );
    let alias = get("alias");
    assert_eq!(alias.status, "301", "{context}");
    assert_eq!(alias.header("location"), "https://stats.wwdt.me/shows");

    let health = get("nginx-health");
    assert_eq!(
        (health.status.as_str(), health.body.as_str()),
        ("200", "ok\n")
    );
    assert_eq!(
        get("unknown-name").status,
        "000",
        "the TLS handshake is rejected"
    );
}
