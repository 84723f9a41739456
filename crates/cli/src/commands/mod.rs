//! One module per `xcompose` command.

pub mod attach;
pub mod build;
pub mod config;
pub mod control;
pub mod down;
pub mod dry_run;
pub mod events;
pub mod exec;
pub mod image;
pub mod image_change;
pub mod lifecycle;
pub mod login;
pub mod logs;
pub mod progress;
pub mod project;
pub mod ps;
pub mod pull;
pub mod run;
pub mod stats;
pub mod terminal;
pub mod timestamp;
pub mod up;
pub mod volume;
pub mod watch;
