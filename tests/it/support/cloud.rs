//! The shared test sandbox: an API-only emulator with Prism in front,
//! started by `scripts/sandbox-test-env start`, found through environment
//! variables.
//!
//! - `WWCTL_TEST_PRISM_URL`: Prism, validating every request and response
//!   against the DigitalOcean spec, in front of the emulator.
//! - `WWCTL_TEST_EMULATOR_URL`: the emulator itself, for `/_sandbox/` calls.
//! - `WWCTL_TEST_DNS`: the emulator's DNS server, `ADDRESS:PORT`.
//!
//! Without them a test prints a `skipped:` line and passes, unless
//! `WWCTL_REQUIRE_SANDBOX=1` makes it fail.

use std::net::SocketAddr;

use serde_json::Value;

use crate::support::api::{Api, fast_settings, new_token};

pub const PRISM_URL: &str = "WWCTL_TEST_PRISM_URL";
pub const EMULATOR_URL: &str = "WWCTL_TEST_EMULATOR_URL";
pub const DNS: &str = "WWCTL_TEST_DNS";
pub const REQUIRE: &str = "WWCTL_REQUIRE_SANDBOX";

pub struct TestCloud {
    pub prism_url: String,
    pub emulator_url: String,
    pub dns: SocketAddr,
}

/// One test's account, reachable through Prism and directly.
pub struct Account {
    pub token: String,
    /// The API through Prism; every reply is checked against the spec.
    pub api: Api,
    /// The emulator directly, for the admin API and for requests that Prism
    /// would reject before they reach the emulator.
    pub direct: Api,
}

impl TestCloud {
    /// Find the shared sandbox, or print why the test is skipped and return
    /// `None`.
    pub fn from_env(test: &str) -> Option<Self> {
        let read = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let (Some(prism_url), Some(emulator_url), Some(dns)) =
            (read(PRISM_URL), read(EMULATOR_URL), read(DNS))
        else {
            let reason = format!(
                "{test} needs the sandbox behind Prism, and {PRISM_URL}, {EMULATOR_URL} and \
                 {DNS} are not set; run scripts/test, or \
                 `eval \"$(scripts/sandbox-test-env start)\"` first"
            );
            assert!(
                read(REQUIRE).as_deref() != Some("1"),
                "{reason} ({REQUIRE}=1)"
            );
            eprintln!("skipped: {reason}");
            return None;
        };
        let dns = dns
            .parse()
            .unwrap_or_else(|_| panic!("{DNS}=`{dns}` is not ADDRESS:PORT"));
        Some(Self {
            prism_url,
            emulator_url,
            dns,
        })
    }

    /// Open a new account with fast timings.
    pub async fn account(&self, label: &str) -> Account {
        self.account_with(label, fast_settings()).await
    }

    /// Open a new account with the given admin settings.
    pub async fn account_with(&self, label: &str, settings: Value) -> Account {
        let token = new_token(label);
        let account = Account {
            api: Api::new(&self.prism_url, &token, true),
            direct: Api::new(&self.emulator_url, &token, false),
            token,
        };
        account
            .direct
            .put("/_sandbox/settings", settings)
            .await
            .expect(200);
        account
    }
}
