//! The integration tests' harness: the shared sandbox behind Prism, private
//! emulator processes, and a DNS client. Each test uses the parts it needs.
#![allow(dead_code)]

pub mod api;
pub mod cloud;
pub mod dns;
pub mod emulator;
