//! Image layers: a layer tar (plain or gzip) unpacked into a directory that overlayfs can stack,
//! without any entry being able to write outside that directory.

pub mod unpack;

pub use unpack::{unpack_layer, UnpackError};
