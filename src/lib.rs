//! wwctl: move a small web property on DigitalOcean from one server layout to another.

pub mod cli;
pub mod clock;
pub mod commands;
pub mod database;
pub mod diagnostic;
pub mod engine;
pub mod error;
pub mod inventory;
pub mod output;
pub mod render;
pub mod sandbox;
pub mod secret;
pub mod suggest;
pub mod yaml;
