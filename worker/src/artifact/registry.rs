//! OCI distribution API client.

use super::image::{ImageFacts, Platform};
use super::{FileSet, Progress};
use crate::{Error, Result};

#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {}

pub fn read_image(
    target: &str,
    _platform: &Platform,
    _opts: &RegistryOptions,
    _files: &mut FileSet<'_>,
    _progress: &dyn Progress,
) -> Result<ImageFacts> {
    Err(Error::Unsupported(format!("{target}: registry")))
}
