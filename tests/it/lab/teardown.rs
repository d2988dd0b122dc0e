use std::fs;
use std::net::Ipv4Addr;
use std::process::Command;

use super::harness;

fn stdout(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Processes whose command line mentions `needle`, other than this test.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|entry| entry.file_name().to_string_lossy() != me)
        .filter_map(|entry| fs::read(entry.path().join("cmdline")).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(needle))
        .collect()
}

#[test]
fn down_removes_every_namespace_link_mount_and_process() {
    let Some(lab) = harness::start("down_removes_every_namespace_link_mount_and_process") else {
        return;
    };
    lab.boot(8001, "down-a", Ipv4Addr::new(10, 77, 8, 1), None);
    lab.boot(8002, "down-b", Ipv4Addr::new(10, 77, 8, 2), None);
    lab.exec_ok("down-a", "nohup sleep 600 >/dev/null 2>&1 &");
    // Leftovers of a crash: a namespace and a link the records do not know.
    let netns = Command::new("ip")
        .args(["netns", "add", "wwlab-999"])
        .status()
        .unwrap();
    assert!(netns.success());
    let link = Command::new("ip")
        .args([
            "link",
            "add",
            "wwlab-9-99",
            "type",
            "veth",
            "peer",
            "name",
            "wwlab-9-98",
        ])
        .status()
        .unwrap();
    assert!(link.success());
    let dir = lab.lab.dir().to_path_buf();
    let dir_text = dir.display().to_string();
    assert!(!processes_mentioning(&dir_text).is_empty());

    // A second lab must not start over the running one.
    let config = wwctl::sandbox::lab::LabConfig {
        dir: dir.clone(),
        binary: env!("CARGO_BIN_EXE_wwctl").into(),
    };
    let refused = wwctl::sandbox::lab::Lab::up(&config).unwrap_err();
    assert!(
        format!("{refused:#}").contains("a lab is already running"),
        "{refused:#}"
    );
    assert!(
        dir.join("hosts/8001/host.json").exists(),
        "the refused start touched the hosts"
    );

    let report = lab.lab.down().unwrap();
    assert_eq!(report.hosts, 2);
    assert_eq!(report.namespaces, 1);
    assert!(report.folder_removed);

    assert!(!stdout("ip", &["netns", "list"]).contains("wwlab"));
    assert!(!stdout("ip", &["link", "show"]).contains("wwlab"));
    let mounts = fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains("wwlab"), "{mounts}");
    assert!(!mounts.contains(&dir_text), "{mounts}");
    assert_eq!(processes_mentioning(&dir_text), Vec::<String>::new());
    assert_eq!(processes_mentioning("sleep 600"), Vec::<String>::new());
    assert!(!dir.exists());

    // A second run finds nothing and succeeds.
    assert_eq!(lab.lab.down().unwrap().hosts, 0);
}
