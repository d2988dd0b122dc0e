//! wwctl: move a small web property on DigitalOcean from one server layout to another.

pub mod cli;
pub mod clock;
pub mod cloud;
pub mod commands;
pub mod database;
pub mod diagnostic;
pub mod dns_query;
pub mod engine;
pub mod error;
pub mod fsutil;
pub mod health;
pub mod http;
pub mod inventory;
pub mod output;
pub mod playbook;
pub mod remote;
pub mod render;
pub mod resources;
pub mod sandbox;
pub mod secret;
pub mod state;
pub mod steps;
pub mod suggest;
pub mod teardown;
pub mod yaml;
