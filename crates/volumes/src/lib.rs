//! Named volumes for xcompose, as Docker's `local` driver keeps them, in the state root:
//!
//! ```text
//! volumes/
//!   .lock                 flock serialising every change to the store
//!   NAME/volume.json      the volume's record (name, driver, labels, options, created, mountpoint)
//!   NAME/_data            its content (unless the bind options point the volume elsewhere)
//! ```
//!
//! A volume appears and disappears atomically (it is made in a temporary sibling directory and
//! renamed into place; removal renames it out of the way before deleting it), and its record is
//! only ever replaced whole. [`VolumeStore::seed`] copies an image's content into a new volume the
//! first time it is mounted, as Docker does.

mod copy;
mod error;
mod name;
mod options;
mod record;
mod store;
mod usage;

pub use error::VolumeError;
pub use name::{random_name, validate_name};
pub use options::check as check_options;
pub use record::Volume;
pub use store::{Pruned, VolumeStore, ANONYMOUS_LABEL};
