//! One module per command: arguments in, exit code out.

pub mod hosts;
pub mod inventory_check;
pub mod migrate;
pub mod playbook_run;
pub mod provision;
pub mod rollback;
pub mod status;
pub mod teardown;
pub mod unlock;
