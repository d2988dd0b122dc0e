//! The stand-in apps' files, embedded in the binary so `sandbox up` can
//! publish them without the source tree (`lab/apps/`).

/// One stand-in app and the files of its repository.
pub struct StandInApp {
    /// The short name used by the inventory (`stats`).
    pub name: &'static str,
    /// The repository name the git daemon serves (`stats.wwdt.me`).
    pub repository: &'static str,
    pub files: &'static [(&'static str, &'static str)],
}

const FLASK_REQUIREMENTS: &str = include_str!("../../../lab/apps/stats/requirements.txt");
const CONFIG_EXAMPLE: &str = include_str!("../../../lab/apps/stats/config.json.dist");

pub const STAND_IN_APPS: &[StandInApp] = &[
    StandInApp {
        name: "stats",
        repository: "stats.wwdt.me",
        files: &[
            (
                "app/__init__.py",
                include_str!("../../../lab/apps/stats/app/__init__.py"),
            ),
            ("requirements.txt", FLASK_REQUIREMENTS),
            ("config.json.dist", CONFIG_EXAMPLE),
        ],
    },
    StandInApp {
        name: "api",
        repository: "api.wwdt.me",
        files: &[
            (
                "app/__init__.py",
                include_str!("../../../lab/apps/api/app/__init__.py"),
            ),
            (
                "app/main.py",
                include_str!("../../../lab/apps/api/app/main.py"),
            ),
            (
                "requirements.txt",
                include_str!("../../../lab/apps/api/requirements.txt"),
            ),
            (
                "config.json.dist",
                include_str!("../../../lab/apps/api/config.json.dist"),
            ),
        ],
    },
    StandInApp {
        name: "graphs",
        repository: "graphs.wwdt.me",
        files: &[
            (
                "app/__init__.py",
                include_str!("../../../lab/apps/graphs/app/__init__.py"),
            ),
            (
                "requirements.txt",
                include_str!("../../../lab/apps/graphs/requirements.txt"),
            ),
            (
                "config.json.dist",
                include_str!("../../../lab/apps/graphs/config.json.dist"),
            ),
        ],
    },
    StandInApp {
        name: "reports",
        repository: "reports.wwdt.me",
        files: &[
            (
                "app/__init__.py",
                include_str!("../../../lab/apps/reports/app/__init__.py"),
            ),
            (
                "requirements.txt",
                include_str!("../../../lab/apps/reports/requirements.txt"),
            ),
            (
                "config.json.dist",
                include_str!("../../../lab/apps/reports/config.json.dist"),
            ),
        ],
    },
];

/// Find an app by short name (`stats`) or repository name
/// (`stats.wwdt.me`, with or without `.git`).
pub fn find(name: &str) -> Option<&'static StandInApp> {
    let name = name.strip_suffix(".git").unwrap_or(name);
    STAND_IN_APPS
        .iter()
        .find(|app| app.name == name || app.repository == name)
}
