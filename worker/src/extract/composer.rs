//! PLACEHOLDER: replaced by the extractor's implementation.

use super::{ExtractError, ExtractInput, ExtractResult, Extractor};

pub struct ComposerLock;

impl Extractor for ComposerLock {
    fn name(&self) -> &'static str {
        "composerlock"
    }
    fn wants(&self, _path: &str) -> bool {
        false
    }
    fn extract(&self, _input: &ExtractInput<'_>) -> ExtractResult {
        Err(ExtractError::new("not implemented"))
    }
}

