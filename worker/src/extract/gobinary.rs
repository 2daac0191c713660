//! PLACEHOLDER: replaced by the extractor's implementation.

use super::{ExtractError, ExtractInput, ExtractResult, Extractor};

pub struct GoBinary;

impl Extractor for GoBinary {
    fn name(&self) -> &'static str {
        "gobinary"
    }
    fn wants(&self, _path: &str) -> bool {
        false
    }
    fn extract(&self, _input: &ExtractInput<'_>) -> ExtractResult {
        Err(ExtractError::new("not implemented"))
    }
}

/// Scans an executable for Go build information.
pub fn probe<R: std::io::Read>(_r: R, _limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    Ok(None)
}
