//! Images for xcompose: the content-addressed [`store`] (import, tag, list, resolve, remove with
//! Docker's Untagged/Deleted semantics), image [`reference`]s, and [`unpack`]ing a layer tar into a
//! directory overlayfs can stack without any entry being able to write outside it.

pub mod reference;
pub mod store;
pub mod unpack;

pub use reference::Reference;
pub use store::{Image, ImageStore, ImageSummary, Removed, StoreError};
pub use unpack::{unpack_layer, UnpackError};
