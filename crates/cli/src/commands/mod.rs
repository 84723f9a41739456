//! One module per `xcompose` command.

pub mod config;
pub mod image;
