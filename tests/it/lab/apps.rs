use std::net::Ipv4Addr;

use super::harness::{self, TestLab};
use super::systemctl::write_file;

/// (short name, repository, Gunicorn entry point, worker class, database page)
const APPS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "stats",
        "stats.wwdt.me",
        "app:create_app()",
        "sync",
        "/shows/count",
    ),
    (
        "api",
        "api.wwdt.me",
        "app.main:app",
        "uvicorn.workers.UvicornWorker",
        "/v2.0/shows/count",
    ),
    (
        "graphs",
        "graphs.wwdt.me",
        "app:create_app()",
        "sync",
        "/shows/count",
    ),
    (
        "reports",
        "reports.wwdt.me",
        "app:create_app()",
        "sync",
        "/shows/count",
    ),
];

const CONFIG: &str = r#"{"database": {"host": "localhost", "port": 3306, "user": "wwdtm", "password": "lab-password", "database": "wwdtm", "unix_socket": "/run/mysqld/mysqld.sock"}}"#;

const DATABASE: &str = "CREATE DATABASE wwdtm; \
    CREATE TABLE wwdtm.ww_shows (showid INT PRIMARY KEY, showdate DATE NOT NULL); \
    INSERT INTO wwdtm.ww_shows VALUES (1, '2018-01-06'), (2, '2022-12-31'), (3, '2023-06-24'); \
    GRANT SELECT ON wwdtm.* TO wwdtm@localhost;";

fn install(lab: &TestLab, app: &str, repository: &str, entry: &str, worker: &str) {
    let checkout = format!(
        "set -e
git clone -q git://10.77.0.1/{repository}.git /opt/wwdtm/{app}
cd /opt/wwdtm/{app}
python3 -m venv --system-site-packages venv
venv/bin/python -m pip install --no-input -r requirements.txt > /tmp/pip-{app}.log 2>&1
! grep -q Downloading /tmp/pip-{app}.log
{config}",
        config = write_file("config.json", CONFIG)
    );
    lab.exec_ok("apps", &checkout);

    let unit = format!(
        "[Service]
Type=notify
User=wwdtm
Group=www-data
WorkingDirectory=/opt/wwdtm/{app}
ExecStart=/opt/wwdtm/{app}/venv/bin/python -m gunicorn --workers 2 --worker-class {worker} --bind unix:/tmp/gunicorn-wwdtm{app}.sock {entry}

[Install]
WantedBy=multi-user.target"
    );
    let path = format!("/etc/systemd/system/gunicorn-wwdtm{app}.service");
    lab.exec_ok("apps", &write_file(&path, &unit));
    lab.exec_ok(
        "apps",
        &format!("systemctl enable --now gunicorn-wwdtm{app}"),
    );
}

/// GET `path` from an app's socket; returns (status code, body).
fn get(lab: &TestLab, app: &str, path: &str) -> (String, String) {
    let out = lab.exec_ok(
        "apps",
        &format!(
            "curl -s -D /tmp/headers -o /tmp/body -w '%{{http_code}}' \
             --unix-socket /tmp/gunicorn-wwdtm{app}.sock http://localhost{path}; echo; cat /tmp/body"
        ),
    );
    let (code, body) = out.split_once('\n').unwrap_or((&out, ""));
    (code.to_string(), body.to_string())
}

#[test]
fn stand_in_apps_answer_from_database() {
    let Some(lab) = harness::start("stand_in_apps_answer_from_database") else {
        return;
    };
    lab.boot(5001, "apps", Ipv4Addr::new(10, 77, 5, 1), None);
    lab.exec_ok(
        "apps",
        "useradd --system --home-dir /opt/wwdtm wwdtm && mkdir -p /opt/wwdtm && \
         mariadb -e \"CREATE USER wwdtm@localhost IDENTIFIED BY 'lab-password'\"",
    );
    for (app, repository, entry, worker, _) in APPS {
        install(&lab, app, repository, entry, worker);
    }

    for (app, _, _, _, page) in APPS {
        assert_eq!(
            get(&lab, app, "/health"),
            ("200".to_string(), "ok\n".to_string()),
            "{app}"
        );
        let (code, body) = get(&lab, app, page);
        assert_eq!(code, "500", "{app} without its database: {body}");
        let (code, body) = get(&lab, app, "/version");
        assert_eq!(code, "200");
        assert_eq!(body, "branch: main\nversion: 1.0.0\n", "{app}");
    }

    lab.exec_ok("apps", &format!("mariadb -e \"{DATABASE}\""));
    for (app, _, _, _, page) in APPS {
        let (code, body) = get(&lab, app, page);
        assert_eq!(code, "200", "{app}: {body}");
        assert!(body.contains("shows: 3"), "{app}: {body}");
        assert!(body.contains("latest: 2023-06-24"), "{app}: {body}");
    }

    let (_, first) = get(&lab, "stats", "/shows/random");
    let (_, second) = get(&lab, "stats", "/shows/random");
    assert!(first.starts_with("shows: "), "{first}");
    assert_ne!(first, second, "a random page returned the same value twice");
    assert_eq!(get(&lab, "stats", "/guests/random").0, "200");
    get(&lab, "stats", "/login");
    let headers = lab.exec_ok("apps", "cat /tmp/headers");
    assert!(
        headers.to_lowercase().contains("set-cookie: session="),
        "{headers}"
    );
}

#[test]
fn published_branches_and_new_commits() {
    let Some(lab) = harness::start("published_branches_and_new_commits") else {
        return;
    };
    lab.boot(5002, "git-host", Ipv4Addr::new(10, 77, 5, 2), None);
    let url = lab.lab.git_url("stats").unwrap();
    assert_eq!(url, "git://10.77.0.1/stats.wwdt.me.git");

    let develop = lab.exec_ok(
        "git-host",
        &format!("git clone -q -b develop {url} /srv/stats && cat /srv/stats/version.json"),
    );
    assert!(develop.contains("\"branch\": \"develop\""), "{develop}");
    let main_id = lab.exec_ok("git-host", "git -C /srv/stats rev-parse origin/main");
    let develop_id = lab.exec_ok("git-host", "git -C /srv/stats rev-parse HEAD");
    assert_ne!(main_id, develop_id);

    let commit = lab.lab.add_commit("stats", "develop", "1.1.1").unwrap();
    let pulled = lab.exec_ok(
        "git-host",
        "git -C /srv/stats pull -q && git -C /srv/stats rev-parse HEAD && cat /srv/stats/version.json",
    );
    assert!(
        pulled.starts_with(&commit),
        "{pulled} should start with {commit}"
    );
    assert!(pulled.contains("\"version\": \"1.1.1\""), "{pulled}");
    assert!(lab.lab.add_commit("nosuch", "develop", "1").is_err());
}
