//! Images for xcompose: the content-addressed [`store`] (import, tag, list, resolve, remove with
//! Docker's Untagged/Deleted semantics, prune), loading and saving image archives (`docker save`
//! and OCI image layouts), pulling (layers unpacked as they download), image [`reference`]s, and [`unpack`]ing a layer tar into a directory
//! overlayfs can stack without any entry being able to write outside it.

mod blob;
mod built;
mod commit;
mod healthcheck;
mod index;
mod index_memo;
mod ingest;
mod load;
pub mod reference;
mod remove;
mod save;
pub mod shift;
pub mod store;
pub mod unpack;
mod writeback;

pub use built::{LayerWriter, StoredLayer};
pub use healthcheck::ImageHealthcheck;
pub use ingest::{ExpectedLayer, IngestedLayer, LayerIngest, PendingChunk, PullStaging, PulledImage};
pub use load::LoadEvent;
pub use reference::Reference;
pub use remove::Pruned;
pub use shift::IdShift;
pub use store::{Image, ImageStore, ImageSummary, Removed, StoreError};
pub use unpack::{unpack_layer, UnpackError};
