//! PLACEHOLDER: replaced by the extractor's implementation.

use super::{ExtractError, ExtractInput, ExtractResult, Extractor};

pub struct Apk;

impl Extractor for Apk {
    fn name(&self) -> &'static str {
        "apk"
    }
    fn wants(&self, _path: &str) -> bool {
        false
    }
    fn extract(&self, _input: &ExtractInput<'_>) -> ExtractResult {
        Err(ExtractError::new("not implemented"))
    }
}

